#!/usr/bin/env bash
# aiwarden benchmark of issue 2: S1, S4, S3 and RSS, side by side with peer proxies, one run.
#
# Reuses the shared peer harness (../shared/bench-peers: lib.sh for ports, start/stop by PID,
# CPU/RSS accounting, origin nginx + PKI, emit/ratio; peers.sh for squid, tinyproxy, nginx_fwd,
# haproxy...) by sourcing it. Only aiwarden's start function is replaced: the shared
# conf/aiwarden.yaml names filters this build does not have yet, so aiwarden runs here with an
# empty filter chain (every CONNECT is a blind tunnel).
#
#   bench/run.sh                                  # ROUNDS=3 DUR=10, all scenarios, ~11 min
#   ROUNDS=1 DUR=5 bench/run.sh                   # smoke run, ~2.5 min
#   PEERS="direct squid aiwarden" SCENARIOS="S1 S4" bench/run.sh
#   PEERS="direct aiwarden aiwarden_rep_jsonl aiwarden_rep_stalled" SCENARIOS=S1 bench/run.sh
#       issue 7's benchmark: the reporter off (aiwarden), on with a jsonl sink, and on with an
#       http sink whose collector accepts TCP and never answers (a stalled dashboard); target:
#       each within 10 % of reporter-off requests/s
#
# Env: ROUNDS (3) DUR (10 s per wrk run) CONNS (50) PEERS SCENARIOS ("S1 S4 S3")
#      FIXED_CONNS (10) DELAY_MS (20)  -- S4 load: 10 conns x 20 ms think time, ~490 req/s
#      BIG_MIB (1024) MAX_TIME (120)    -- S3 download size and per-download bound
#      AIW_BIN (build/aiwarden of this checkout) AIW_WORKERS (1)
#      RESULTS_DIR ($TMPDIR/aiwarden-bench/results) STAMP KEEP_WORK (1: keep scratch dir)
# Output: RESULT lines on stdout, TSV rows in $RESULTS_DIR/$STAMP-S*.tsv, the shared
# summarize.py tables plus the issue-2 target table in $RESULTS_DIR/$STAMP-summary.md.
set -u
MYDIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
AIW_SRC="${AIW_SRC:-$(cd "$MYDIR/.." && pwd)}"
BENCH_PEERS="${BENCH_PEERS:-$(cd "$AIW_SRC/../shared/bench-peers" 2>/dev/null && pwd)}"
[[ -f "$BENCH_PEERS/lib.sh" ]] || { echo "shared harness not found: set BENCH_PEERS" >&2; exit 1; }
: "${RESULTS_DIR:=${TMPDIR:-/tmp}/aiwarden-bench/results}"
export RESULTS_DIR

# shellcheck source=/dev/null
source "$BENCH_PEERS/lib.sh"      # sets HERE (the shared dir), WORK, PIDS, traps, ROUNDS, DUR, CONNS
# shellcheck source=/dev/null
source "$BENCH_PEERS/peers.sh"
# shellcheck source=aiw_lib.sh
source "$MYDIR/aiw_lib.sh"         # aiw_wait_ready, admin_get, json_field

: "${PEERS:=direct squid aiwarden nginx_fwd tinyproxy haproxy}"
: "${SCENARIOS:=S1 S4 S3}"
: "${FIXED_CONNS:=10}"
: "${DELAY_MS:=20}"
: "${BIG_MIB:=1024}"
: "${MAX_TIME:=120}"
MAX_CONNS="$CONNS"

for t in wrk curl bc python3; do command -v "$t" >/dev/null || die "$t not installed (sudo $BENCH_PEERS/setup.sh)"; done

# The binary under test is copied once, so a rebuild of build/ during the run cannot mix binaries.
AIW_BIN="${AIW_BIN:-$AIW_SRC/build/aiwarden}"
[[ -x "$AIW_BIN" ]] || die "aiwarden binary not found at $AIW_BIN (build it, or set AIW_BIN)"
AIW_EXE="$WORK/aiwarden.bin"
cp "$AIW_BIN" "$AIW_EXE"
AIW_SHA="$(sha256sum "$AIW_EXE" | cut -c1-12)"

