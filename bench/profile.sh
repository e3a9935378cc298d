#!/usr/bin/env bash
# Where a peer spends its time under the S1 or S4 load: syscalls per request (strace -c) and a
# CPU profile (perf record). For diagnosing bench/run.sh figures, not a benchmark itself
# (strace slows the traced process; its req/s is not a result).
#
#   bench/profile.sh [PEER] [max|fixed]       # PEER: aiwarden (default), haproxy, squid, ...
#   TOOL=perf bench/profile.sh aiwarden max    # perf profile instead of syscall counts
#   TOOL=latency bench/profile.sh aiwarden     # S4 think time at 1 and 10 connections, vs direct
# Env: DUR (10) CONNS (50) FIXED_CONNS (10) DELAY_MS (20) TOOL (strace|perf|latency), those of run.sh.
# Output: $RESULTS_DIR/<stamp>-profile-<peer>-<load>.txt
set -u
# shellcheck source=bench/run.sh
source "$(dirname "${BASH_SOURCE[0]}")/run.sh"    # shared lib + peers, start_aiwarden; no run
PEER="${1:-aiwarden}"; LOAD="${2:-max}"; TOOL="${TOOL:-strace}"
[[ "$TOOL" == latency ]] || command -v "$TOOL" >/dev/null || die "$TOOL not installed"
mkdir -p "$RESULTS_DIR"
OUT="$RESULTS_DIR/$STAMP-profile-$TOOL-$PEER-$LOAD.txt"

start_origin 0
"start_$PEER"
if [[ "$LOAD" == fixed ]]; then CONNS="$FIXED_CONNS"; export WRK_DELAY_MS="$DELAY_MS"; fi
export WRK_HOST="127.0.0.1:$ORIGIN_HTTP"
if is_fwd "$PEER"; then export WRK_URL="http://127.0.0.1:$ORIGIN_HTTP/json"; url="http://127.0.0.1:$PEER_PORT/"
else url="http://127.0.0.1:$PEER_PORT/json"; fi
DUR=2 run_wrk "$url" >/dev/null 2>&1   # warm-up

{
  echo "# $TOOL of $PEER (pid $PEER_PID), load=$LOAD conns=$CONNS dur=${DUR}s (latency: ${DELAY_MS} ms think time, 1 and $FIXED_CONNS conns, 5 s each); loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
  if [[ "$TOOL" == latency ]]; then
    # S4 think time (DELAY_MS) with 1 and with FIXED_CONNS connections, direct first: does the
    # added latency come from the request path itself (c=1) or from requests queueing (c=10)?
    export WRK_DELAY_MS="$DELAY_MS"
    for c in 1 "$FIXED_CONNS"; do
      for target in direct "$PEER"; do
        if [[ "$target" == direct ]]; then (unset WRK_URL; CONNS=$c DUR=5 run_wrk "http://127.0.0.1:$ORIGIN_HTTP/json")
        else CONNS=$c DUR=5 run_wrk "$url"; fi | grep -o 'rps=[^ ]* p50_us=[^ ]* p90_us=[^ ]* p99_us=[^ ]*' \
          | sed "s/^/$target c=$c /"
      done
    done
  elif [[ "$TOOL" == strace ]]; then
    start_bg strace strace -c -f -q -o "$WORK/strace.txt" -p "$PEER_PID"; ST=$BG_PID
    sleep 0.5
    run_wrk "$url" >"$WORK/wrk.out" 2>&1
    stop_pid "$ST"
    cat "$WORK/wrk.out"
    reqs="$(kvn requests "$WORK/wrk.out")"
    echo "# syscalls per request (requests=$reqs):"
    awk -v r="$reqs" '$1 ~ /^[0-9.]+$/ && NF >= 5 { printf "%-16s %8.2f per request\n", $NF, $4 / (r > 0 ? r : 1) }' "$WORK/strace.txt"
    cat "$WORK/strace.txt"
  else
    run_wrk "$url" >"$WORK/wrk.out" 2>&1 &
    W=$!; PIDS+=("$W")
    sleep 1
    perf record -F 999 -g -p "$PEER_PID" -o "$WORK/perf.data" -- sleep "$((DUR - 2))" >/dev/null 2>&1
    wait "$W"
    cat "$WORK/wrk.out"
    echo "# flat profile (self time), top 40:"
    perf report -i "$WORK/perf.data" --stdio --no-children -g none --sort dso,symbol 2>/dev/null \
      | grep -v -e '^$' -e '^#' | sed 's/  */ /g' | head -40
    echo "# self time by syscall entry point (children of the libc wrapper), top 12:"
    perf report -i "$WORK/perf.data" --stdio --children -g none --sort symbol 2>/dev/null \
      | grep -E '\] (__GI___)?(epoll_ctl|epoll_wait|__GI___writev|writev|readv|__GI___readv|ioctl|__GI___ioctl|__libc_sendto|__libc_recvfrom|sendto|recvfrom|malloc|free|operator new|__libc_malloc|cfree|_int_malloc|_int_free)' \
      | sed 's/  */ /g' | head -12
  fi
} | tee "$OUT"
log "written $OUT"
