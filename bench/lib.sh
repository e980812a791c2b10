# bench/lib.sh: what bench/compare.sh, bench/stress.sh and bench/instructions.sh
# share, sourced by each right after its `set -euo pipefail` (so that --help,
# which prints the script's header comment up to that line, is unchanged):
#
#   self, root, bench_name   the script's absolute path, the repository
#                            (the working directory from here on), the
#                            script's name for messages ("compare.sh: ...")
#   parse_args SPEC ARGS...  the arguments, as SPEC says, into variables;
#                            -h/--help prints the script's header comment
#   start_run DIR            out (DIR unless --out gave one, created), tmp
#                            (removed at exit with the servers still up),
#                            the open files limit raised to the hard one
#   build_caddy_and_loadgen  ./caddy-build and bench/loadgen into $tmp
#   server_cpu, load_cpu     the pinning: servers on CPU 0, the load
#                            generator (and what is not measured) on CPU 1
#   free_port                a loopback TCP port nothing listens on
#   wait_port PORT PID LOG [SECONDS] [STEP]   until something listens on
#                            PORT, or PID exits, or time runs out
#   stop_servers [SIGNAL]    ends server_pid, server2_pid, redis_pid and
#                            backend_pid, whichever are set, and waits
#   caddyfile PORT ADMIN [SOCKETIO] [NAMESPACE] [GLOBAL] [SITE]   the
#                            benchmark Caddyfile every script builds on

self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0") # before the cd below: --help reads it
root=$(cd "$(dirname "$0")/.." && pwd)
bench_name=$(basename "$0")
cd "$root"

# Servers on CPU 0, the load generator and whatever runs beside it but is
# not measured (redis-server, the hooks' backend) on CPU 1: words to put
# before a command, "${server_cpu[@]}" cmd ... &, so that $! is the
# command's own pid.
server_cpu=(taskset -c 0)
load_cpu=(taskset -c 1)

# parse_args <spec> [arguments...]: sets the script's variables from its
# arguments as spec says, one option a line:
#
#   --name variable                 the next argument is the variable's value
#   --name variable=value ...       a switch: sets each variable to its value
#
# Later options win over earlier ones, as they come. -h and --help print
# the script's header comment (its lines 2 up to `set -euo pipefail`) and
# exit 0; any other argument is an error (exit 2).
parse_args() {
  local _spec=$1 _opt _words _w _found
  shift
  while (($#)); do
    case $1 in
    -h | --help) sed -n '2,/^set -euo/p' "$self" | sed '$d'; exit 0 ;;
    esac
    _found=""
    while read -r _opt _words; do
      if [[ -n $_opt && $_opt == "$1" ]]; then _found=1; break; fi
    done <<<"$_spec"
    if [[ -z $_found ]]; then
      echo "$bench_name: unknown argument $1 (see --help)" >&2
      exit 2
    fi
    if [[ $_words == *=* ]]; then
      for _w in $_words; do printf -v "${_w%%=*}" '%s' "${_w#*=}"; done
    else
      printf -v "$_words" '%s' "$2" # under set -u, an error when the value is missing
      shift
    fi
    shift
  done
}

# start_run <default results directory>: out is --out's directory or the
# default, created; tmp a fresh directory for builds and configs; at exit
# the servers still running are killed and tmp removed. The servers and the
# load generator hold up to ~19,000 sockets each: the open files limit is
# raised to the hard one.
start_run() {
  out=${out:-$1}
  mkdir -p "$out"
  tmp=$(mktemp -d)
  server_pid="" server2_pid="" redis_pid="" backend_pid=""
  trap cleanup EXIT
  ulimit -n "$(ulimit -Hn)"
}

cleanup() {
  local pid
  for pid in $server_pid $server2_pid $redis_pid $backend_pid; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}

build_caddy_and_loadgen() {
  echo "== building ./caddy-build and bench/loadgen"
  go build -o "$tmp/caddy" ./caddy-build
  go build -o "$tmp/loadgen" ./bench/loadgen
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port <port> <pid> <log> [seconds] [step]: returns once something
# listens on 127.0.0.1:<port>, trying every step seconds (default 0.1) for
# seconds (default 15); fails with the log's tail if pid exits first, and
# when time runs out.
wait_port() {
  local seconds=${4:-15} step=${5:-0.1}
  for _ in $(seq 1 "$(awk -v s="$seconds" -v d="$step" 'BEGIN { print int(s / d + 0.5) }')"); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then
      echo "$bench_name: the server exited before listening; its log ($3):" >&2
      tail -20 "$3" >&2
      return 1
    fi
    sleep "$step"
  done
  echo "$bench_name: nothing listens on 127.0.0.1:$1 after $seconds s; log $3" >&2
  return 1
}

# stop_servers [signal]: sends signal (default TERM) to every process of
# server_pid, server2_pid, redis_pid and backend_pid that is set, waits for
# each, and clears them.
stop_servers() {
  local pid
  for pid in $server_pid $server2_pid $redis_pid $backend_pid; do
    kill "-${1:-TERM}" "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  server_pid="" server2_pid="" redis_pid="" backend_pid=""
}

# caddyfile <port> <admin port> [socketio] [namespace] [global] [site]: the
# benchmark Caddyfile: the admin API on its own port, no HTTPS, no saved
# config, warnings only, and a site on 127.0.0.1:<port> with socketio
# (protocol 3 allowed) and its namespace "/". The rest are lines to add, each
# starting with a newline and indented to its place: socketio's other
# options, namespace /'s body, global options, and the site's other
# directives.
caddyfile() {
  cat <<CADDY
{
	admin 127.0.0.1:$2
	auto_https off
	persist_config off
	log {
		level WARN
	}${5:-}
}

http://127.0.0.1:$1 {
	socketio {
		allow_eio3${3:-}
		namespace / {${4:-}
		}
	}${6:-}
}
CADDY
}
