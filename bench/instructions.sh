#!/usr/bin/env bash
# Counts the instructions the Caddy server executes per operation of
# bench/compare.sh's scenarios, for two builds, under valgrind's callgrind:
# a figure this shared machine's load does not move (timings spread ±15%
# within one build here), to check that the metrics' counting costs the hot
# paths less than issue 15's 3%.
#
#   bench/instructions.sh                  # this tree with -tags nocounting against this tree
#   bench/instructions.sh --base REF --new REF   # two commits (git archive of each)
#   bench/instructions.sh --scenarios "echo fanout" --rounds 1 --ops 1000 --out DIR
#   bench/instructions.sh --scale 4        # every run 4 times as long (the default sizes times 4)
#
# Each build of ./caddy-build runs under `valgrind --tool=callgrind
# --separate-threads=yes` with GOMAXPROCS=1 (valgrind runs one thread at a
# time anyway), GODEBUG=asyncpreemptoff=1 (callgrind 3.19 aborts on the
# preemption signal) and GOGC=off (a collection lands in one window and not
# the next: tens of millions of instructions at random; the counting
# allocates nothing, so it is not what collections would differ by).
# bench/loadgen (natively, on CPU 1) drives a fixed number of operations
# (-ops), one at a time with a 2 ms pause after each (-pause; a fanout's
# event once every receiver has it), so that every operation finds the
# server idle and takes the same path: without the pause, whether the
# server's thread went to sleep before the next message came differs from
# one operation to the next, and so did the counts (by 5-20% between runs).
# After each loadgen run `callgrind_control -d` dumps the instructions (Ir)
# since the previous dump; the thread running runtime.sysmon, whose count
# follows the wall clock and not the work, is left out. Per process: one
# warm-up run, then runs of N and 2N operations twice over; the difference
# of a 2N and the N before it, over N, is the cost of one operation with
# what every run has alike (the clients' connections and their closing)
# cancelled. Per scenario:
#
#   echo       acknowledged event, 1 WebSocket client alone in its room (per ack)
#   polling    the same over long-polling (per ack)
#   handshake  abandoned polling handshakes, 1 client (per handshake)
#   fanout     one sender relayed to 50 WebSocket receivers (per delivery)
#   fanout-idle, fanout-stalled   the same beside an idle polling session
#              or a WebSocket client that never reads (per delivery)
#
# echo, polling and handshake share one Caddy (ping_interval 10m, so no
# abandoned session times out inside a window), the fanouts another
# (without join, as compare.sh's). Every figure is printed; with --rounds 2
# (the default) each process runs twice, A and B in turn, which with the
# two passes gives 4 estimates per scenario and build and shows how
# repeatable they are: within about 1% for echo, polling and handshake,
# 2-7% for the fanouts (see BENCHMARKS.md, "What metrics cost"). Heartbeats
# of idle connections are not among them. Results: DIR/results.txt (one
# line per estimate), DIR/table.md, the callgrind files and logs; only
# their totals mean much, callgrind's split by function being confused by
# the goroutines' stack switches. Needs valgrind (callgrind_control
# included), go, python3.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

base="" new="" rounds=2 ops="" scale=1 out=""
scenarios="echo polling handshake fanout fanout-idle fanout-stalled"
parse_args '
--base      base
--new       new
--rounds    rounds
--ops       ops
--scale     scale
--scenarios scenarios
--out       out' "$@"
if ! [[ $scale =~ ^[1-9][0-9]*$ && $rounds =~ ^[1-9][0-9]*$ ]]; then
  echo "instructions.sh: --scale and --rounds take a whole number from 1" >&2
  exit 2
fi
if [[ -n $base$new && (-z $base || -z $new) ]]; then
  echo "instructions.sh: give both --base and --new, or neither" >&2
  exit 2
fi
for tool in valgrind callgrind_control go python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "instructions.sh: needs $tool on PATH (apt-get install valgrind for valgrind and callgrind_control)" >&2
    exit 1
  fi
done

start_run "bench/results/instructions-$(date -u +%Y%m%dT%H%M%SZ)"
out=$(cd "$out" && pwd)

# The two builds: A is the reference, B the one measured against it.
# Refs are resolved once, before the builds, so that a commit made
# meanwhile changes nothing.
if [[ -n $base ]]; then
  base=$(git rev-parse --verify "$base^{commit}") new=$(git rev-parse --verify "$new^{commit}")
