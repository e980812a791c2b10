#!/usr/bin/env bash
# Runs the stress scenarios of bench/loadgen (stress.go) against this Caddy
# module at full size, each against a fresh Caddy pinned to CPU 0 with the
# load generator on CPU 1, as bench/compare.sh does; not part of the test
# command (its smoke run is TestStressScenariosRunAgainstTheNodeReference).
#
#   bench/stress.sh                       # stalled, cycles, slow, reload at full size
#   bench/stress.sh --scenarios stalled --out DIR
#   bench/stress.sh --scenarios stalled --events 900   # three times as long: RSS must not grow with it
#   bench/stress.sh --scenarios cycles --args "-n 30000"  # extra loadgen flags (the last of a flag wins)
#
# Sizes fit a machine with 20,000 open files per process and 2 cores:
#   stalled: 1,000 WebSocket clients that never read, 100 that do, one sender
#            relaying 300 events of 100 KB to all of them; Caddy with
#            max_buffered_bytes 64MiB and max_payload 10MB (so that the
#            per-client bound, 16 x max_payload, is not what closes them)
#   cycles:  10,000 connect/disconnect cycles, 50 at a time, over WebSocket,
#            polling, upgrade and protocol 3 polling
#   slow:    5,000 slow requests (POST bodies trickled a byte a second,
#            WebSocket handshakes never finished) while 100 clients connect
#            and do an acknowledged emit
#   slow-timeouts: the same against Caddy with the README's server timeouts
#            (read_header 10s, read_body 30s), holding 40 s: how many are cut
#   reload:  2,000 clients (WebSocket, polling kept alive, polling with a new
#            connection per request, polling upgraded to WebSocket, and
#            protocol 3 polling and WebSocket) receive a numbered broadcast
#            every second through 20 config reloads through the admin API, one
#            every 2 s, that change CORS, namespaces, relays and limits (the
#            scenario writes each config: bench/loadgen/stress_reload.go);
#            disconnects, lost and duplicated deliveries, and each change
#            checked after its reload
#   reload-nohandover: the same without the socketio_handover listener
#            wrapper: what a reload loses without it
# Results: bench/results/stress-<time>/results.jsonl, with each Caddy's log.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

scenarios="stalled cycles slow reload" out="" events=300 extra=""
parse_args '
--scenarios scenarios
--out       out
--events    events
--args      extra' "$@"
start_run "bench/results/stress-$(date -u +%Y%m%dT%H%M%SZ)"
build_caddy_and_loadgen

# start_caddy <log> [server options]: sets server_pid, server_url, admin_port.
start_caddy() {
  local port servers=${2:-}
  port=$(free_port) admin_port=$(free_port)
  server_url="http://127.0.0.1:$port/socket.io/"
  caddyfile "$port" "$admin_port" "
		max_payload 10MB
		max_buffered_bytes 64MiB" "
			relay" "$servers" >"$tmp/Caddyfile"
  cp "$tmp/Caddyfile" "$out/Caddyfile"
  "${server_cpu[@]}" "$tmp/caddy" run --config "$tmp/Caddyfile" --adapter caddyfile >"$1" 2>&1 &
  server_pid=$!
  wait_port "$port" "$server_pid" "$1"
}

for scenario in $scenarios; do
  case $scenario in
  stalled) args=(-n 1000 -c 100 -events "$events" -pad 100000 -window 4) ;;
  cycles) args=(-n 10000 -c 50) ;;
  slow) args=(-n 5000 -c 100) ;;
  slow-timeouts) args=(-n 5000 -c 100 -hold 40s) ;;
  reload) args=(-n 2000 -reloads 20 -reload-every 2s -tick 1s) ;;
  reload-nohandover) args=(-n 2000 -reloads 20 -reload-every 2s -tick 1s -handover=false) ;;
  *) echo "stress.sh: unknown scenario $scenario (stalled, cycles, slow, slow-timeouts, reload, reload-nohandover)" >&2; exit 2 ;;
  esac
  echo "== $scenario"
  servers=""
  if [[ $scenario == slow-timeouts ]]; then
    servers="
	servers {
		timeouts {
			read_header 10s
			read_body 30s
		}
	}"
  fi
  start_caddy "$out/caddy-$scenario.log" "$servers"
  if [[ $scenario == reload* ]]; then
    args+=(-admin "http://127.0.0.1:$admin_port") # the scenario loads its own configs there
  fi
  base=${scenario%-timeouts}
  "${load_cpu[@]}" "$tmp/loadgen" -url "$server_url" -pid "$server_pid" -label caddy -pprof "http://127.0.0.1:$admin_port" \
    -scenario "${base%-nohandover}" -variant "$scenario" "${args[@]}" $extra | tee -a "$out/results.jsonl"
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  if [[ $scenario == stalled ]]; then
    echo "-- Caddy's log lines about max_buffered_bytes:"
    grep -c max_buffered_bytes "$out/caddy-$scenario.log" || true
    grep max_buffered_bytes "$out/caddy-$scenario.log" | head -3 | cut -c1-400
  fi
done
echo "results in $out"
