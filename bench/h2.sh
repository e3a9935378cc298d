#!/usr/bin/env bash
# aiwarden benchmarks of issue 4 (HTTP/2): h2load through the sidecar's h2c route to an h2 origin,
# side by side with nghttpx as a reverse proxy in one run; and the proxy's RSS per idle h2
# connection. Target (issue 4): aiwarden >= 1.0x nghttpx requests/s at 100 concurrent streams.
#
#   bench/h2.sh                                       # ROUNDS=3 DUR=10 WARMUP=2, ~4 min
#   ROUNDS=1 DUR=5 bench/h2.sh                        # smoke run, ~1.5 min
#   AIW_BIN=/tmp/aiw-h2-bin/aiwarden bench/h2.sh      # another binary (copied once)
#   LOADS=c1 PEERS="nghttpx aiwarden" IDLE_N=0 bench/h2.sh
#
# Setup: everything on 127.0.0.1 of this machine, sharing its CPUs (2 vCPUs on the team's VM):
# aiwarden with `workers: 1` (one event-loop thread), nghttpx with one worker (--single-thread
# --workers=1), the origin nginx with one worker, and h2load with one thread (-t 1).
#
# The origin: the shared harness's nginx (../shared/bench-peers/lib.sh start_origin, throw-away
# PKI: a CA and a leaf for origin.test + 127.0.0.1), `listen ... ssl http2`, GET /json -> a
# 200-byte JSON body. Every peer is asked GET /json with `x-proxy-token: bench-token` (aiwarden
# needs it and removes it; the others pass it on).
# Peers:
#   direct    h2load -> the origin, TLS + ALPN h2 (https://origin.test:PORT/json, --connect-to)
#   nghttpx   h2load h2c -> nghttpx reverse proxy (frontend no-tls; backend the same origin with
#             `;proto=h2;tls;sni=origin.test`, verified against the origin CA)
#   aiwarden  h2load h2c (prior knowledge) -> aiwarden sidecar listener, route
#             {prefix: /, upstream: "https://origin.test/"}, upstream.resolve origin.test:443 ->
#             the origin, upstream.ca_file = the origin CA; aiwarden offers ALPN h2 upstream and
#             multiplexes the exchanges over shared h2 connections; `filters: []`
# Loads (LOADS): c1 = `h2load -c 1 -m 100` (one connection, 100 concurrent streams), c10 =
# `h2load -c 10 -m 100` (1000 streams in flight); each `--warm-up-time=WARMUP -D DUR`.
# Every round runs direct, then nghttpx and aiwarden (even rounds: aiwarden first), each proxy
# a fresh process for the round (c1 then c10 on it).
# Checks that abort the run: before the load, one GET /json through the peer answers 200 over
# HTTP/2 with the origin's exact body; h2load reports 0 failed / errored / timed-out requests and
# every done request 2xx; after each aiwarden load its /proxy/v1/metrics has errors 0 and at
# least as many calls as h2load requests.
# Reported per peer and load: req/s (h2load's, measured part only), mean request time, the
# proxy's CPU % (utime+stime of its process tree over the run, warm-up included; 100 = one
# core), CPU µs per request (CPU % / req/s), peak RSS during the load (sampled each second),
# established proxy -> origin connections (peak), origin and h2load CPU %, and the CPU % the rest
# of the machine used meanwhile (/proc/stat busy time minus those three: other sessions' builds
# show up there); ratios aiwarden / nghttpx and aiwarden / direct, median of the per-round ratios.
#
# Idle connections (IDLE_N > 0, IDLE_PEERS): a small client (Python, written to the scratch dir)
# opens IDLE_N h2c connections in two steps (IDLE_N/2, then IDLE_N) to a fresh proxy, each sends
# the preface + an empty SETTINGS, reads the server's SETTINGS and ACKs it, then stays idle;
# RSS of the proxy's process tree before, after each step (+ IDLE_SETTLE s) and after closing
# them all; KiB per connection = (RSS at N - RSS before) / N, and the marginal figure of the
# second step. All connections must still be open at the end (aiwarden: metrics
# connections.open = N). Bounded: IDLE_N <= 10000, every step and the hold <= 60 s.
#
# Env: ROUNDS (3) DUR (10) WARMUP (2) STREAMS (100) LOADS ("c1 c10") PEERS ("direct nghttpx aiwarden")
#      IDLE_N (1000; 0 = skip) IDLE_PEERS ("aiwarden nghttpx") IDLE_SETTLE (2)
#      AIW_BIN (build/aiwarden) AIW_WORKERS (1) ORIGIN_WORKERS (1)
#      RESULTS_DIR ($TMPDIR/aiwarden-bench/results) STAMP KEEP_WORK (1: keep the scratch dir)
# Output: RESULT lines (per peer, load and round; the idle figures; the summary), TSV rows in
# $RESULTS_DIR/$STAMP-h2.tsv and $STAMP-h2idle.tsv, the summary in $STAMP-h2-summary.md,
# aiwarden's configuration, log and metrics of every run, each h2load output ($STAMP-h2-*).
set -u
MYDIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
AIW_SRC="${AIW_SRC:-$(cd "$MYDIR/.." && pwd)}"
BENCH_PEERS="${BENCH_PEERS:-$(cd "$AIW_SRC/../shared/bench-peers" 2>/dev/null && pwd)}"
[[ -f "$BENCH_PEERS/lib.sh" ]] || { echo "shared harness not found: set BENCH_PEERS" >&2; exit 1; }
: "${RESULTS_DIR:=${TMPDIR:-/tmp}/aiwarden-bench/results}"
export RESULTS_DIR

