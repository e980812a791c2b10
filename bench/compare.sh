#!/usr/bin/env bash
# Runs every benchmark scenario against this Caddy module and against the
# Node Socket.IO reference (bench/node/server.js), in the same run, and
# prints each figure with its ratio to Node's (medians over the runs).
#
#   bench/compare.sh                 # full sizes, 3 runs, EIO 4 and 3
#   bench/compare.sh --quick         # tiny sizes, 1 run: a smoke test of the whole pipeline
#   bench/compare.sh --runs 5 --eio 4 --servers "node caddy" --scenarios "echo fanout"
#   bench/compare.sh --eio 3 --skip 'conns-10000|fanout-stalled' --out DIR   # add to DIR's results
#   bench/compare.sh --ping-interval 10000   # both servers ping every 10 s (default 25000 ms, their default)
#   bench/compare.sh --charts DIR    # draw the charts there (default: docs/benchmarks after a pass of
#                                    # both servers with conns, echo and fanout at EIO 4, else the results dir)
#   bench/compare.sh --profile       # also save Caddy's CPU profile of each measured window
#                                    # (heap at the end of conns holds): caddy-<phase>.*.pprof
#   bench/compare.sh --scenarios conns --conns-ping-interval 10000   # conns at another ping
#                                    # interval (ms; default 25000, both servers' default)
#   bench/compare.sh --scenarios cluster --eio 4   # the cross-node fanout alone
#   bench/compare.sh --scenarios api --eio 4       # emits from a backend: the HTTP API into Caddy
#                                                  # against @socket.io/redis-emitter into Node
#   bench/compare.sh --scenarios hooks --eio 4     # backend hooks (issue 11): an acked event answered
#                                                  # by the backend, and a reconnect storm
#   bench/compare.sh --scenarios recovery --eio 4  # connection state recovery (issue 14): the fanout with
#                                                  # it off and on, in the same run
#   bench/compare.sh --scenarios recovery-streams --eio 4  # the same through the Redis Streams adapter
#                                                  # (Caddy's redis_streams, Node's @socket.io/redis-streams-adapter)
#   bench/compare.sh --scenarios "echo openloop"   # the echo at a fixed offered rate: half of Node's
#                                                  # closed-loop acks/s of this run, on both servers
#   bench/compare.sh --scenarios openloop --offered 6000   # the same at a rate given
#   bench/compare.sh --servers caddy --scenarios conns --caddy-env GOMEMLIMIT=100MiB
#                                    # Caddy with these environment variables (words
#                                    # NAME=value; the Go runtime's, say), the rest as usual
#
# Each server starts fresh for every phase, pinned to CPU 0 with `taskset -c
# 0`; the load generator runs on CPU 1. The cluster phase (a fanout whose
# receivers are split over two nodes of the same server sharing one
# redis-server) puts both nodes on CPU 0 and redis-server beside the load
# generator on CPU 1; it needs redis-server on PATH or in $REDIS_SERVER
# (left out with a warning when missing, an error under CI=true). Both
# servers use the same ping interval, `--ping-interval MS` (default 25000,
# both servers' default), so a conns phase holds its connections through
# whole heartbeat rounds at the interval users run; the conns phases hold
# 110 s, heartbeats measured over 4 whole intervals after the ramp
# (`--conns-ping-interval MS` gives them another interval than the other
# phases); nothing else differs from the defaults. The api phase sends a fanout to one
# room from outside, as a backend does: over the HTTP server API
# (socketio_api, one keep-alive connection) into Caddy, and as
# @socket.io/redis-emitter does (one PUBLISH per event) into a Node server
# on a redis-server of its own on CPU 1; server CPU is the server process's
# only (Redis not counted). The hooks phase puts an application backend
# (`loadgen hookbackend`, on CPU 1 beside the load generator, not measured)
# behind both servers: hook-ack is the echo, 50 clients in a closed loop,
# with the event `echo` answered by the backend through Caddy's `hooks {
# events echo; reverse_proxy ... }` and, in Node, by a handler making the
# same signed HTTP call with the same JSON body over a keep-alive agent
# (bench/node/server.js, HOOK_URL); hook-storm is 5,000 clients connecting
# at once through a connect hook (Caddy's `hooks { connect }`, Node's
# middleware) to a backend that answers in 20 ms, at most 64 hook requests
# in flight (`max_concurrent 64`; Node: an agent of 64 sockets), each
# refused client retrying as socket.io-client does. Both keep all 64
# connections to the backend alive: Node's keep-alive agent keeps up to 256
# idle sockets, reverse_proxy only 32 per host unless told
# (keepalive_idle_conns_per_host 64), and with 32 it opens hundreds of
# connections a second under this load. The recovery phase is the fanout
# twice, recovery-off and recovery-on: on, Caddy has
# `connection_state_recovery` and Node `connectionStateRecovery` (both with
# their defaults, 2 minutes), so every relayed event is stored with its
# offset appended; the table adds the server's RSS growth per stored event
# (every event of the window is kept), best read in recovery-log-on, the
# same with 10 receivers, which stores many more events. The
# recovery-streams phases are the same fanout on one node through the Redis
# Streams adapter (Caddy's `adapter redis_streams`, Node's
# @socket.io/redis-streams-adapter 0.3.1) on a redis-server of its own on
# CPU 1 (not counted in the server's CPU), recovery off and on: the stored
# events are then the stream's entries (MAXLEN ~ 10000) in Redis, not in the
# server; the stream's length and Redis's own count of its bytes (MEMORY
# USAGE) at the end of each phase go to streams-redis.txt.
# The openloop phase is the echo at a
# fixed offered rate, the same for both servers: half of the median acks/s
# of Node's echo phase so far in this run, same protocol (so the echo
# scenario must run first, with node among the servers), or --offered. The load average is written to
# load.txt before each measured phase. Results go to bench/results/<time>/ (results.jsonl, table.md,
# server logs, profiles). At the end, bench/charts draws BENCHMARKS.md's
# charts from all of the results directory's lines (those of earlier
# passes with the same --out too), EIO 4's phases (EIO 3's when there are
# none): SVG files in docs/benchmarks/, which BENCHMARKS.md embeds, when
# the run measured what they show (both servers; conns, echo and fanout
# at EIO 4; not --quick), into the results directory otherwise, or into
# the directory --charts names.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