# ---------- aiwarden as a peer (replaces peers.sh's start_aiwarden) ----------
# AIW_FILTERS: the filter chain (YAML flow sequence); the reporter peers below set it.
start_aiwarden() {
  local d i; d="$(_peer_dir "${AIW_PEER_NAME:-aiwarden}")"; PEER_PORT="$(free_port)"; AIW_ADMIN="$(free_port)"
  cat >"$d/aiwarden.yaml" <<EOF
workers: ${AIW_WORKERS:-1}
state_dir: $d/state
admin: {address: 127.0.0.1:$AIW_ADMIN, token: bench-token}
listeners: [{name: system, type: forward, address: 127.0.0.1:$PEER_PORT}]
upstream:
  resolve: {"origin.test:$ORIGIN_HTTPS": "127.0.0.1:$ORIGIN_HTTPS"}
filters: ${AIW_FILTERS:-[]}
EOF
  start_bg aiwarden "$AIW_EXE" run -c "$d/aiwarden.yaml"
  PEER_PID=$BG_PID
  aiw_wait_ready "$WORK/aiwarden.log" aiwarden
}

# The reporter on: every exchange an event, written to a jsonl file under the state dir.
start_aiwarden_rep_jsonl() {
  AIW_PEER_NAME=aiwarden_rep_jsonl \
  AIW_FILTERS='[{filter: reporter, config: {sinks: [{type: jsonl, path: events.jsonl}]}}]' \
    start_aiwarden
}
# The reporter on with a stalled collector: it accepts TCP and never answers, so every POST
# times out and the events pile up in the sink's spool (bounded) — traffic must not notice.
start_aiwarden_rep_stalled() {
  local port; port="$(free_port)"
  start_bg stalled-collector python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port)); s.listen(64)
held = []
while True:
    c, _ = s.accept(); held.append(c)   # accepted, never read, never answered
"
  STALLED_PID=$BG_PID
  AIW_PEER_NAME=aiwarden_rep_stalled \
  AIW_FILTERS="[{filter: reporter, config: {sinks: [{type: jsonl, path: events.jsonl}, {type: http, url: \"http://127.0.0.1:$port/ingest\", timeout_ms: 2000}]}}]" \
    start_aiwarden
}

# keep aiwarden's log and metrics of each run next to the results (errors are diagnosed from them)
save_aiwarden() {   # save_aiwarden TAG
  [[ -n "${AIW_ADMIN:-}" ]] || return 0
  curl -s --max-time 2 -H 'X-Proxy-Token: bench-token' "http://127.0.0.1:$AIW_ADMIN/proxy/v1/metrics" \
    >"$RESULTS_DIR/$STAMP-aiwarden-$1.metrics.json" 2>/dev/null
  cp "$WORK/aiwarden.log" "$RESULTS_DIR/$STAMP-aiwarden-$1.log" 2>/dev/null
  AIW_ADMIN=""
}

is_fwd() { case "$1" in squid|tinyproxy|mitmproxy|nginx_fwd|aiwarden|aiwarden_rep_*) return 0;; *) return 1;; esac; }
is_tunnel() { case "$1" in direct|squid|tinyproxy|aiwarden) return 0;; *) return 1;; esac; }

# wrk_sampled URL: run_wrk, sampling the proxy's RSS (tree) and its established upstream
# connections to the origin every second while the load runs -> $WORK/sample
wrk_sampled() {
  local w peak=0 r up=0 u
  run_wrk "$@" &
  w=$!; PIDS+=("$w")
  sleep 1
  while kill -0 "$w" 2>/dev/null; do
    if [[ "$PEER_PID" != "-" ]]; then
      r="$(rss_kb "$PEER_PID")"; ((r > peak)) && peak=$r
      u="$(ss -Htn state established "( dport = :$ORIGIN_HTTP )" 2>/dev/null | wc -l)"; ((u > up)) && up=$u
    fi
    sleep 1
  done
  wait "$w"; r=$?
  unset 'PIDS[${#PIDS[@]}-1]'
  echo "$peak $up" >"$WORK/sample"
  return "$r"
}