# shellcheck source=/dev/null
source "$BENCH_PEERS/lib.sh"      # HERE, WORK, PIDS + cleanup traps, ROUNDS, DUR, STAMP, start_origin
# shellcheck source=/dev/null
source "$BENCH_PEERS/peers.sh"    # _peer_dir, _peer_wait, stop_peer
# shellcheck source=aiw_lib.sh
source "$MYDIR/aiw_lib.sh"         # aiw_wait_ready, admin_get, json_field

: "${WARMUP:=2}"
: "${STREAMS:=100}"
: "${LOADS=c1 c10}"          # empty: none (idle test only)
: "${PEERS=direct nghttpx aiwarden}"   # empty: none
: "${IDLE_N:=1000}"
: "${IDLE_PEERS:=aiwarden nghttpx}"
: "${IDLE_SETTLE:=2}"
SCEN=h2
TOKEN=bench-token
ORIGIN_NAME=origin.test            # the shared make_certs() leaf: SAN origin.test, 127.0.0.1
URL_PATH=/json                     # lib.sh's origin: a 200-byte JSON body

[[ "$DUR" =~ ^[0-9]+$ && "$DUR" -ge 1 && "$DUR" -le 600 ]] || die "DUR must be 1..600 seconds"
[[ "$WARMUP" =~ ^[0-9]+$ && "$WARMUP" -ge 1 && "$WARMUP" -le 60 ]] || die "WARMUP must be 1..60 seconds"
[[ "$ROUNDS" =~ ^[0-9]+$ && "$ROUNDS" -ge 1 && "$ROUNDS" -le 20 ]] || die "ROUNDS must be 1..20"
[[ "$STREAMS" =~ ^[0-9]+$ && "$STREAMS" -ge 1 && "$STREAMS" -le 1000 ]] || die "STREAMS must be 1..1000"
[[ "$IDLE_N" =~ ^[0-9]+$ && "$IDLE_N" -le 10000 ]] || die "IDLE_N must be 0..10000"
[[ "$IDLE_SETTLE" =~ ^[0-9]+$ && "$IDLE_SETTLE" -le 30 ]] || die "IDLE_SETTLE must be 0..30 seconds"
for l in $LOADS; do [[ "$l" =~ ^c[0-9]+$ && "${l#c}" -ge 1 && "${l#c}" -le 100 ]] || die "LOADS: c1..c100, not $l"; done
for p in $PEERS; do case "$p" in direct|nghttpx|aiwarden) ;; *) die "unknown peer $p (direct nghttpx aiwarden)";; esac; done
for p in $IDLE_PEERS; do case "$p" in nghttpx|aiwarden) ;; *) die "unknown idle peer $p (aiwarden nghttpx)";; esac; done