runs=3 quick=0 profile=0
eios="4 3"
servers="node caddy"
scenarios="conns echo openloop fanout cluster handshake polling api hooks"
out="" charts=""
skip='^$' # a regular expression of phase names to leave out
offered="" # openloop's events per second; empty: half of Node's echo acks/s
caddy_env="" # NAME=value words for the Caddy process only (--caddy-env)
ping_interval_ms=25000
conns_ping_interval_ms="" # the conns phases' interval; empty: --ping-interval's
parse_args '
--quick               quick=1 runs=1
--runs                runs
--eio                 eios
--servers             servers
--scenarios           scenarios
--skip                skip
--out                 out
--conns-ping-interval conns_ping_interval_ms
--offered             offered
--caddy-env           caddy_env
--profile             profile=1
--ping-interval       ping_interval_ms
--charts              charts' "$@"

if ! [[ $ping_interval_ms =~ ^[1-9][0-9]*$ ]]; then
  echo "compare.sh: --ping-interval $ping_interval_ms: want milliseconds, a whole number such as 25000" >&2
  exit 2
fi
if [[ -n $conns_ping_interval_ms && ! $conns_ping_interval_ms =~ ^[1-9][0-9]*$ ]]; then
  echo "compare.sh: --conns-ping-interval $conns_ping_interval_ms: want milliseconds, a whole number such as 25000" >&2
  exit 2
fi

start_run "bench/results/$(date -u +%Y%m%dT%H%M%SZ)"