fi
echo "== building"
if [[ -n $base ]]; then
  for side in A B; do
    ref=$base
    if [[ $side == B ]]; then ref=$new; fi
    mkdir -p "$tmp/src-$side"
    git archive "$ref" | tar -x -C "$tmp/src-$side"
    (cd "$tmp/src-$side" && go build -buildvcs=false -o "$tmp/caddy-$side" ./caddy-build)
  done
  label_A=$(git rev-parse --short "$base") label_B=$(git rev-parse --short "$new")
else
  go build -tags nocounting -o "$tmp/caddy-A" ./caddy-build
  go build -o "$tmp/caddy-B" ./caddy-build
  label_A="without counting (-tags nocounting)" label_B="with counting"
fi
go build -o "$tmp/loadgen" ./bench/loadgen
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "A: $label_A"
  echo "B: $label_B"
  echo "go: $(go version | cut -d' ' -f3), $(valgrind --version)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/machine.txt"

# config <port> <admin port> <group>: the Caddyfile of a group, as
# compare.sh's (relay, join but for the fanouts), with the group's ping
# interval.
config() {
  local join="
			join {query.room}" ping=10m
  if [[ $3 == fanout ]]; then join=""; fi
  caddyfile "$1" "$2" "
		ping_interval $ping" "
			relay$join"
}

# start <side> <group> <round>: Caddy of that side under callgrind; sets
# server_pid, url and cgout (the prefix of its dumps), and zeroes the count
# of dumps (in a file: dump runs in subshells).
start() {
  local port admin log=$out/caddy-$1-$2-round$3.log
  port=$(free_port) admin=$(free_port)
  config "$port" "$admin" "$2" >"$tmp/Caddyfile-$2"
  cgout=$out/callgrind-$1-$2-round$3
  rm -f "$cgout".*
  GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 GOGC=off "${server_cpu[@]}" valgrind --tool=callgrind --separate-threads=yes \
    --callgrind-out-file="$cgout.%p" "$tmp/caddy-$1" run --config "$tmp/Caddyfile-$2" --adapter caddyfile \
    >"$log" 2>&1 &
  server_pid=$!
  url=http://127.0.0.1:$port/socket.io/
  echo 0 >"$tmp/dumps"
  # Caddy takes a minute to start under callgrind on a loaded machine.
  wait_port "$port" "$server_pid" "$log" 300 0.5
}

# dump: the instructions since the previous dump (or the start), summed
# over the threads but the one in runtime.sysmon (one file per thread:
# <prefix>.<pid>.<dump>-<thread>).
dump() {
  local k
  k=$(($(cat "$tmp/dumps") + 1))
  echo "$k" >"$tmp/dumps"
  callgrind_control -d "$server_pid" >/dev/null 2>&1
  local files=("$cgout.$server_pid.$k"-*)
  for _ in $(seq 1 100); do
    files=("$cgout.$server_pid.$k"-*)
    if [[ -e ${files[0]} ]] && grep -q '^totals:' "${files[@]}" 2>/dev/null && ! grep -L '^totals:' "${files[@]}" | grep -q .; then
      break
    fi
    sleep 0.1
  done
  local f sum=0 ir
  for f in "${files[@]}"; do
    ir=$(sed -n 's/^summary: //p' "$f")
    if [[ -z $ir ]]; then
      echo "instructions.sh: no callgrind dump $f" >&2
      exit 1
    fi
    if grep -q 'runtime\.sysmon' "$f"; then continue; fi
    sum=$((sum + ir))
  done
  echo "$sum"
}

# measure <scenario> <ops>: one loadgen run of the scenario, then a dump;
# prints "<Ir> <operations>", operations as the scenario counts them
# (deliveries for the fanouts).
measure() {
  local flags=() line n=$2
  case $1 in
  echo) flags=(-scenario echo -c 1) ;;
  polling) flags=(-scenario polling -c 1) ;;
  handshake) flags=(-scenario handshake -c 1) ;;
  fanout) flags=(-scenario fanout -n 50) ;;
  fanout-idle) flags=(-scenario fanout -n 50 -idle-polling) ;;
  fanout-stalled) flags=(-scenario fanout -n 50 -stalled-websocket) ;;
  *) echo "instructions.sh: unknown scenario $1" >&2; exit 2 ;;
  esac
  if ! line=$("${load_cpu[@]}" "$tmp/loadgen" -url "$url" -d 10m -ops "$n" -pause 2ms "${flags[@]}" 2>>"$out/loadgen.log"); then
    echo "instructions.sh: loadgen failed on $1; see $out/loadgen.log" >&2
    exit 1
  fi
  echo "$line" >>"$out/loadgen.jsonl"
  local ir
  ir=$(dump)
  python3 -c '