# ---------- tools: h2load (nghttp2-client) and nghttpx (nghttp2-proxy), as setup.sh installs them ----------
need_pkgs=()
command -v h2load >/dev/null || need_pkgs+=(nghttp2-client)
[[ -x /usr/sbin/nghttpx ]] || need_pkgs+=(nghttp2-proxy)
command -v /usr/sbin/nginx >/dev/null || need_pkgs+=(nginx-light)
for t in curl bc python3 openssl; do command -v "$t" >/dev/null || need_pkgs+=("$t"); done
command -v ss >/dev/null || need_pkgs+=(iproute2)
if ((${#need_pkgs[@]})); then
  [[ "$(id -u)" == 0 ]] || die "missing ${need_pkgs[*]}: sudo $BENCH_PEERS/setup.sh (or apt-get install nghttp2-client nghttp2-proxy)"
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null 2>&1 ||
    { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null; } ||
    die "could not install ${need_pkgs[*]}"
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true   # IDLE_N connections: client and proxy inherit it

# ---------- the binary under test, copied once (a rebuild during the run cannot mix binaries) ----------
AIW_BIN="${AIW_BIN:-$AIW_SRC/build/aiwarden}"
[[ -x "$AIW_BIN" ]] || die "aiwarden binary not found at $AIW_BIN (build it, or set AIW_BIN)"
AIW_EXE="$WORK/aiwarden.bin"
cp "$AIW_BIN" "$AIW_EXE"
AIW_SHA="$(sha256sum "$AIW_EXE" | cut -c1-12)"

# ---------- peers ----------
start_h2_nghttpx() {   # reverse proxy: h2c frontend, TLS h2 backend (the origin), one worker
  local d; d="$(_peer_dir nghttpx-h2)"; PEER_PORT="$(free_port)"
  start_bg nghttpx-h2 /usr/sbin/nghttpx --conf=/dev/null --single-thread --workers=1 \
    "--frontend=127.0.0.1,$PEER_PORT;no-tls" \
    "--backend=127.0.0.1,$ORIGIN_HTTPS;;proto=h2;tls;sni=$ORIGIN_NAME" \
    --cacert="$WORK/pki/origin-ca.pem" --errorlog-file="$d/error.log" --no-via --no-ocsp \
    --backend-keep-alive-timeout=120s --frontend-keep-alive-timeout=120s --pid-file="$d/pid"
  PEER_PID=$BG_PID; AIW_ADMIN=""
  _peer_wait 30 nghttpx-h2
}

AIW_ADMIN=""
start_h2_aiwarden() {   # start_h2_aiwarden TAG: sidecar listener with one route to the origin
  local tag="$1" d i
  d="$(_peer_dir "aiw-$tag")"; PEER_PORT="$(free_port)"; AIW_ADMIN="$(free_port)"
  AIW_LOG="$WORK/aiw-$tag.log"
  cat >"$d/aiwarden.yaml" <<EOF
# HTTP/2 benchmark, $tag
workers: ${AIW_WORKERS:-1}
state_dir: $d/state
admin: {address: 127.0.0.1:$AIW_ADMIN, token: $TOKEN}
listeners:
  - {name: agent, type: sidecar, address: 127.0.0.1:$PEER_PORT, routes: [{prefix: /, upstream: "https://$ORIGIN_NAME/"}]}
upstream: {ca_file: $WORK/pki/origin-ca.pem, resolve: {"$ORIGIN_NAME:443": "127.0.0.1:$ORIGIN_HTTPS"}}
filters: []
EOF
  "$AIW_EXE" check -c "$d/aiwarden.yaml" >"$d/check.out" 2>&1 ||
    die "aiwarden refused the configuration ($d/aiwarden.yaml):
$(cat "$d/check.out")"
  [[ -f "$RESULTS_DIR/$STAMP-$SCEN-aiwarden.yaml" ]] || cp "$d/aiwarden.yaml" "$RESULTS_DIR/$STAMP-$SCEN-aiwarden.yaml"
  start_bg "aiw-$tag" "$AIW_EXE" run -c "$d/aiwarden.yaml" --log-format json
  PEER_PID=$BG_PID
  aiw_wait_ready "$AIW_LOG" aiwarden
  wait_port "$PEER_PORT" 5 || die "$tag: the sidecar listener is not listening on $PEER_PORT"
}

aiw_state() {   # for error messages
  [[ -n "$AIW_ADMIN" ]] || return 0
  printf '\n  aiwarden /proxy/v1/metrics: %s' "$(admin_get /proxy/v1/metrics | cut -c1-300)"
  printf '\n  aiwarden log tail:\n%s' "$(tail -5 "$AIW_LOG")"
}

# probe PEER: one GET through the peer answers 200 over HTTP/2 with the origin's exact body
probe() {
  local peer="$1" r
  if [[ "$peer" == direct ]]; then
    r="$(curl -s --http2 -o "$WORK/probe.out" -w '%{http_code} %{http_version}' --max-time 5 \
      --cacert "$WORK/pki/origin-ca.pem" --resolve "$ORIGIN_NAME:$ORIGIN_HTTPS:127.0.0.1" \
      -H "x-proxy-token: $TOKEN" "https://$ORIGIN_NAME:$ORIGIN_HTTPS$URL_PATH")"
  else
    r="$(curl -s --http2-prior-knowledge -o "$WORK/probe.out" -w '%{http_code} %{http_version}' --max-time 5 \
      -H "x-proxy-token: $TOKEN" "http://127.0.0.1:$PEER_PORT$URL_PATH")"
  fi
  [[ "$r" == "200 2" ]] && cmp -s "$WORK/probe.out" "$WORK/origin/www/json" ||
    die "$peer: GET $URL_PATH answered '$r' $(head -c 200 "$WORK/probe.out"), expected 200 over HTTP/2 with the origin's body$(aiw_state)"
}

# h2load_run PEER CONNS SECONDS WARMUP: h2load against PEER, its CPU time appended ("CLIENT_CPU u s")
h2load_run() {
  local peer="$1" c="$2" secs="$3" warm="$4"
  local common=(-t 1 -c "$c" -m "$STREAMS" -D "$secs" --warm-up-time="$warm" -H "x-proxy-token: $TOKEN")
  (
    if [[ "$peer" == direct ]]; then
      h2load "${common[@]}" --connect-to="127.0.0.1:$ORIGIN_HTTPS" "https://$ORIGIN_NAME:$ORIGIN_HTTPS$URL_PATH"
    else
      h2load "${common[@]}" "http://127.0.0.1:$PEER_PORT$URL_PATH"
    fi
    rc=$?
    times >"$WORK/times.txt"   # not in a pipeline: a forked builtin would report its own (zero) children
    tail -1 "$WORK/times.txt" | sed 's/^/CLIENT_CPU /'
    exit "$rc"
  )
}

# h2load_sampled PEER CONNS: h2load, sampling the proxy's RSS (tree) and its established
# connections to the origin every second while the load runs -> $WORK/sample ("PEAK_KB UPSTREAM")
h2load_sampled() {
  local w peak=0 r up=0 u
  h2load_run "$1" "$2" "$DUR" "$WARMUP" &
  w=$!; PIDS+=("$w")
  sleep 1
  while kill -0 "$w" 2>/dev/null; do
    if [[ "$PEER_PID" != "-" ]]; then
      r="$(rss_kb "$PEER_PID")"; ((r > peak)) && peak=$r
      u="$(ss -Htn state established "( dport = :$ORIGIN_HTTPS )" 2>/dev/null | wc -l)"; ((u > up)) && up=$u
    fi
    sleep 1
  done
  wait "$w"; r=$?
  unset 'PIDS[${#PIDS[@]}-1]'
  echo "$peak $up" >"$WORK/sample"
  return "$r"
}

# parse_h2load FILE -> key=value words (rps total done ok failed errored timeout s2xx non2xx mean_ms client_cpu_s)
parse_h2load() {
  python3 - "$1" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
o = {}
m = re.search(r"finished in ([\d.]+)s, ([\d.]+) req/s", t)
if m: o["rps"] = m.group(2)
m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", t)
if m: o.update(zip(["total", "started", "done", "ok", "failed", "errored", "timeout"], m.groups()))
m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", t)
if m:
    o["s2xx"] = m.group(1); o["non2xx"] = str(sum(int(x) for x in m.groups()[1:]))
def ms(v):
    n, u = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[u]
m = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", t)
if m: o["mean_ms"] = "%.2f" % ms(m.group(3)); o["max_ms"] = "%.2f" % ms(m.group(2))
m = re.search(r"^CLIENT_CPU (\d+)m([\d.]+)s (\d+)m([\d.]+)s", t, re.M)
if m: o["client_cpu_s"] = "%.2f" % (int(m.group(1)) * 60 + float(m.group(2)) + int(m.group(3)) * 60 + float(m.group(4)))
m = re.search(r"Application protocol: (\S+)", t)
if m: o["alpn"] = m.group(1)
print(" ".join("%s=%s" % kv for kv in o.items()))
EOF
}

host_ticks() {   # busy ticks of the whole machine (all CPUs: user nice system irq softirq), "BUSY TOTAL"
  awk '/^cpu /{b=$2+$3+$4+$7+$8; t=b+$5+$6; print b, t}' /proc/stat
}

# one_load PEER LOAD(cN) ROUND: warm-up + measured h2load, checks, one RESULT line
TOTAL_CALLS=0
one_load() {
  local peer="$1" load="$2" round="$3" c="${2#c}" tag="$1-$2-r$3" out="$WORK/last.out" p rps total
  local peak up cpu cpu_us rss ccpu m calls errs
  local s0 s1 t0 t1 host
  s0="$(host_ticks)"; t0="$(date +%s.%N)"
  measure "$PEER_PID" "$ORIGIN_PID" h2load_sampled "$peer" "$c"
  s1="$(host_ticks)"; t1="$(date +%s.%N)"
  cat "$WORK/last.err" >>"$out"
  cp "$out" "$RESULTS_DIR/$STAMP-$SCEN-h2load-$tag.txt"
  read -r peak up <"$WORK/sample"
  p="$(parse_h2load "$out")"
  echo "$p" >"$WORK/parsed"
  rps="$(kv rps "$WORK/parsed")"; total="$(kvn total "$WORK/parsed")"
  [[ -n "$rps" && "$total" -gt 0 ]] || die "$tag: h2load gave no result: $(tail -5 "$out" | tr '\n' ' ')$(aiw_state)"
  [[ "$(kvn failed "$WORK/parsed")" == 0 && "$(kvn errored "$WORK/parsed")" == 0 && "$(kvn timeout "$WORK/parsed")" == 0 &&
     "$(kvn non2xx "$WORK/parsed")" == 0 && "$(kvn s2xx "$WORK/parsed")" == "$(kvn "done" "$WORK/parsed")" &&
     "$(kvn ok "$WORK/parsed")" == "$(kvn "done" "$WORK/parsed")" ]] ||
    die "$tag: h2load: $p$(aiw_state)"
  [[ "$(kv alpn "$WORK/parsed")" == "$([[ $peer == direct ]] && echo h2 || echo h2c)" ]] ||
    die "$tag: h2load did not speak HTTP/2 ($(kv alpn "$WORK/parsed"))"
  ccpu="$(printf '%.1f' "$(echo "100 * $(kvn client_cpu_s "$WORK/parsed") / $MEAS_WALL" | bc -l)")"
  # the whole machine over the run (100 = one CPU): what h2load, proxy and origin leave to others
  host="$(printf '%.1f' "$(echo "100 * (${s1% *} - ${s0% *}) / $CLK_TCK / ($t1 - $t0)" | bc -l)")"
  if [[ "$peer" == direct ]]; then
    cpu=0; cpu_us=NA; rss=NA; up=NA
  else
    cpu="$MEAS_CPU"; cpu_us="$(printf '%.1f' "$(echo "$cpu * 10000 / $rps" | bc -l)")"
    rss="$(printf '%.1f' "$(echo "$peak / 1024" | bc -l)")"
  fi
  if [[ "$peer" == aiwarden ]]; then
    m="$RESULTS_DIR/$STAMP-$SCEN-aiwarden-$load-r$round.metrics.json"
    admin_get /proxy/v1/metrics >"$m"
    calls="$(json_field "$m" calls)"; errs="$(json_field "$m" errors)"
    [[ -n "$calls" ]] || die "$tag: no metrics from the admin API"
    [[ "$errs" == 0 ]] || die "$tag: aiwarden counted errors=$errs (see $m)$(aiw_state)"
    TOTAL_CALLS=$((TOTAL_CALLS + total))
    ((calls >= TOTAL_CALLS)) || die "$tag: aiwarden counted $calls calls, h2load $TOTAL_CALLS requests"
  fi
  emit "$SCEN" "$peer" "$round" "load=$load" "conns=$c" "streams=$STREAMS" "rps=$rps" "requests=$total" \
    "mean_ms=$(kv mean_ms "$WORK/parsed")" "max_ms=$(kv max_ms "$WORK/parsed")" \
    "failed=$(kvn failed "$WORK/parsed")" "errored=$(kvn errored "$WORK/parsed")" "non2xx=$(kvn non2xx "$WORK/parsed")" \
    "cpu_pct=$cpu" "cpu_us_per_req=$cpu_us" "rss_mb=$rss" "upstream_conns=$up" \
    "origin_cpu_pct=$MEAS_OCPU" "client_cpu_pct=$ccpu" "host_busy_pct=$host" \
    "others_cpu_pct=$(printf '%.1f' "$(echo "$host - $cpu - $MEAS_OCPU - $ccpu" | bc -l)")" \
    "loadavg=$(cut -d' ' -f1 /proc/loadavg)"
}

run_peer() {   # run_peer PEER ROUND
  local peer="$1" round="$2" load
  case "$peer" in
    direct) PEER_PID="-"; AIW_ADMIN="" ;;
    nghttpx) start_h2_nghttpx ;;
    aiwarden) start_h2_aiwarden "r$round"; TOTAL_CALLS=1 ;;   # 1: the probe
  esac
  probe "$peer"
  for load in $LOADS; do one_load "$peer" "$load" "$round"; done
  if [[ "$peer" == aiwarden ]]; then
    cp "$AIW_LOG" "$RESULTS_DIR/$STAMP-$SCEN-aiwarden-r$round.log" 2>/dev/null
    grep -q '"level":"error"' "$AIW_LOG" && log "aiwarden r$round logged errors: $(grep -m1 '"level":"error"' "$AIW_LOG")"
  fi
  [[ "$peer" == direct ]] || { stop_peer; AIW_ADMIN=""; }
}

