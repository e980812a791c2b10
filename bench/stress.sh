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
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scenarios="stalled cycles slow reload" out="" events=300 extra=""
while [[ $# -gt 0 ]]; do
  case $1 in
  --scenarios) scenarios=$2; shift ;;
  --out) out=$2; shift ;;
  --events) events=$2; shift ;;
  --args) extra=$2; shift ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
  *) echo "stress.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
out=${out:-bench/results/stress-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

echo "== building ./caddy-build and bench/loadgen"
go build -o "$tmp/caddy" ./caddy-build
go build -o "$tmp/loadgen" ./bench/loadgen

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_caddy <log> [server options]: sets server_pid, server_url, admin_port.
start_caddy() {
  local port servers=${2:-}
  port=$(free_port) admin_port=$(free_port)
  server_url="http://127.0.0.1:$port/socket.io/"
  cat >"$tmp/Caddyfile" <<CADDY
{
	admin 127.0.0.1:$admin_port
	auto_https off
	persist_config off
	log {
		level WARN
	}$servers
}

http://127.0.0.1:$port {
	socketio {
		allow_eio3
		max_payload 10MB
		max_buffered_bytes 64MiB
		namespace / {
			relay
		}
	}
}
CADDY
  cp "$tmp/Caddyfile" "$out/Caddyfile"
  taskset -c 0 "$tmp/caddy" run --config "$tmp/Caddyfile" --adapter caddyfile >"$1" 2>&1 &
  server_pid=$!
  for _ in $(seq 150); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "stress.sh: Caddy did not listen on $port; log $1" >&2
  exit 1
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
  taskset -c 1 "$tmp/loadgen" -url "$server_url" -pid "$server_pid" -label caddy -pprof "http://127.0.0.1:$admin_port" \
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