# The key of the api phase's socketio_api, for Caddy and the load generator.
export SOCKETIO_API_KEY=${SOCKETIO_API_KEY:-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')}
# The secret both servers sign the hooks phase's requests with; the backend
# checks every signature.
export SOCKETIO_HOOK_SECRET=${SOCKETIO_HOOK_SECRET:-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')}
hook_max_concurrent=64 hook_connect_delay=20ms

# The cluster phase runs its two nodes on a redis-server of its own.
redis_bin=${REDIS_SERVER:-$(command -v redis-server || true)}
if [[ " $scenarios " =~ " "(cluster|api|recovery-streams)" " && ! -x $redis_bin ]]; then
  if [[ ${CI:-} == true ]]; then
    echo "compare.sh: the cluster, api and recovery-streams phases need redis-server (CI=true: not skipping them); apt-get install redis-server" >&2
    exit 1
  fi
  echo "compare.sh: WARNING: no redis-server (on PATH or in \$REDIS_SERVER): leaving out the cluster, api and recovery-streams phases (apt-get install redis-server)" >&2
  scenarios=$(echo " $scenarios " | sed 's/ cluster / /; s/ api / /; s/ recovery-streams / /')
fi

build_caddy_and_loadgen
go build -o "$tmp/charts" ./bench/charts

# The module list is read whole before it is searched: with pipefail, a grep
# -q that stops at the first match can make caddy die of SIGPIPE and the
# check fail at random.
modules=$("$tmp/caddy" list-modules 2>/dev/null || true)
if [[ " $servers " == *" caddy "* ]] && ! grep -qx 'http.handlers.socketio' <<<"$modules"; then
  echo "compare.sh: this build of ./caddy-build has no http.handlers.socketio module yet; measuring node only" >&2
  servers=${servers//caddy/}
fi

node_bin=$(command -v node)
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "cpus: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
  echo "memory: $(free -h | awk '/^Mem:/ {print $2}')"
  echo "kernel: $(uname -r)"
  echo "go: $(go version | cut -d' ' -f3)"
  echo "node: $($node_bin --version), socket.io $(node -p 'require("./node_modules/socket.io/package.json").version'), engine.io $(node -p 'require("./node_modules/engine.io/package.json").version')"
  echo "open files hard limit: $(ulimit -Hn)"
  if [[ -n $caddy_env ]]; then echo "caddy environment: $caddy_env"; fi
} | tee "$out/machine.txt"

# caddy_config <port> <admin port> [redis address]: the Caddyfile of the
# measured Caddy; with a Redis address, a node of a cluster; with with_api
# set, the HTTP server API at /api/ too.
caddy_config() {
  local adapter="" api="" namespace="
			relay" join="
			join {query.room}"
  # A namespace with join relays a sender that joined no room to nobody
  # (e38ca54), so the phases whose sockets join none (fanout, cluster)
  # measure a namespace without it: the relay to every other socket, as
  # Node's reference does for a socket in no room.
  if [[ -n ${without_join:-} ]]; then join=""; fi
  if [[ -n ${with_api:-} ]]; then
    api="
	handle_path /api/* {
		socketio_api {
			key {env.SOCKETIO_API_KEY}
		}
	}"
  fi
  if [[ -n ${3:-} ]]; then
    adapter="
		adapter redis {
			address $3
		}"
  fi
  # with_hooks (events or connect) and hook_backend (host:port): the hooks
  # phase, whose hooked event is not relayed.
  case ${with_hooks:-} in
  events | connect)
    local what="events echo"
    if [[ $with_hooks == connect ]]; then what=connect; fi
    namespace="
			hooks {
				$what
				max_concurrent $hook_max_concurrent
				secret {env.SOCKETIO_HOOK_SECRET}
				reverse_proxy $hook_backend {
					transport http {
						keepalive_idle_conns_per_host $hook_max_concurrent
					}
				}
			}"
    ;;
  esac
  # The recovery phases (recovery set to on or off) are fanouts too: without
  # join, for the reason above.
  local recovery=""
  if [[ -n ${recovery_phase:-} ]]; then
    join=""
  fi
  if [[ ${recovery_phase:-} == on ]]; then
    recovery="
		connection_state_recovery"
  fi
  # streams_redis (host:port): the recovery-streams phases' adapter.
  if [[ -n ${streams_redis:-} ]]; then
    adapter="
		adapter redis_streams {
			address $streams_redis
		}"
  fi
  caddyfile "$1" "$2" "
		ping_interval ${ping_interval_ms}ms$adapter$recovery" "$namespace$join" "" "$api"
}

# caddy_json_config <port> <admin port> [redis address]: the same
# configuration in JSON, used only when this build cannot adapt the Caddyfile
# above (see the warning).
caddy_json_config() {
  local adapter="" join=', "join": ["{query.room}"]'
  if [[ -n ${without_join:-} ]]; then join=""; fi
  if [[ -n ${3:-} ]]; then
    adapter='"adapter": {"adapter": "redis", "addresses": ["'$3'"]}, '
  fi
  cat <<JSON
{"admin": {"listen": "127.0.0.1:$2", "config": {"persist": false}},
 "logging": {"logs": {"default": {"level": "WARN"}}},
 "apps": {"http": {"servers": {"bench": {"listen": ["127.0.0.1:$1"], "automatic_https": {"disable": true},
   "routes": [{"handle": [{"handler": "socketio", $adapter"allow_eio3": true, "ping_interval": "${ping_interval_ms}ms",
     "namespaces": [{"name": "/", "relay": {}$join}]}]}]}}}}}
JSON
}

# start_server <node|caddy> <log> [redis address]: sets server_pid,
# server_url, admin_port. With a Redis address the server is a cluster node.
start_server() {
  local port redis=${3:-}
  port=$(free_port)
  server_url="http://127.0.0.1:$port/socket.io/"
  case $1 in
  node)
    local hook_env=() recovery_env=""
    if [[ ${recovery_phase:-} == on ]]; then recovery_env=1; fi
    if [[ -n ${with_hooks:-} ]]; then
      hook_env=(HOOK_URL="http://$hook_backend/socketio" HOOK_SECRET="$SOCKETIO_HOOK_SECRET"
        HOOK_MAX_CONCURRENT=$hook_max_concurrent)
      if [[ $with_hooks == connect ]]; then hook_env+=(HOOK_CONNECT=1); else hook_env+=(HOOK_EVENTS=echo); fi
    fi
    env PORT="$port" PING_INTERVAL="$ping_interval_ms" NODE_PATH="$root/node_modules" REDIS_URL="${redis:+redis://$redis}" \
      REDIS_STREAMS_URL="${streams_redis:+redis://$streams_redis}" \
      RECOVERY="$recovery_env" "${hook_env[@]}" "${server_cpu[@]}" "$node_bin" bench/node/server.js >"$2" 2>&1 &
    ;;
  caddy)
    admin_port=$(free_port)
    local name=Caddyfile${redis:+-cluster}${without_join:+-without-join}${streams_redis:+-streams}
    local config=("$tmp/$name-$port" --adapter caddyfile)
    if [[ -n $caddy_json && -z ${with_hooks:-}${recovery_phase:-} ]]; then
      name=caddy${redis:+-cluster}.json
      config=("$tmp/$name-$port")
      caddy_json_config "$port" "$admin_port" "$redis" >"${config[0]}"
    else
      caddy_config "$port" "$admin_port" "$redis" >"${config[0]}"
    fi
    cp "${config[0]}" "$out/$name"
    # shellcheck disable=SC2086 # caddy_env is NAME=value words on purpose
    env $caddy_env "${server_cpu[@]}" "$tmp/caddy" run --config "${config[@]}" >"$2" 2>&1 &
    ;;
  esac
  server_pid=$!
  wait_port "$port" "$server_pid" "$2"
}

# start_redis <log prefix>: a fresh redis-server on CPU 1, without
# persistence; sets redis_pid and rport (declared local by the caller).
start_redis() {
  rport=$(free_port)
  "${load_cpu[@]}" "$redis_bin" --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
    --loglevel warning >"$1.redis.log" 2>&1 &
  redis_pid=$!
  wait_port "$rport" "$redis_pid" "$1.redis.log"
}

# start_cluster <node|caddy> <log prefix>: a fresh redis-server on CPU 1
# (beside the load generator: Redis is shared by both servers alike and not
# what is measured) and two nodes of the server on CPU 0; sets what
# start_server does for the first node, server2_pid and server2_url for the
# second, admin2_port for a second Caddy, and redis_pid.
start_cluster() {
  local rport
  start_redis "$2"
  start_server "$1" "$2.node2.log" "127.0.0.1:$rport"
  server2_pid=$server_pid server2_url=$server_url admin2_port=${admin_port:-}
  start_server "$1" "$2.log" "127.0.0.1:$rport"
}

# start_emitter_node <server> <log prefix>: one node of the server on a
# fresh redis-server (CPU 1), for @socket.io/redis-emitter's messages; sets
# what start_server does, redis_pid and emitter_redis.
start_emitter_node() {
  local rport
  start_redis "$2"
  emitter_redis=127.0.0.1:$rport
  start_server "$1" "$2.log" "$emitter_redis"
}

# start_streams_node <server> <log prefix>: one node of the server with the
# Redis Streams adapter on a fresh redis-server (CPU 1); sets what
# start_server does, redis_pid and streams_redis.
start_streams_node() {
  local rport
  start_redis "$2"
  streams_redis=127.0.0.1:$rport
  start_server "$1" "$2.log"
}

# streams_usage <name> <server>: the stream's length and Redis's count of
# its bytes at the end of a recovery-streams phase, into streams-redis.txt.
streams_usage() {
  local cli=${redis_bin%redis-server}redis-cli len bytes
  if [[ ! -x $cli ]]; then cli=$(command -v redis-cli || true); fi
  if [[ -z $cli ]]; then return 0; fi
  len=$("$cli" -h 127.0.0.1 -p "${streams_redis##*:}" XLEN socket.io 2>&1 || true)
  bytes=$("$cli" -h 127.0.0.1 -p "${streams_redis##*:}" MEMORY USAGE socket.io SAMPLES 0 2>&1 || true)
  echo "$1 EIO$eio $2 run$run: stream entries $len, bytes $bytes" >>"$out/streams-redis.txt"
}

# start_hook_backend <log>: the hooks phase's application backend on CPU 1
# (beside the load generator; not measured); sets backend_pid and
# hook_backend (host:port).
start_hook_backend() {
  local port
  port=$(free_port)
  "${load_cpu[@]}" "$tmp/loadgen" hookbackend -listen "127.0.0.1:$port" -connect-delay "$hook_connect_delay" \
    -secret-env SOCKETIO_HOOK_SECRET >"$1" 2>&1 &
  backend_pid=$!
  hook_backend=127.0.0.1:$port
  wait_port "$port" "$backend_pid" "$1"
}

# Sizes from issue 5, or tiny ones for --quick. One phase per line:
# <name> <loadgen flags>
phases() {
  local s
  for s in $scenarios; do
    if ((quick)); then
      case $s in
      conns) echo "conns-200 -scenario conns -n 200 -hold 1s" ;;
      echo) echo "echo -scenario echo -c 5 -d 1s" ;;
      openloop) echo "openloop -scenario openloop -c 5 -d 1s" ;;
      fanout)
        echo "fanout -scenario fanout -n 50 -d 1s"
        echo "fanout-idle -scenario fanout -n 50 -d 1s -idle-polling"
        echo "fanout-stalled -scenario fanout -n 50 -d 1s -stalled-websocket"
        ;;
      cluster) echo "cluster -scenario fanout -n 50 -d 1s" ;;
      api) echo "api -scenario fanout -n 50 -d 1s -room bench" ;;
      handshake) echo "handshake -scenario handshake -c 5 -d 1s" ;;
      polling) echo "polling -scenario polling -c 5 -d 1s" ;;
      hooks)
        echo "hook-ack -scenario echo -variant hook -c 5 -d 1s"
        echo "hook-storm -scenario storm -n 200"
        ;;
      recovery)
        echo "recovery-off -scenario fanout -n 50 -d 1s -variant recovery-off"
        echo "recovery-on -scenario fanout -n 50 -d 1s -variant recovery"
        echo "recovery-log-off -scenario fanout -n 5 -d 1s -variant recovery-off"
        echo "recovery-log-on -scenario fanout -n 5 -d 1s -variant recovery"
        ;;
      recovery-streams)
        echo "recovery-streams-off -scenario fanout -n 50 -d 1s -variant recovery-streams-off"
        echo "recovery-streams-on -scenario fanout -n 50 -d 1s -variant recovery-streams"
        echo "recovery-streams-log-on -scenario fanout -n 5 -d 1s -variant recovery-streams"
        ;;
      *) echo "compare.sh: unknown scenario $s" >&2; exit 2 ;;
      esac
    else
      case $s in
      conns)
        echo "conns-10000 -scenario conns -n 10000"
        echo "conns-19000 -scenario conns -n 19000"
        ;;
      echo) echo "echo -scenario echo -c 50 -d 10s" ;;
      # The echo at a fixed offered rate (see offered_rate).
      openloop) echo "openloop -scenario openloop -c 50 -d 10s" ;;
      fanout)
        echo "fanout -scenario fanout -n 1000 -d 10s"
        echo "fanout-idle -scenario fanout -n 1000 -d 10s -idle-polling"
        echo "fanout-stalled -scenario fanout -n 1000 -d 10s -stalled-websocket"
        ;;
      # The cross-node fanout: receivers split over two nodes and one Redis.
      cluster) echo "cluster -scenario fanout -n 1000 -d 10s" ;;
      # Emits from a backend to one room of 1,000 receivers.
      api) echo "api -scenario fanout -n 1000 -d 10s -room bench" ;;
      handshake) echo "handshake -scenario handshake -c 50 -d 10s" ;;
      polling) echo "polling -scenario polling -c 50 -d 10s" ;;
      # Backend hooks (issue 11): the acked event answered by the backend,
      # and 5,000 clients connecting at once through a connect hook.
      hooks)
        echo "hook-ack -scenario echo -variant hook -c 50 -d 10s"
        echo "hook-storm -scenario storm -n 5000"
        ;;
      # Connection state recovery (issue 14): the fanout, off then on; then
      # with 10 receivers, so that many more events are stored, for the
      # memory per stored event.
      recovery)
        echo "recovery-off -scenario fanout -n 1000 -d 10s -variant recovery-off"
        echo "recovery-on -scenario fanout -n 1000 -d 10s -variant recovery"
        echo "recovery-log-off -scenario fanout -n 10 -d 10s -variant recovery-off"
        echo "recovery-log-on -scenario fanout -n 10 -d 10s -variant recovery"
        ;;
      # The same through the Redis Streams adapter, one node on a Redis of
      # its own: off and on, and on with 10 receivers.
      recovery-streams)
        echo "recovery-streams-off -scenario fanout -n 1000 -d 10s -variant recovery-streams-off"
        echo "recovery-streams-on -scenario fanout -n 1000 -d 10s -variant recovery-streams"
        echo "recovery-streams-log-on -scenario fanout -n 10 -d 10s -variant recovery-streams"
        ;;
      *) echo "compare.sh: unknown scenario $s" >&2; exit 2 ;;
      esac
    fi
  done
}

# The Caddyfile is what users write; if this build cannot adapt it, say why
# and measure the same configuration given as JSON.
caddy_json=""
if [[ " $servers " == *" caddy "* ]]; then
  caddy_config 1 2 >"$tmp/Caddyfile"
  caddy_config 1 2 127.0.0.1:6379 >"$tmp/Caddyfile-cluster"
  if ! adapt_err=$("$tmp/caddy" adapt --config "$tmp/Caddyfile" 2>&1 >/dev/null) ||
    ! adapt_err=$("$tmp/caddy" adapt --config "$tmp/Caddyfile-cluster" 2>&1 >/dev/null); then
    echo "compare.sh: WARNING: this build cannot adapt the benchmark Caddyfile; using the same config as JSON. The error:" >&2
    echo "$adapt_err" | tail -1 >&2
    caddy_json=1
  fi
fi

results="$out/results.jsonl"
failures=0

# offered_rate <eio>: the openloop phase's events per second, --offered or
# half of the median acks/s of Node's echo results so far with that
# protocol; empty when there are none.
offered_rate() {
  if [[ -n $offered ]]; then
    echo "$offered"
    return
  fi
  python3 - "$results" "$1" <<'PY'
import json, statistics, sys
rates = []
try:
    with open(sys.argv[1]) as f:
        for line in f:
            r = json.loads(line) if line.startswith("{") else {}
            if r.get("scenario") == "echo" and r.get("server") == "node" and not r.get("variant") \
                    and r.get("eio") == int(sys.argv[2]) and r.get("ops_per_s"):
                rates.append(r["ops_per_s"])
except FileNotFoundError:
    pass
if rates:
    print(round(statistics.median(rates) / 2))
PY
}
for run in $(seq 1 "$runs"); do
  while read -r name flags; do
    if [[ $name =~ $skip ]]; then continue; fi
    for eio in $eios; do
      for server in $servers; do
        log="$out/$server-$name-eio$eio-run$run.log"
        echo "== run $run/$runs: $name EIO$eio on $server"
        echo "$(date -u +%H:%M:%S) $name EIO$eio $server: load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/load.txt"
        second=() pprof=() without_join="" streams_redis=""
        if [[ $name == fanout* || $name == cluster ]]; then without_join=1; fi
        if [[ $name == openloop ]]; then
          rate=$(offered_rate "$eio")
          if [[ -z $rate ]]; then
            echo "compare.sh: the openloop phase offers half of Node's echo acks/s, and there is no node echo result for EIO$eio yet; run the echo scenario before it with node among the servers, or give --offered N" >&2
            failures=$((failures + 1))
            continue
          fi
          second=(-offered "$rate")
        fi
        if [[ $name == openloop ]]; then
          start_server "$server" "$log"
        elif [[ $name == cluster ]]; then
          start_cluster "$server" "${log%.log}"
          second=(-url2 "$server2_url" -pid2 "$server2_pid")
        elif [[ $name == api && $server == caddy ]]; then
          with_api=1 start_server caddy "$log"
          second=(-emit-via api -api-url "${server_url%/socket.io/}/api")
        elif [[ $name == api ]]; then
          start_emitter_node "$server" "${log%.log}"
          second=(-emit-via redis-emitter -redis "$emitter_redis")
        elif [[ $name == hook-* ]]; then
          start_hook_backend "${log%.log}.backend.log"
          hooks=events
          if [[ $name == hook-storm ]]; then hooks=connect; fi
          with_hooks=$hooks start_server "$server" "$log"
          second=(-hook-backend "http://$hook_backend")
        elif [[ $name == recovery-streams-* ]]; then
          recovery_phase=${name##*-} start_streams_node "$server" "${log%.log}"
        elif [[ $name == recovery-* ]]; then
          recovery_phase=${name##*-} start_server "$server" "$log"
        elif [[ $name == conns-* ]]; then
          # Heartbeats are measured over 4 whole intervals after the ramp,
          # in a 110 s hold (loadgen's default hold).
          ping_interval_ms=${conns_ping_interval_ms:-$ping_interval_ms} start_server "$server" "$log"
        else
          start_server "$server" "$log"
        fi
        if ((profile)) && [[ $server == caddy ]]; then
          pprof=(-pprof "http://127.0.0.1:$admin_port" -pprof-out "$out/caddy-$name-eio$eio-run$run")
          if [[ $name == cluster ]]; then pprof+=(-pprof2 "http://127.0.0.1:$admin2_port"); fi
        fi
        # shellcheck disable=SC2086 # flags are words on purpose
        if ! "${load_cpu[@]}" "$tmp/loadgen" -url "$server_url" -eio "$eio" -pid "$server_pid" "${second[@]}" \
          -label "$server" "${pprof[@]}" $flags >>"$results" 2>>"$out/loadgen.log"; then
          echo "compare.sh: loadgen failed for $name EIO$eio on $server; see $out/loadgen.log" >&2
          failures=$((failures + 1))
        fi
        tail -n1 "$results" | cut -c1-240
        if [[ $name == recovery-streams-* ]]; then streams_usage "$name" "$server"; fi
        stop_servers
      done
    done
  done < <(phases)
done

echo
echo "== medians of $runs run(s); ratios are to node (below 1: this server spends less)"
"$tmp/loadgen" table "$results" | tee "$out/table.md"
echo "results: $out"

# The repository's charts are redrawn by a pass that measures what they
# show (both servers; conns, echo and fanout at EIO 4; full sizes); any
# other run draws its own into its results directory, leaving them alone.
if [[ -z $charts ]]; then
  charts=$out
  if ((!quick)) && [[ " $servers " == *" node "* && " $servers " == *" caddy "* && " $eios " == *" 4 "* &&
    " $scenarios " == *" conns "* && " $scenarios " == *" echo "* && " $scenarios " == *" fanout "* ]]; then
    charts=docs/benchmarks
  fi
fi
# EIO 4's phases whenever the directory has them: an EIO 3 pass added to
# an EIO 4 pass's --out redraws that pass's charts, not charts of its own.
chart_eio=4
if ! grep -q '"eio":4,' "$results" 2>/dev/null; then chart_eio=3; fi
echo
echo "== charts of the EIO $chart_eio phases into $charts"
if ! "$tmp/charts" -out "$charts" -eio "$chart_eio" "$out"; then
  echo "compare.sh: bench/charts failed on $out; the table above stands" >&2
  failures=$((failures + 1))
fi
exit $((failures > 0))