# ---------- idle h2 connections ----------
write_idle_client() {
  cat >"$WORK/h2_idle.py" <<'EOF'
# h2_idle.py HOST PORT N PID SETTLE [ADMIN_URL TOKEN]: open N idle h2c connections in two steps
# (N/2, N); each sends the preface + an empty SETTINGS, reads the server's SETTINGS, ACKs it and
# stays idle. Prints RSS (KiB) of PID's process tree before, after each step and after closing.
import json, os, resource, selectors, socket, struct, sys, time, urllib.request
host, port, n, pid, settle = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
admin = sys.argv[6:8] if len(sys.argv) >= 8 else None
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < n + 64: resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 256), hard))
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + struct.pack(">I", 0)[1:] + bytes([4, 0]) + struct.pack(">I", 0)
ACK = struct.pack(">I", 0)[1:] + bytes([4, 1]) + struct.pack(">I", 0)

def tree(p):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try: ppid = int(open("/proc/%s/stat" % d).read().rsplit(")", 1)[1].split()[1])
            except Exception: continue
            kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [p]
    while todo:
        q = todo.pop(); out.append(q); todo += kids.get(q, [])
    return out
def rss():
    s = 0
    for p in tree(pid):
        try:
            for line in open("/proc/%d/status" % p):
                if line.startswith("VmRSS:"): s += int(line.split()[1])
        except Exception: pass
    return s
