#!/usr/bin/env bash
# User-space instructions per request through the sidecar's h2c route to an h2 origin (valgrind
# callgrind's Ir), issue 4's bench/h2.sh setup without nghttpx: for comparing builds when the
# machine is too noisy for requests/s (bench/h2.sh's rounds of one peer move by up to 15 %; the
# instruction count of a build by ~1 %). Kernel work and cache misses are not counted: a
# diagnostic, not a benchmark result.
#
#   bench/h2_instructions.sh [BIN...]     (default: build/aiwarden of this checkout)
#
# Env: CONNS (1; h2load -c), STREAMS (100; -m), WARMUP_N (5000 requests, uncounted), N (30000
# requests, counted). The origin is the shared harness's nginx (TLS, ALPN h2, `GET /json`, 200
# bytes); aiwarden runs `workers: 1`, `filters: []`, one sidecar route to it, as bench/h2.sh.
# Prints, per binary: requests, Ir, Ir per request.
set -u
MYDIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
AIW_SRC="${AIW_SRC:-$(cd "$MYDIR/.." && pwd)}"
BENCH_PEERS="${BENCH_PEERS:-$(cd "$AIW_SRC/../shared/bench-peers" 2>/dev/null && pwd)}"
[[ -f "$BENCH_PEERS/lib.sh" ]] || { echo "shared harness not found: set BENCH_PEERS" >&2; exit 1; }
# shellcheck source=/dev/null
source "$BENCH_PEERS/lib.sh"  # WORK, PIDS, start_bg, stop_pid, free_port, wait_port, start_origin
# shellcheck source=/dev/null
source "$MYDIR/aiw_lib.sh"  # write_h2_sidecar_config
for t in valgrind callgrind_control callgrind_annotate h2load; do
  command -v "$t" >/dev/null || die "$t not installed (apt-get install valgrind nghttp2-client)"
done
: "${CONNS:=1}"
: "${STREAMS:=100}"
: "${WARMUP_N:=5000}"
: "${N:=30000}"
BINS=("$@")
[[ ${#BINS[@]} -gt 0 ]] || BINS=("$AIW_SRC/build/aiwarden")
TOKEN=bench-token

start_origin
i=0
for bin in "${BINS[@]}"; do
  [[ -x "$bin" ]] || die "not an executable: $bin"
  i=$((i + 1))
  dir="$WORK/aiw-$i"
  mkdir -p "$dir"
  port="$(free_port)"
  write_h2_sidecar_config "$dir/aiwarden.yaml" "$dir" "$port"
  start_bg "aiwarden-$i" valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" \
    "$bin" run -c "$dir/aiwarden.yaml"
  pid=$BG_PID
  wait_port "$port" || die "aiwarden did not start: $(cat "$WORK/aiwarden-$i.log")"
  load() {
    h2load -t 1 -c "$CONNS" -m "$STREAMS" -n "$1" -H "x-proxy-token: $TOKEN" \
      "http://127.0.0.1:$port/json" | grep '^requests:'
  }
  warm="$(load "$WARMUP_N")"
  [[ "$warm" == *" $WARMUP_N succeeded"* ]] || die "warm-up failed: $warm"
  callgrind_control -z "$pid" >/dev/null
  counted="$(load "$N")"
  callgrind_control -d "$pid" >/dev/null
  [[ "$counted" == *" $N succeeded"* ]] || die "counted run failed: $counted"
  sleep 1
  ir="$(callgrind_annotate "$dir/cg.out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')"
  echo "RESULT bin=$bin requests=$N Ir=$ir Ir_per_request=$((ir / N))"
  stop_pid "$pid"
done