import json, sys
r = json.loads(sys.argv[1])
if r.get("errors") or r.get("lost"):
    sys.exit("instructions.sh: %s: %d errors, %d lost: %s" % (sys.argv[2], r.get("errors", 0), r.get("lost", 0), r.get("first_error", "")))
print(sys.argv[3], r.get("ops", 0))
' "$line" "$1" "$ir"
}

# Operations per run of N, by scenario: --ops, or the default times
# --scale.
size() {
  if [[ -n $ops ]]; then echo "$ops"; return; fi
  case $1 in
  echo | polling) echo $((500 * scale)) ;;
  handshake) echo $((300 * scale)) ;;
  fanout*) echo $((50 * scale)) ;; # events: 2,500 deliveries
  esac
}

group_of() {
  case $1 in
  fanout*) echo fanout ;;
  *) echo join ;;
  esac
}

results=$out/results.txt
: >"$results"
for round in $(seq 1 "$rounds"); do
  for group in join fanout; do
    todo=()
    for s in $scenarios; do
      if [[ $(group_of "$s") == "$group" ]]; then todo+=("$s"); fi
    done
    if ((${#todo[@]} == 0)); then continue; fi
    # A then B in odd rounds, B then A in even ones.
    sides="A B"
    if ((round % 2 == 0)); then sides="B A"; fi
    for side in $sides; do
      echo "== round $round/$rounds: ${todo[*]} on $side ($(cut -d' ' -f1 /proc/loadavg) load)"
      start "$side" "$group" "$round"
      dump >/dev/null # the start
      for s in "${todo[@]}"; do
        n=$(size "$s")
        measure "$s" "$n" >/dev/null # warm-up
        for pass in 1 2; do
          read -r ir1 ops1 < <(measure "$s" "$n")
          read -r ir2 ops2 < <(measure "$s" $((2 * n)))
          if ((ops2 <= ops1)); then
            echo "instructions.sh: $s: $ops2 operations in the long run, $ops1 in the short one" >&2
            exit 1
          fi
          per=$(python3 -c "print(round(($ir2 - $ir1) / ($ops2 - $ops1), 1))")
          echo "$s $side round$round pass$pass $per Ir/op ($ir1 Ir/$ops1 ops, $ir2 Ir/$ops2 ops)" | tee -a "$results"
        done
      done
      stop_servers INT
    done
  done
done

# The table: per scenario and side the median of the estimates and their
# spread ((max - min) / median), the difference of the medians and their
# ratio B/A.
python3 - "$results" "$label_A" "$label_B" "$scenarios" <<'PY' | tee "$out/table.md"
import statistics, sys
est = {}
for line in open(sys.argv[1]):
    f = line.split()
    est.setdefault((f[0], f[1]), []).append(float(f[4]))
a, b = sys.argv[2], sys.argv[3]
unit = {"fanout": "delivery", "fanout-idle": "delivery", "fanout-stalled": "delivery",
        "handshake": "handshake"}
print(f"| scenario | A: {a}, Ir per op (spread) | B: {b}, Ir per op (spread) | B - A | B/A |")
print("| --- | ---: | ---: | ---: | ---: |")
for s in sys.argv[4].split():
    if (s, "A") not in est or (s, "B") not in est:
        continue
    row = [f"{s} (per {unit.get(s, 'ack')})"]
    meds = []
    for side in "AB":
        v = est[(s, side)]
        m = statistics.median(v)
        meds.append(m)
        row.append(f"{m:,.0f} ({(max(v) - min(v)) / m * 100:.2f}%, n={len(v)})")
    row.append(f"{meds[1] - meds[0]:+,.0f}")
    row.append(f"{meds[1] / meds[0]:.4f}")
    print("| " + " | ".join(row) + " |")
PY
echo "results: $out"