def open_conns():
    if not admin: return None
    req = urllib.request.Request(admin[0] + "/proxy/v1/metrics", headers={"X-Proxy-Token": admin[1]})
    return json.load(urllib.request.urlopen(req, timeout=3))["connections"]["open"]

sel = selectors.DefaultSelector()
conns = {}          # sock -> [buffer, got_settings]
server_settings = {}
def pump(deadline, want):
    """read and parse frames until `want` connections have the server's SETTINGS (or deadline)"""
    while sum(1 for c in conns.values() if c[1]) < want:
        left = deadline - time.time()
        if left <= 0: return False
        for key, _ in sel.select(min(left, 1.0)):
            s = key.fileobj
            try: data = s.recv(65536)
            except BlockingIOError: continue
            if not data: raise SystemExit("a connection was closed by the server during the set-up")
            c = conns[s]; c[0] += data
            while len(c[0]) >= 9:
                ln = int.from_bytes(c[0][:3], "big"); typ, flags = c[0][3], c[0][4]
                if len(c[0]) < 9 + ln: break
                payload, c[0] = c[0][9:9 + ln], c[0][9 + ln:]
                if typ == 4 and not flags & 1:
                    if not server_settings:
                        for i in range(0, len(payload), 6):
                            k, v = struct.unpack(">HI", payload[i:i + 6]); server_settings[k] = v
                    s.sendall(ACK); c[1] = True
                elif typ == 7:
                    raise SystemExit("GOAWAY from the server during the set-up")
    return True

