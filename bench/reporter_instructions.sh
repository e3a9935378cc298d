#!/usr/bin/env bash
# User-space instructions per request through the forward proxy (valgrind callgrind's Ir), with
# the reporter off, on with a jsonl sink, or on with a jsonl sink and a stalled http collector:
# issue 7's three peers, for comparing builds when the machine is too noisy for requests/s
# (bench/run.sh's rounds spread by 20-30 % here; the instruction count of a build moves by ~1 %).
# Kernel work (about half of a request's CPU) is not counted, nor cache misses: a diagnostic,
# not a benchmark result.
#
#   bench/reporter_instructions.sh [MODE...]     MODE: off | jsonl | stalled (default: all three)
#
# Env: AIW_BIN (build/aiwarden of this checkout), WARMUP (3 s), DUR (8 s), CONNS (4).
# The origin is the shared harness's nginx (`GET /json`, 200 bytes); the load is wrk with the
# shared proxy.lua (absolute-form requests), first WARMUP seconds uncounted (callgrind_control
# -z), then DUR seconds counted. Prints, per mode: requests, Ir, Ir per request, and the Ir per
# request of the reporter thread alone (callgrind's per-thread dump).
set -u
MYDIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
AIW_SRC="${AIW_SRC:-$(cd "$MYDIR/.." && pwd)}"
BENCH_PEERS="${BENCH_PEERS:-$(cd "$AIW_SRC/../shared/bench-peers" 2>/dev/null && pwd)}"
[[ -f "$BENCH_PEERS/lib.sh" ]] || { echo "shared harness not found: set BENCH_PEERS" >&2; exit 1; }
# shellcheck source=/dev/null
source "$BENCH_PEERS/lib.sh"  # WORK, PIDS, start_bg, stop_pid, free_port, wait_port, start_origin
for t in valgrind callgrind_control callgrind_annotate wrk python3; do
  command -v "$t" >/dev/null || die "$t not installed (apt-get install valgrind wrk)"
done
AIW_BIN="${AIW_BIN:-$AIW_SRC/build/aiwarden}"
[[ -x "$AIW_BIN" ]] || die "aiwarden binary not found at $AIW_BIN (build it, or set AIW_BIN)"
: "${WARMUP:=3}"
: "${DUR:=8}"
: "${CONNS:=4}"
MODES=("$@")
[[ ${#MODES[@]} -gt 0 ]] || MODES=(off jsonl stalled)

start_origin
export WRK_HOST="127.0.0.1:$ORIGIN_HTTP" WRK_URL="http://127.0.0.1:$ORIGIN_HTTP/json"
# The stalled collector: accepts, never reads, never answers (as bench/run.sh's).
COLLECTOR="$(free_port)"
start_bg collector python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $COLLECTOR)); s.listen(64)
held = []
while True:
    c, _ = s.accept(); held.append(c)
"

total_ir() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'; }

for mode in "${MODES[@]}"; do
  case "$mode" in
    off) filters='[]' ;;
    jsonl) filters='[{filter: reporter, config: {sinks: [{type: jsonl, path: events.jsonl}]}}]' ;;
    stalled) filters="[{filter: reporter, config: {sinks: [{type: jsonl, path: events.jsonl},
      {type: http, url: \"http://127.0.0.1:$COLLECTOR/ingest\", timeout_ms: 2000}]}}]" ;;
    *) die "unknown mode '$mode' (off, jsonl, stalled)" ;;
  esac
  dir="$WORK/$mode"
  mkdir -p "$dir"
  port="$(free_port)"
  cat >"$dir/aiwarden.yaml" <<EOF
workers: 1
state_dir: $dir/state
admin: {address: 127.0.0.1:$(free_port), token: bench-token}
listeners: [{name: system, type: forward, address: 127.0.0.1:$port}]
filters: $filters
EOF
  start_bg "aiwarden-$mode" valgrind --tool=callgrind --separate-threads=yes \
    --callgrind-out-file="$dir/cg.out" "$AIW_BIN" run -c "$dir/aiwarden.yaml"
  pid=$BG_PID
  wait_port "$port" || die "aiwarden ($mode) did not start: $(cat "$WORK/aiwarden-$mode.log")"
  wrk -t1 -c"$CONNS" -d"${WARMUP}s" -s "$WRK_LUA" "http://127.0.0.1:$port/" >/dev/null
  callgrind_control -z "$pid" >/dev/null
  out="$(wrk -t1 -c"$CONNS" -d"${DUR}s" -s "$WRK_LUA" "http://127.0.0.1:$port/")"
  callgrind_control -d "$pid" >/dev/null
  sleep 1
  requests="$(awk '/requests in/ {print $1}' <<<"$out")"
  [[ "$requests" -gt 0 ]] || die "no requests completed ($mode): $out"
  # The counted dump (the first: cg.out.1-NN), one file per thread; the reporter thread is the
  # one whose profile names Reporter::run().
  ir=0 reporter_ir=0
  for f in "$dir"/cg.out.1-*; do
    n="$(total_ir "$f")"
    ir=$((ir + ${n:-0}))
    if grep -q 'aiw::Reporter::run()' "$f"; then
      reporter_ir=$((reporter_ir + ${n:-0}))
    fi
  done
  echo "RESULT mode=$mode requests=$requests Ir=$ir Ir_per_request=$((ir / requests))" \
    "reporter_thread_Ir_per_request=$((reporter_ir / requests))"
  stop_pid "$pid"
done