# ---------- S1 / S4: plaintext HTTP/1.1 keep-alive (as ../shared/bench-peers/s1_http_plain.sh) ----------
run_http() {   # run_http SCEN max|fixed
  local SCEN="$1" LOAD="$2" round peer url out rps p50 p99 errs err_read cpu rss peak up code
  local direct_rps direct_p50 direct_p99
  RESULTS=""
  if [[ "$LOAD" == fixed ]]; then CONNS="$FIXED_CONNS"; export WRK_DELAY_MS="$DELAY_MS"
  else CONNS="$MAX_CONNS"; unset WRK_DELAY_MS; fi
  log "$SCEN load=$LOAD conns=$CONNS dur=${DUR}s rounds=$ROUNDS peers=[$PEERS]; loadavg: $(cut -d' ' -f1-3 /proc/loadavg)"
  for round in $(seq 1 "$ROUNDS"); do
    direct_rps=""; direct_p50=""; direct_p99=""
    for peer in $PEERS; do
      unset WRK_URL
      export WRK_HOST="127.0.0.1:$ORIGIN_HTTP"
      if [[ "$peer" == direct ]]; then
        PEER_PID="-"; url="http://127.0.0.1:$ORIGIN_HTTP/json"
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url")"
      else
        "start_$peer"
        if is_fwd "$peer"; then
          export WRK_URL="http://127.0.0.1:$ORIGIN_HTTP/json"; url="http://127.0.0.1:$PEER_PORT/"
          code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -x "http://127.0.0.1:$PEER_PORT" "$WRK_URL")"
        else
          url="http://127.0.0.1:$PEER_PORT/json"
          code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url")"
        fi
      fi
      [[ "$code" == 200 ]] || log "WARNING $peer: sanity request answered $code"
      DUR=2 run_wrk "$url" >/dev/null 2>&1   # warm-up (pools), not measured
      measure "$PEER_PID" "$ORIGIN_PID" wrk_sampled "$url"
      out="$WORK/last.out"
      grep -q '^RESULT' "$out" || log "$peer: wrk failed: $(cat "$WORK/last.err")"
      rps="$(kvn rps "$out")"; p50="$(kvn p50_us "$out")"; p99="$(kvn p99_us "$out")"
      errs=$(( $(kvn err_connect "$out") + $(kvn err_write "$out") + $(kvn err_status "$out") + $(kvn err_timeout "$out") ))
      err_read="$(kvn err_read "$out")"
      read -r peak up <"$WORK/sample"
      if [[ "$peer" == direct ]]; then
        direct_rps="$rps"; direct_p50="$p50"; direct_p99="$p99"; cpu="$MEAS_OCPU"; rss=0; peak=0
      else
        cpu="$MEAS_CPU"; rss="$MEAS_RSS"
      fi
      emit "$SCEN" "$peer" "$round" "rps=$rps" "p50_us=$p50" "p99_us=$p99" "cpu_pct=$cpu" "rss_mb=$rss" \
        "origin_cpu_pct=$MEAS_OCPU" "errors=$errs" "err_read=$err_read" "ratio_rps=$(ratio "$rps" "$direct_rps")" \
        "add_p50_us=$(( p50 - ${direct_p50:-$p50} ))" "add_p99_us=$(( p99 - ${direct_p99:-$p99} ))" \
        "load=$LOAD" "conns=$CONNS" "rss_load_mb=$(printf '%.1f' "$(echo "$peak / 1024" | bc -l)")" \
        "upstream_conns=$up" "max_us=$(kvn max_us "$out")" "loadavg=$(cut -d' ' -f1 /proc/loadavg)"
      if [[ "$peer" != direct ]]; then
        [[ "$peer" == aiwarden* ]] && save_aiwarden "$peer-$SCEN-r$round"
        stop_peer
        if [[ -n "${STALLED_PID:-}" ]]; then stop_pid "$STALLED_PID"; STALLED_PID=""; fi
      fi
    done
  done
  CONNS="$MAX_CONNS"; unset WRK_DELAY_MS
}