def open_more(total):
    while len(conns) < total:
        s = socket.create_connection((host, port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(PREFACE); s.setblocking(False)
        conns[s] = [b"", False]; sel.register(s, selectors.EVENT_READ)
    if not pump(time.time() + 60, total):
        raise SystemExit("only %d of %d connections got the server's SETTINGS within 60 s"
                         % (sum(1 for c in conns.values() if c[1]), total))

def still_open():
    closed = 0
    for key, _ in sel.select(0):
        try:
            if not key.fileobj.recv(65536): closed += 1
        except BlockingIOError: pass
        except OSError: closed += 1
    return len(conns) - closed

time.sleep(settle)
r0 = rss()
o0 = open_conns()
print("IDLE step=0 conns=0 rss_kb=%d open=%s" % (r0, o0), flush=True)
t0 = time.time()
half = n // 2
for step, total in ((1, half), (2, n)):
    if total == 0: continue
    open_more(total)
    time.sleep(settle)
    print("IDLE step=%d conns=%d rss_kb=%d open=%s alive=%d" % (step, total, rss(), open_conns(), still_open()), flush=True)
hold = time.time() - t0
print("IDLE settings=%s hold_s=%.1f" % (",".join("%d:%d" % kv for kv in sorted(server_settings.items())), hold), flush=True)
for s in list(conns): sel.unregister(s); s.close()
conns.clear()
time.sleep(settle)
print("IDLE step=3 conns=0 rss_kb=%d open=%s" % (rss(), open_conns()), flush=True)
EOF
}

idle_peer() {   # idle_peer PEER
  local peer="$1" out="$WORK/idle-$1.out" r0 r1 r2 r3 h n1 alive open args=()
  case "$peer" in
    aiwarden) start_h2_aiwarden idle; args=("http://127.0.0.1:$AIW_ADMIN" "$TOKEN") ;;
    nghttpx) start_h2_nghttpx ;;
  esac
  probe "$peer"   # the first h2c connection's one-time allocations happen before the baseline
  timeout 300 python3 "$WORK/h2_idle.py" 127.0.0.1 "$PEER_PORT" "$IDLE_N" "$PEER_PID" "$IDLE_SETTLE" "${args[@]}" \
    >"$out" 2>"$WORK/idle.err" || die "idle $peer: $(tail -3 "$WORK/idle.err")$(aiw_state)"
  cp "$out" "$RESULTS_DIR/$STAMP-$SCEN-idle-$peer.txt"
  r0="$(grep 'step=0' "$out" | grep -o 'rss_kb=[0-9]*' | cut -d= -f2)"
  r1="$(grep 'step=1' "$out" | grep -o 'rss_kb=[0-9]*' | cut -d= -f2)"
  r2="$(grep 'step=2' "$out" | grep -o 'rss_kb=[0-9]*' | cut -d= -f2)"
  r3="$(grep 'step=3' "$out" | grep -o 'rss_kb=[0-9]*' | cut -d= -f2)"
  n1="$(grep 'step=1' "$out" | grep -o ' conns=[0-9]*' | cut -d= -f2)"
  alive="$(grep 'step=2' "$out" | grep -o 'alive=[0-9]*' | cut -d= -f2)"
  open="$(grep 'step=2' "$out" | grep -o 'open=[0-9a-zA-Z]*' | cut -d= -f2)"
  h="$(grep -o 'hold_s=[0-9.]*' "$out" | cut -d= -f2)"
  [[ -n "$r0" && -n "$r2" && -n "$r3" ]] || die "idle $peer: no figures: $(cat "$out")"
  [[ "$alive" == "$IDLE_N" ]] || die "idle $peer: only $alive of $IDLE_N connections still open at the end"
  [[ "$peer" != aiwarden || "$open" -ge "$IDLE_N" ]] || die "idle $peer: aiwarden counts $open open connections, expected $IDLE_N"
  # its own TSV: RESULTS="" is local to this call
  RESULTS="" emit "${SCEN}idle" "$peer" 1 "conns=$IDLE_N" "rss_before_kb=$r0" "rss_half_kb=$r1" "rss_all_kb=$r2" \
    "rss_closed_kb=$r3" "kib_per_conn=$(printf '%.1f' "$(echo "($r2 - $r0) / $IDLE_N" | bc -l)")" \
    "kib_per_conn_2nd_half=$(printf '%.1f' "$(echo "($r2 - $r1) / ($IDLE_N - $n1)" | bc -l)")" \
    "open_metric=$open" "hold_s=$h" "server_settings=$(grep -o 'settings=[0-9:,]*' "$out" | cut -d= -f2)"
  if [[ "$peer" == aiwarden ]]; then
    admin_get /proxy/v1/metrics >"$RESULTS_DIR/$STAMP-$SCEN-idle-aiwarden.metrics.json"
    cp "$AIW_LOG" "$RESULTS_DIR/$STAMP-$SCEN-idle-aiwarden.log" 2>/dev/null
  fi
  stop_peer; AIW_ADMIN=""
}

# ---------- summary ----------
summarize() {   # summarize md|result
  python3 - "$RESULTS_DIR/$STAMP-$SCEN.tsv" "$RESULTS_DIR/$STAMP-${SCEN}idle.tsv" "$1" "$STREAMS" <<'EOF'
import os, statistics, sys
tsv, idle, mode, streams = sys.argv[1:5]
rows = {}   # (peer, load) -> round -> kv
if os.path.exists(tsv):
    for line in open(tsv):
        f = line.rstrip("\n").split("\t")
        kv = dict(x.split("=", 1) for x in f[3:])
        rows.setdefault((f[1], kv["load"]), {})[int(f[2])] = kv
def num(v):
    try: return float(v)
    except (TypeError, ValueError): return None
def vals(k, key): return [num(r.get(key)) for _, r in sorted(rows.get(k, {}).items()) if num(r.get(key)) is not None]
def med(k, key):
    v = vals(k, key); return statistics.median(v) if v else None
def ratios(a, b):
    A, B = rows.get(a, {}), rows.get(b, {})
    return [num(A[r]["rps"]) / num(B[r]["rps"]) for r in sorted(A) if r in B and num(B[r]["rps"])]
f = lambda v, fmt="%.0f": "–" if v is None else fmt % v
rng = lambda v: ("[%.3f..%.3f]" % (min(v), max(v))) if len(v) > 1 else ""
loads = sorted({l for _, l in rows}, key=lambda l: int(l[1:]))
NAMES = {"direct": "direct (h2 TLS to the origin)", "nghttpx": "nghttpx (reverse proxy)", "aiwarden": "aiwarden (sidecar route)"}
if mode == "result":
    for l in loads:
        a, n, d = ("aiwarden", l), ("nghttpx", l), ("direct", l)
        ra, rd = ratios(a, n), ratios(a, d)
        print("RESULT h2 summary load=%s conns=%s streams=%s rps_direct=%s rps_nghttpx=%s rps_aiwarden=%s "
              "ratio_aiwarden_nghttpx=%s target=1.0 met=%s ratio_aiwarden_direct=%s ratio_nghttpx_direct=%s "
              "cpu_pct_nghttpx=%s cpu_pct_aiwarden=%s rss_mb_nghttpx=%s rss_mb_aiwarden=%s" % (
              l, l[1:], streams, f(med(d, "rps")), f(med(n, "rps")), f(med(a, "rps")),
              f(statistics.median(ra) if ra else None, "%.3f"),
              ("yes" if statistics.median(ra) >= 1.0 else "no") if ra else "NA",
              f(statistics.median(rd) if rd else None, "%.3f"),
              f(statistics.median(ratios(n, d)) if ratios(n, d) else None, "%.3f"),
              f(med(n, "cpu_pct")), f(med(a, "cpu_pct")), f(med(n, "rss_mb"), "%.1f"), f(med(a, "rss_mb"), "%.1f")))
    sys.exit(0)
if rows:
    print("| peer | load | req/s median (rounds) | mean request ms | proxy CPU % | proxy CPU µs / req | proxy peak RSS MiB | proxy → origin conns | origin CPU % | h2load CPU % | other processes CPU % |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for l in loads:
        for p in ("direct", "nghttpx", "aiwarden"):
            k = (p, l)
            if k not in rows: continue
            side = p != "direct"
            print("| %s | -c %s -m %s | %s (%s) | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                NAMES[p], l[1:], streams, f(med(k, "rps")), " / ".join("%.0f" % x for x in vals(k, "rps")),
                f(med(k, "mean_ms"), "%.2f"), f(med(k, "cpu_pct")) if side else "–",
                f(med(k, "cpu_us_per_req"), "%.1f") if side else "–", f(med(k, "rss_mb"), "%.1f") if side else "–",
                f(med(k, "upstream_conns")) if side else "–", f(med(k, "origin_cpu_pct")), f(med(k, "client_cpu_pct")),
                "%s (%s)" % (f(med(k, "others_cpu_pct")), " / ".join("%.0f" % x for x in vals(k, "others_cpu_pct")))))
    print()
    print("| ratio (median of per-round ratios) | " + " | ".join("-c %s -m %s" % (l[1:], streams) for l in loads) + " |")
    print("|---|" + "---|" * len(loads))
    for a, b, label in (("aiwarden", "nghttpx", "**aiwarden / nghttpx** (target ≥ 1.0)"),
                        ("aiwarden", "direct", "aiwarden / direct"), ("nghttpx", "direct", "nghttpx / direct")):
        cells = []
        for l in loads:
            r = ratios((a, l), (b, l))
            cells.append("%.3f %s" % (statistics.median(r), rng(r)) if r else "–")
        print("| %s | %s |" % (label, " | ".join(cells)))
    print()
if os.path.exists(idle):
    print("| idle h2c connections | proxy RSS before → N/2 → N → after closing (KiB) | **KiB per idle connection** | KiB per connection, 2nd half only | server SETTINGS |")
    print("|---|---|---|---|---|")
    for line in open(idle):
        fl = line.rstrip("\n").split("\t")
        kv = dict(x.split("=", 1) for x in fl[3:])
        print("| %s, N = %s | %s → %s → %s → %s | **%s** | %s | %s |" % (
            fl[1], kv["conns"], kv["rss_before_kb"], kv["rss_half_kb"], kv["rss_all_kb"], kv["rss_closed_kb"],
            kv["kib_per_conn"], kv["kib_per_conn_2nd_half"], kv["server_settings"]))
EOF
}