# ---------- S3: 1 GiB through a blind CONNECT tunnel (as ../shared/bench-peers/s3_tunnel_bw.sh) ----------
fetch() { curl -s -o /dev/null --max-time "$MAX_TIME" -w '%{http_code} %{size_download}\n' "$@"; }
run_s3() {
  local SCEN=S3 round peer mode url code size mbps cpu rss cpg errs PX extra
  local -A DIRECT=()
  RESULTS=""
  log "$SCEN big=${BIG_MIB}MiB rounds=$ROUNDS; loadavg: $(cut -d' ' -f1-3 /proc/loadavg)"
  for round in $(seq 1 "$ROUNDS"); do
    for peer in $PEERS; do
      is_tunnel "$peer" || continue
      PX=()
      if [[ "$peer" == direct ]]; then PEER_PID="-"
      else "start_$peer"; PX=(-x "http://127.0.0.1:$PEER_PORT"); fi
      for mode in tls plain; do
        if [[ "$mode" == tls ]]; then
          url="https://127.0.0.1:$ORIGIN_HTTPS/big.bin"; extra=(--cacert "$WORK/pki/origin-ca.pem")
          [[ "$peer" == aiwarden ]] && url="https://origin.test:$ORIGIN_HTTPS/big.bin"   # upstream.resolve
        else
          url="http://127.0.0.1:$ORIGIN_HTTP/big.bin"; extra=()
          [[ "$peer" == direct ]] || extra=(-p)   # CONNECT, plain HTTP inside the tunnel
        fi
        measure "$PEER_PID" "$ORIGIN_PID" fetch "${PX[@]}" "${extra[@]}" "$url"
        read -r code size <"$WORK/last.out"
        mbps="$(printf '%.1f' "$(echo "${size:-0} / 1000000 / $MEAS_WALL" | bc -l)")"
        if [[ "$peer" == direct ]]; then DIRECT[$mode]="$mbps"; cpu="$MEAS_OCPU"; rss=0
        else cpu="$MEAS_CPU"; rss="$MEAS_RSS"; fi
        cpg="$(printf '%.2f' "$(echo "($cpu / 100) * $MEAS_WALL / (${size:-1} / 1000000000)" | bc -l)")"
        [[ "$code" == 200 && "$size" == "$((BIG_MIB * 1048576))" ]] && errs=0 || errs=1
        emit "$SCEN" "$peer" "$round" "mode=$mode" "mbps=$mbps" "cpu_pct=$cpu" "rss_mb=$rss" \
          "origin_cpu_pct=$MEAS_OCPU" "cpu_s_per_gb=$cpg" "secs=$MEAS_WALL" "errors=$errs" \
          "ratio_mbps=$(ratio "$mbps" "${DIRECT[$mode]:-}")" "loadavg=$(cut -d' ' -f1 /proc/loadavg)"
      done
      if [[ "$peer" != direct ]]; then
        [[ "$peer" == aiwarden ]] && save_aiwarden "$SCEN-r$round"
        stop_peer
      fi
    done
  done
}

# ---------- main ----------
main() {
  mkdir -p "$RESULTS_DIR"
  {
    echo "stamp: $STAMP"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -srm); $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "aiwarden: $AIW_BIN ($(stat -c '%y' "$AIW_BIN" | cut -d. -f1), sha256 $AIW_SHA); git $(git -C "$AIW_SRC" rev-parse --short HEAD 2>/dev/null)$(git -C "$AIW_SRC" diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted src changes')"
    echo "peers: $PEERS; scenarios: $SCENARIOS; rounds=$ROUNDS dur=${DUR}s conns=$MAX_CONNS fixed=${FIXED_CONNS}x${DELAY_MS}ms big=${BIG_MIB}MiB"
    echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  } | tee "$RESULTS_DIR/$STAMP-env.txt" >&2

  case " $SCENARIOS " in *" S3 "*) start_origin "$BIG_MIB"; cat "$WORK/origin/www/big.bin" >/dev/null ;; *) start_origin 0 ;; esac
  for s in $SCENARIOS; do
    case "$s" in
      S1) run_http S1 max ;;
      S4) run_http S4 fixed ;;
      S3) run_s3 ;;
      *) die "unknown scenario $s (S1 S4 S3)" ;;
    esac
    echo "loadavg after $s: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RESULTS_DIR/$STAMP-env.txt" >&2
  done

  {
    python3 "$HERE/summarize.py" "$STAMP"
    python3 "$MYDIR/targets.py" "$STAMP"
    echo; cat "$RESULTS_DIR/$STAMP-env.txt"
  } | tee "$RESULTS_DIR/$STAMP-summary.md"
  log "results: $RESULTS_DIR/$STAMP-*  (summary: $STAMP-summary.md)"
}

# Sourced (e.g. by bench/profile.sh): only the functions above; executed: the whole run.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then main; fi