# ---------- main ----------
main() {
  mkdir -p "$RESULTS_DIR"
  {
    echo "stamp: $STAMP ($SCEN)"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -srm); $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "aiwarden: $AIW_BIN ($(stat -c '%y' "$AIW_BIN" | cut -d. -f1), sha256 $AIW_SHA); git $(git -C "$AIW_SRC" rev-parse --short HEAD 2>/dev/null)$(git -C "$AIW_SRC" diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted src changes')"
    echo "tools: $(h2load --version 2>&1 | head -1); $(/usr/sbin/nghttpx -v 2>&1 | head -1); $(/usr/sbin/nginx -v 2>&1)"
    echo "setup: same machine, shared CPUs; aiwarden workers=${AIW_WORKERS:-1}, nghttpx --single-thread --workers=1, origin nginx workers=${ORIGIN_WORKERS:-1}, h2load -t 1"
    echo "peers: $PEERS; loads: $LOADS (-m $STREAMS); rounds=$ROUNDS dur=${DUR}s warmup=${WARMUP}s; idle: n=$IDLE_N peers=$IDLE_PEERS settle=${IDLE_SETTLE}s"
    echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  } | tee "$RESULTS_DIR/$STAMP-$SCEN-env.txt" >&2
  start_origin 0
  local round peer order
  if [[ -n "$PEERS" && -n "$LOADS" ]]; then
    for round in $(seq 1 "$ROUNDS"); do
      order="$PEERS"
      ((round % 2 == 0)) && order="$(echo "$PEERS" | sed 's/\bnghttpx\b/@/; s/\baiwarden\b/nghttpx/; s/@/aiwarden/')"
      log "round $round/$ROUNDS: $order; loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
      for peer in $order; do run_peer "$peer" "$round"; done
    done
  fi
  if ((IDLE_N > 0)); then
    write_idle_client
    for peer in $IDLE_PEERS; do
      log "idle h2c connections: $IDLE_N to $peer"
      idle_peer "$peer"
    done
  fi
  echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RESULTS_DIR/$STAMP-$SCEN-env.txt" >&2
  {
    echo "# HTTP/2 benchmark (issue 4), $STAMP"
    echo
    echo "h2load (h2c, $STREAMS concurrent streams per connection) through aiwarden's sidecar route and through"
    echo "nghttpx as a reverse proxy, both to the same nginx origin over TLS + h2, and directly to it (TLS + h2);"
    echo "${DUR} s measured after ${WARMUP} s of warm-up, $ROUNDS round(s); aiwarden workers: ${AIW_WORKERS:-1}, nghttpx 1 worker;"
    echo "h2load, the proxy and the origin share the machine's $(nproc) CPUs."
    echo
    summarize md
    echo
    cat "$RESULTS_DIR/$STAMP-$SCEN-env.txt"
  } | tee "$RESULTS_DIR/$STAMP-$SCEN-summary.md"
  echo
  summarize result
  log "results: $RESULTS_DIR/$STAMP-$SCEN*  (summary: $STAMP-$SCEN-summary.md)"
}

main
