#!/usr/bin/env bash
# aiwarden benchmark of issue 5: what the guardrails cost end to end. Intercepted HTTPS requests/s
# with the guardrails on vs off, 4 KiB OpenAI Chat Completions prompts, side by side in one run.
# Target: on/off >= 0.90 (guardrails cost <= 10 % of end-to-end requests/s).
#
#   bench/guardrails.sh                              # ROUNDS=3 DUR=10 CONNS=50, ~3 min
#   ROUNDS=1 DUR=5 bench/guardrails.sh               # smoke run, ~40 s
#   AIW_BIN=build-bench/aiwarden PERF=on bench/guardrails.sh   # + a perf profile of `on`
#
# Peers (one aiwarden process per run, workers: 1, the same binary copied once):
#   direct  post_bench -> TLS origin (no proxy): the ceiling, for context
#   off     CONNECT through aiwarden, intercepted (TLS terminated and re-encrypted), filters
#           tls_inspector, domain_classifier (ai_domains: [origin.test]), chatty_bypass
#   on      the same + pattern_matcher (all packs + a custom detector) + rule_evaluator (a block
#           rule on secret.*, a block rule with a match_pattern on a codename, a log rule on
#           pii.*): every request is held, parsed as OpenAI JSON, scanned, ruled on, allowed;
#           every response is scanned too (unless SCAN_RESPONSES=false)
# Load: bench/tools/post_bench.c (built here): CONNS keep-alive connections, each CONNECT + TLS
# inside the tunnel, then POST /v1/chat/completions with the same 4 KiB body, one request in
# flight per connection, for DUR seconds (after a WARMUP-second run that is not measured).
# Every `on` and `off` run is checked: no errors, no non-2xx, aiwarden's metrics without errors or
# blocks, no security event caused by the benchmark prompt, and (after the measurement) probes:
# a prompt with an AWS key and one with the codename are blocked (403) by `on` and pass `off`, a
# prompt with an e-mail address passes `on` with one security event. Any failure aborts.
#
# Env: ROUNDS (3) DUR (10) CONNS (50) WARMUP (2) PROMPT_BYTES (4096) PEERS ("direct off on";
#      even rounds run on before off) AIW_BIN (build/aiwarden) AIW_WORKERS (1)
#      SCAN_RESPONSES (true: `on` also scans responses, as shipped; false: requests only)
#      PERF ("" | "on" | "on off": after the rounds, a perf record -g of that peer under the same
#      load, not counted; PERF_CG=dwarf adds inclusive times: aiwarden has no frame pointers)
#      RESULTS_DIR ($TMPDIR/aiwarden-bench/results) STAMP KEEP_WORK (1: keep the scratch dir)
# Output: RESULT lines, TSV rows in $RESULTS_DIR/$STAMP-guardrails.tsv, the summary table in
# $RESULTS_DIR/$STAMP-guardrails-summary.md, aiwarden's log and metrics of every run.
set -u
MYDIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
AIW_SRC="${AIW_SRC:-$(cd "$MYDIR/.." && pwd)}"
BENCH_PEERS="${BENCH_PEERS:-$(cd "$AIW_SRC/../shared/bench-peers" 2>/dev/null && pwd)}"
[[ -f "$BENCH_PEERS/lib.sh" ]] || { echo "shared harness not found: set BENCH_PEERS" >&2; exit 1; }
: "${RESULTS_DIR:=${TMPDIR:-/tmp}/aiwarden-bench/results}"
export RESULTS_DIR

# shellcheck source=/dev/null
source "$BENCH_PEERS/lib.sh"      # HERE, WORK, PIDS + cleanup traps, ROUNDS, DUR, CONNS, STAMP
# shellcheck source=/dev/null
source "$BENCH_PEERS/peers.sh"    # _peer_dir, stop_peer
# shellcheck source=aiw_lib.sh
source "$MYDIR/aiw_lib.sh"         # aiw_wait_ready, admin_get, json_field

: "${PEERS:=direct off on}"
: "${WARMUP:=2}"
: "${PROMPT_BYTES:=4096}"
: "${PERF:=}"
: "${SCAN_RESPONSES:=true}"       # pattern_matcher's scan_responses in the `on` peer
[[ "$SCAN_RESPONSES" == true || "$SCAN_RESPONSES" == false ]] || die "SCAN_RESPONSES: true or false"
SCEN=guardrails
ORIGIN_NAME=origin.test            # the shared make_certs() leaf: SAN origin.test, 127.0.0.1
TOKEN=bench-token
CHAT_PATH=/v1/chat/completions

for t in curl bc python3 cc /usr/sbin/nginx; do
  command -v "$t" >/dev/null || die "$t not installed (sudo $BENCH_PEERS/setup.sh)"
done
for p in $PEERS; do case "$p" in direct|off|on) ;; *) die "unknown peer $p (direct off on)";; esac; done
[[ "$DUR" =~ ^[0-9]+$ && "$DUR" -ge 1 && "$DUR" -le 600 ]] || die "DUR must be 1..600 seconds"
[[ "$ROUNDS" =~ ^[0-9]+$ && "$ROUNDS" -ge 1 && "$ROUNDS" -le 20 ]] || die "ROUNDS must be 1..20"

# ---------- the load generator ----------
if ! printf '#include <openssl/ssl.h>\n' | cc -E -x c - >/dev/null 2>&1; then   # as setup.sh
  [[ "$(id -u)" == 0 ]] || die "libssl-dev is missing: sudo apt-get install libssl-dev"
  log "installing libssl-dev"
  apt-get install -y --no-install-recommends libssl-dev >/dev/null 2>&1 ||
    { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends libssl-dev >/dev/null; } ||
    die "could not install libssl-dev"
fi
POST_BENCH="$WORK/post_bench"
cc -O2 -Wall -o "$POST_BENCH" "$MYDIR/tools/post_bench.c" -lssl -lcrypto || die "post_bench build failed"

# ---------- the binary under test, copied once (a rebuild during the run cannot mix binaries) ----------
AIW_BIN="${AIW_BIN:-$AIW_SRC/build/aiwarden}"
[[ -x "$AIW_BIN" ]] || die "aiwarden binary not found at $AIW_BIN (build it, or set AIW_BIN)"
AIW_EXE="$WORK/aiwarden.bin"
cp "$AIW_BIN" "$AIW_EXE"
AIW_SHA="$(sha256sum "$AIW_EXE" | cut -c1-12)"

# ---------- the request body: a realistic 4 KiB chat completion request, nothing to detect ----------
gen_body() {   # gen_body OUT SIZE
  python3 - "$1" "$2" <<'EOF'
import json, sys
SYSTEM = ("You are a senior software engineer helping a small team maintain a Python service that "
    "imports supplier price lists into a warehouse database. Answer precisely and briefly. When "
    "you propose code, keep the existing style: type hints, small functions, docstrings that say "
    "why rather than what, and tests written with pytest. Prefer the standard library to new "
    "dependencies. If a question is ambiguous, state the assumption you make and go on. Do not "
    "invent APIs: when you are unsure whether a function exists, say so.")
USER_1 = ("The nightly import sometimes takes twice as long as usual and we think the retry logic is "
    "to blame. Here is the function that loads one batch. Can you spot anything wrong?\n\n"
    "```python\n"
    "def load_batch(rows: list[dict], conn, retries: int = 3) -> int:\n"
    "    \"\"\"Insert one batch; the supplier feed is flaky, so retry on timeouts.\"\"\"\n"
    "    attempt = 0\n"
    "    while True:\n"
    "        try:\n"
    "            with conn.cursor() as cur:\n"
    "                cur.executemany(INSERT_SQL, [normalize(r) for r in rows])\n"
    "            conn.commit()\n"
    "            return len(rows)\n"
    "        except TimeoutError:\n"
    "            attempt += 1\n"
    "            if attempt > retries:\n"
    "                raise\n"
    "            time.sleep(2 ** attempt)\n"
    "```\n\n"
    "Batches are usually between one and five thousand rows.")
ASSISTANT_1 = ("Two things stand out. First, the rows are normalized again on every attempt, which is "
    "wasted work for large batches: compute the list once before the loop. Second, a timeout inside "
    "executemany leaves the transaction open, and the next attempt runs in the same transaction, "
    "so a retry can wait on locks held by the failed attempt. Roll back before sleeping:\n\n"
    "```python\n"
    "        except TimeoutError:\n"
    "            conn.rollback()\n"
    "            attempt += 1\n"
    "```\n\n"
    "The exponential sleep is fine, although with three retries the worst case adds fourteen "
    "seconds per batch; a little jitter avoids retrying all workers in the same second.")
USER_2 = ("Thanks, the rollback explains the lock waits we saw in the database logs. Two follow-up "
    "questions. Should the timeout itself move into the configuration file, next to the batch "
    "size, and how would you test the retry path without a real database? ")
FILLER = ("For context, the importer runs as a scheduled job on a single machine, reads compressed "
    "files from a shared folder, and writes progress to a status table that the operations "
    "dashboard polls every minute. We would like the retry behaviour to be visible there too, "
    "for example as the number of attempts per batch, without making the status table much "
    "larger. The team is comfortable with fixtures and monkeypatching in pytest, but we have "
    "never used a fake connection object before, so a short example would help a lot. We also "
    "wonder whether the sleep should be skipped entirely in tests or patched to record the "
    "delays it would have used, so that the backoff sequence itself is checked. ") * 8
def body(n):
    return json.dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "system", "content": SYSTEM}, {"role": "user", "content": USER_1},
        {"role": "assistant", "content": ASSISTANT_1},
        {"role": "user", "content": USER_2 + FILLER[:n]}],
        "temperature": 0.2, "max_tokens": 512, "user": "bench-user-17"},
        separators=(", ", ": ")).encode()
size = int(sys.argv[2])
n = size - len(body(0))           # the filler is ASCII prose: one byte per character in JSON
if not 0 <= n <= len(FILLER):
    sys.exit("PROMPT_BYTES must be %d..%d" % (len(body(0)), len(body(len(FILLER)))))
b = body(n)
assert len(b) == size and json.loads(b)
open(sys.argv[1], "wb").write(b)
EOF
}

probe_body() {   # probe_body OUT TEXT: a small chat request whose last user message is TEXT
  python3 -c 'import json,sys; open(sys.argv[1],"w").write(json.dumps({"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":sys.argv[2]}]}))' "$1" "$2"
}

# ---------- the TLS origin (a fake /v1/chat/completions) ----------
start_gr_origin() {
  local d="$WORK/gr-origin" code
  mkdir -p "$d/logs" "$d/tmp"
  [[ -f "$WORK/pki/origin.pem" ]] || make_certs
  chmod -R a+rX "$d"
  ORIGIN_HTTPS="$(free_port)"
  render "$MYDIR/conf/guardrails-origin.conf" "$d/nginx.conf" PREFIX="$d" HTTPS_PORT="$ORIGIN_HTTPS" \
    CERT="$WORK/pki/origin.pem" KEY="$WORK/pki/origin.key" WORKERS="${ORIGIN_WORKERS:-1}"
  start_bg gr-origin /usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log"; ORIGIN_PID=$BG_PID
  wait_port "$ORIGIN_HTTPS" || die "origin did not start: $(cat "$WORK/gr-origin.log")"
  code="$(curl -s -o "$WORK/origin-answer.json" -w '%{http_code}' --max-time 5 --cacert "$WORK/pki/origin-ca.pem" \
    --resolve "$ORIGIN_NAME:$ORIGIN_HTTPS:127.0.0.1" -H 'Content-Type: application/json' \
    --data-binary "@$BODY" "https://$ORIGIN_NAME:$ORIGIN_HTTPS$CHAT_PATH")"
  [[ "$code" == 200 ]] || die "origin answered $code to the benchmark request"
  log "origin nginx pid=$ORIGIN_PID https=$ORIGIN_HTTPS (answer: $(wc -c <"$WORK/origin-answer.json") bytes)"
}

# ---------- aiwarden, guardrails off or on ----------
AIW_ADMIN=""
start_gr_aiwarden() {   # start_gr_aiwarden off|on
  local mode="$1" d i
  d="$(_peer_dir "aiw-$mode")"; PEER_PORT="$(free_port)"; AIW_ADMIN="$(free_port)"
  AIW_LOG="$WORK/aiw-$mode.log"
  cp "$WORK/pki/mitm-ca.key" "$d/ca.key"; chmod 600 "$d/ca.key"
  cat >"$d/aiwarden.yaml" <<EOF
# guardrails benchmark, peer "$mode"
workers: ${AIW_WORKERS:-1}
state_dir: $d/state
admin: {address: 127.0.0.1:$AIW_ADMIN, token: $TOKEN}
listeners: [{name: system, type: forward, address: 127.0.0.1:$PEER_PORT}]
upstream:
  ca_file: $WORK/pki/origin-ca.pem
  resolve: {"$ORIGIN_NAME:$ORIGIN_HTTPS": "127.0.0.1:$ORIGIN_HTTPS"}
interception: {ca_cert: $WORK/pki/mitm-ca.pem, ca_key: $d/ca.key}
filters:
  - filter: tls_inspector
  - filter: domain_classifier
    config: {ai_domains: [$ORIGIN_NAME], default: bypass}
  - filter: chatty_bypass
EOF
  if [[ "$mode" == on ]]; then cat >>"$d/aiwarden.yaml" <<EOF
  - filter: pattern_matcher
    config:
      packs: [secrets, pii, prompt_injection]
      patterns:
        - {id: corp.codename, regex: "(?i)project[- ]bluebird", category: confidential, severity: high}
      scan_responses: $SCAN_RESPONSES
EOF
    cat >>"$d/aiwarden.yaml" <<'EOF'
  - filter: rule_evaluator
    config:
      rules:
        - name: block secrets
          action: block
          match_class: ai
          match_detector: ["secret.*"]
          block_reason: credentials must not be sent to AI providers
          priority: 10
        - name: block codename
          action: block
          match_pattern: "(?i)project[- ]nightjar"
          block_reason: the Nightjar project is confidential
          priority: 20
        - name: report personal data
          action: log
          match_detector: ["pii.*", "corp.codename"]
          priority: 100
EOF
  fi
  "$AIW_EXE" check -c "$d/aiwarden.yaml" >"$d/check.out" 2>&1 ||
    die "aiwarden refused the '$mode' configuration ($d/aiwarden.yaml):
$(cat "$d/check.out")"
  start_bg "aiw-$mode" "$AIW_EXE" run -c "$d/aiwarden.yaml" --log-format json
  PEER_PID=$BG_PID
  aiw_wait_ready "$AIW_LOG" "aiwarden ($mode)"
}

# A filter counter (e.g. pattern_matcher.requests_scanned) from GET /proxy/v1/filters (JSON:
# "pattern_matcher.requests_scanned":N), else from /metrics (aiwarden_pattern_matcher_
# requests_scanned_total{stage="4"} N: the value is the last field, never the label); empty if
# neither has it.
filter_counter() {   # filter_counter NAME(filter.thing) TAG
  local f="${1%%.*}" t="${1#*.}" json="$RESULTS_DIR/$STAMP-aiw-$2.filters.json" \
        prom="$RESULTS_DIR/$STAMP-aiw-$2.prom" v=""
  [[ -s "$json" ]] && v="$(grep -oE "\"${f}\\.${t}\":[0-9]+" "$json" | head -1 | grep -oE '[0-9]+$')"
  if [[ -z "$v" && -s "$prom" ]]; then
    v="$(grep -E "^aiwarden_${f}_${t}(_total)?(\{[^}]*\})? " "$prom" | head -1 | awk '{print $NF}')"
  fi
  echo "$v"
}
security_events() { grep -c '"kind":"security"' "$AIW_LOG" 2>/dev/null || true; }

# proxy_probe NAME TEXT -> "HTTP_CODE DECISION" of one request through the proxy
proxy_probe() {
  probe_body "$WORK/probe-$1.json" "$2"
  curl -s -o "$WORK/probe-$1.out" -D "$WORK/probe-$1.hdr" -w '%{http_code}' --max-time 5 \
    -x "http://127.0.0.1:$PEER_PORT" --cacert "$WORK/pki/mitm-ca.pem" \
    -H 'Content-Type: application/json' --data-binary "@$WORK/probe-$1.json" \
    "https://$ORIGIN_NAME:$ORIGIN_HTTPS$CHAT_PATH"
  printf ' %s\n' "$(grep -i '^x-aiwarden-decision:' "$WORK/probe-$1.hdr" | cut -d: -f2 | tr -d ' \r')"
}

# check_run MODE TAG REQUESTS: the run was what it claims; dies with the reason otherwise
check_run() {
  local mode="$1" tag="$2" nreq="$3" m="$RESULTS_DIR/$STAMP-aiw-$2.metrics.json" v calls errs blocked icp sec
  admin_get /proxy/v1/metrics >"$m"
  admin_get /metrics >"$RESULTS_DIR/$STAMP-aiw-$tag.prom"
  admin_get /proxy/v1/filters >"$RESULTS_DIR/$STAMP-aiw-$tag.filters.json"
  grep -q pattern_matcher "$RESULTS_DIR/$STAMP-aiw-$tag.filters.json" 2>/dev/null ||
    rm -f "$RESULTS_DIR/$STAMP-aiw-$tag.filters.json"   # not implemented in this build
  calls="$(json_field "$m" calls)"; errs="$(json_field "$m" errors)"
  blocked="$(json_field "$m" blocked)"; icp="$(json_field "$m" intercepted)"
  [[ -n "$calls" ]] || die "$tag: no metrics from the admin API"
  [[ "$errs" == 0 && "$blocked" == 0 ]] || die "$tag: aiwarden counted errors=$errs blocked=$blocked (see $m)"
  ((calls >= nreq)) || die "$tag: aiwarden counted $calls exchanges, post_bench $nreq requests"
  ((icp >= CONNS)) || die "$tag: only $icp CONNECTs intercepted for $CONNS connections (not intercepted?)"
  sec="$(security_events)"
  ((sec == 0)) || die "$tag: the benchmark prompt caused $sec security events (it must not trigger a rule): $(grep -m1 '"kind":"security"' "$AIW_LOG")"
  SCANNED=NA
  if [[ "$mode" == on ]]; then
    v="$(filter_counter pattern_matcher.requests_scanned "$tag")"
    if [[ -n "$v" ]]; then
      ((v >= nreq)) || die "$tag: pattern_matcher scanned $v requests of $nreq: the guardrails did not run"
      SCANNED="$v"
      v="$(filter_counter pattern_matcher.detections "$tag")"
      [[ -z "$v" || "$v" == 0 ]] || die "$tag: pattern_matcher found $v detections in the benchmark prompt"
    else
      SCANNED=probes   # filter counters not exposed by this build: the probes below must show it
    fi
  fi
  # probes, after the measurement: on blocks the secret and the codename and logs the e-mail
  local want_secret="200 " want_code="200 " r
  [[ "$mode" == on ]] && { want_secret="403 blocked"; want_code="403 blocked"; }
  r="$(proxy_probe secret "Deploy with access key AKIAIOSFODNN7EXAMPLE and tell me what fails.")"
  [[ "$r" == "$want_secret" ]] || die "$tag: a prompt with an AWS key got '$r', expected '$want_secret'"
  r="$(proxy_probe codename "Summarize the status of Project Nightjar for the board.")"
  [[ "$r" == "$want_code" ]] || die "$tag: a prompt with the codename got '$r', expected '$want_code'"
  r="$(proxy_probe email "Draft a reply to jane.doe@example.com about the delayed invoice.")"
  [[ "$r" == "200 " ]] || die "$tag: a prompt with an e-mail address got '$r', expected 200"
  if [[ "$mode" == on ]]; then
    sleep 0.2
    grep '"kind":"security"' "$AIW_LOG" | grep -q 'report personal data' ||
      die "$tag: the e-mail probe raised no security event from the rule 'report personal data'"
  fi
  cp "$AIW_LOG" "$RESULTS_DIR/$STAMP-aiw-$tag.log" 2>/dev/null
}

aiw_state() {   # for error messages: aiwarden's own counters and last log lines
  [[ -n "$AIW_ADMIN" ]] || return 0
  printf '\n  aiwarden /proxy/v1/metrics: %s' "$(admin_get /proxy/v1/metrics | cut -c1-200)"
  printf '\n  (blocked > 0 while the answers were 200: a filter cut responses after their head went out, closing the connection)'
  printf '\n  aiwarden log tail:\n%s' "$(grep -v '"client TLS failed"\|"CONNECT refused"' "$AIW_LOG" | tail -5)"
}

pb() {   # pb PEER SECONDS: post_bench against PEER (direct or through $PEER_PORT)
  local peer="$1" secs="$2"
  if [[ "$peer" == direct ]]; then
    "$POST_BENCH" -t "127.0.0.1:$ORIGIN_HTTPS" -a "$ORIGIN_NAME:$ORIGIN_HTTPS" -n "$ORIGIN_NAME" \
      -C "$WORK/pki/origin-ca.pem" -p "$CHAT_PATH" -b "$BODY" -c "$CONNS" -d "$secs"
  else
    "$POST_BENCH" -t "127.0.0.1:$ORIGIN_HTTPS" -x "127.0.0.1:$PEER_PORT" -a "$ORIGIN_NAME:$ORIGIN_HTTPS" \
      -n "$ORIGIN_NAME" -C "$WORK/pki/mitm-ca.pem" -p "$CHAT_PATH" -b "$BODY" -c "$CONNS" -d "$secs"
  fi
}

run_peer() {   # run_peer PEER ROUND
  local peer="$1" round="$2" out="$WORK/last.out" tag="$1-r$2" wreq rps nreq errs non2xx cpu_s per1k
  if [[ "$peer" == direct ]]; then PEER_PID="-"; else start_gr_aiwarden "$peer"; fi
  pb "$peer" "$WARMUP" >"$WORK/warmup.out" 2>"$WORK/warmup.err"
  wreq="$(kvn requests "$WORK/warmup.out")"
  errs="$(kvn errors "$WORK/warmup.out")"; non2xx="$(kvn non2xx "$WORK/warmup.out")"
  ((wreq > 0 && errs == 0 && non2xx == 0)) ||
    die "$tag: warm-up: requests=$wreq errors=$errs non2xx=$non2xx; $(tr '\n' ' ' <"$WORK/warmup.err")$(aiw_state)"
  measure "$PEER_PID" "$ORIGIN_PID" pb "$peer" "$DUR"
  grep -q '^RESULT' "$out" || die "$tag: post_bench failed: $(cat "$WORK/last.err")"
  rps="$(kvn rps "$out")"; nreq="$(kvn requests "$out")"
  errs="$(kvn errors "$out")"; non2xx="$(kvn non2xx "$out")"
  ((errs == 0 && non2xx == 0 && nreq > 0)) ||
    die "$tag: post_bench: requests=$nreq errors=$errs non2xx=$non2xx; $(tr '\n' ' ' <"$WORK/last.err")$(aiw_state)"
  SCANNED=NA
  if [[ "$peer" == direct ]]; then
    cpu_s=0; per1k=NA
  else
    # proxy CPU seconds over the measured run (ticks of utime+stime, through lib.sh's measure)
    cpu_s="$(echo "$MEAS_CPU * $MEAS_WALL / 100" | bc -l)"
    per1k="$(printf '%.4f' "$(echo "$cpu_s * 1000 / $nreq" | bc -l)")"
    check_run "$peer" "$tag" "$((nreq + wreq))"
  fi
  emit "$SCEN" "$peer" "$round" "rps=$rps" "requests=$nreq" "p50_us=$(kvn p50_us "$out")" \
    "p90_us=$(kvn p90_us "$out")" "p99_us=$(kvn p99_us "$out")" "errors=$errs" "non2xx=$non2xx" \
    "cpu_pct=$([[ $peer == direct ]] && echo 0 || echo "$MEAS_CPU")" "cpu_s_per_1k=$per1k" \
    "origin_cpu_pct=$MEAS_OCPU" "client_cpu_pct=$(kv client_cpu_pct "$out")" "scanned=$SCANNED" \
    "body_bytes=$PROMPT_BYTES" "conns=$CONNS" "loadavg=$(cut -d' ' -f1 /proc/loadavg)"
  [[ "$peer" == direct ]] || { stop_peer; AIW_ADMIN=""; }
}

# perf_profile PEER: perf record -g of aiwarden under the same load (not a measured run)
perf_profile() {
  local peer="$1" secs=$((DUR > 4 ? DUR - 2 : 3)) data="$RESULTS_DIR/$STAMP-perf-$1.data"
  command -v perf >/dev/null || { log "perf not installed: no profile"; return 0; }
  start_gr_aiwarden "$peer"
  pb "$peer" "$WARMUP" >/dev/null 2>&1
  pb "$peer" "$DUR" >"$WORK/perf-load.out" 2>&1 &
  local lp=$!; PIDS+=("$lp")
  sleep 1
  # PERF_CG=dwarf for inclusive times through aiwarden's frames (built without frame pointers)
  if [[ "${PERF_CG:-fp}" == dwarf ]]; then
    perf record -q --call-graph dwarf,16384 -F 499 -o "$data" -p "$PEER_PID" -- sleep "$secs" >/dev/null 2>&1
  else
    perf record -q -g -o "$data" -p "$PEER_PID" -- sleep "$secs" >/dev/null 2>&1
  fi
  wait "$lp"
  {
    echo "## perf, peer $peer ($(grep -o 'rps=[^ ]*' "$WORK/perf-load.out") under perf), self time"
    perf report -i "$data" --no-children -g none --sort dso,symbol --stdio --percent-limit 0.5 2>/dev/null |
      grep '%' | cut -c1-200 | head -40
    echo; echo "## perf, peer $peer, by shared object"
    perf report -i "$data" --no-children -g none --sort dso --stdio 2>/dev/null | grep '%' | head -12
    if [[ "${PERF_CG:-fp}" == dwarf ]]; then
      echo; echo "## perf, peer $peer, inclusive (children), aiwarden symbols"
      perf report -i "$data" --children -g none --sort symbol --stdio --percent-limit 1 2>/dev/null |
        grep '%' | grep -v '\[k\]' | cut -c1-200 | head -60
    fi
  } >"$RESULTS_DIR/$STAMP-perf-$peer.txt"
  log "perf profile of $peer: $RESULTS_DIR/$STAMP-perf-$peer.txt"
  stop_peer; AIW_ADMIN=""
}

summarize() {
  python3 - "$RESULTS_DIR/$STAMP-$SCEN.tsv" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    kv = dict(x.split("=", 1) for x in f[3:])
    rows.setdefault(f[1], {})[int(f[2])] = kv
def num(v):
    try: return float(v)
    except (TypeError, ValueError): return None
def med(peer, key):
    v = [num(r.get(key)) for r in rows.get(peer, {}).values()]
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None
def rng(v): return "[%.3f..%.3f]" % (min(v), max(v)) if len(v) > 1 else ""
def ratios(a, b):
    return [num(rows[a][r]["rps"]) / num(rows[b][r]["rps"]) for r in sorted(rows.get(a, {}))
            if r in rows.get(b, {}) and num(rows[b][r]["rps"])]
fmt = lambda v, f="%.0f": "–" if v is None else f % v
print("| peer | req/s (median) | rounds | p50 / p99 ms | proxy CPU % | proxy CPU-s per 1000 req | origin CPU % | client CPU % |")
print("|---|---|---|---|---|---|---|---|")
for p in ("direct", "off", "on"):
    if p not in rows: continue
    rps = [num(r["rps"]) for _, r in sorted(rows[p].items())]
    print("| %s | %s | %s | %s / %s | %s | %s | %s | %s |" % (
        p, fmt(med(p, "rps")), " / ".join("%.0f" % x for x in rps),
        fmt(med(p, "p50_us") / 1000 if med(p, "p50_us") else None, "%.2f"),
        fmt(med(p, "p99_us") / 1000 if med(p, "p99_us") else None, "%.2f"),
        fmt(med(p, "cpu_pct"), "%.0f") if p != "direct" else "–",
        fmt(med(p, "cpu_s_per_1k"), "%.4f"), fmt(med(p, "origin_cpu_pct")),
        fmt(med(p, "client_cpu_pct"))))
print()
out = []
if "on" in rows and "off" in rows:
    r = ratios("on", "off")
    m = statistics.median(r)
    out.append("| on / off req/s (target ≥ 0.90) | **%.3f** %s | %s |" % (m, rng(r), "**met**" if m >= 0.90 else "**not met**"))
    c_on, c_off = med("on", "cpu_s_per_1k"), med("off", "cpu_s_per_1k")
    if c_on and c_off:
        out.append("| proxy CPU per request, on / off | %.3f (guardrails add %.1f µs of CPU per request) | |" % (c_on / c_off, (c_on - c_off) * 1000))
        out.append("| on / off req/s if the proxy had its own core (CPU-bound: off CPU / on CPU per request) | %.3f | %s |" % (c_off / c_on, "met" if c_off / c_on >= 0.90 else "not met"))
for p in ("off", "on"):
    if p in rows and "direct" in rows:
        r = ratios(p, "direct")
        out.append("| %s / direct req/s | %.3f %s | |" % (p, statistics.median(r), rng(r)))
if out:
    print("| ratio (median of per-round ratios) | value | |")
    print("|---|---|---|")
    print("\n".join(out))
EOF
}

# ---------- main ----------
main() {
  mkdir -p "$RESULTS_DIR"
  BODY="$WORK/chat-request.json"
  gen_body "$BODY" "$PROMPT_BYTES" || die "could not generate the request body"
  {
    echo "stamp: $STAMP ($SCEN)"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -srm); $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "aiwarden: $AIW_BIN ($(stat -c '%y' "$AIW_BIN" | cut -d. -f1), sha256 $AIW_SHA); git $(git -C "$AIW_SRC" rev-parse --short HEAD 2>/dev/null)$(git -C "$AIW_SRC" diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted src changes')"
    echo "peers: $PEERS; rounds=$ROUNDS dur=${DUR}s warmup=${WARMUP}s conns=$CONNS body=${PROMPT_BYTES} B workers=${AIW_WORKERS:-1}"
    echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  } | tee "$RESULTS_DIR/$STAMP-$SCEN-env.txt" >&2
  start_gr_origin
  local round peer order
  for round in $(seq 1 "$ROUNDS"); do
    order="$PEERS"
    ((round % 2 == 0)) && order="$(echo "$PEERS" | sed 's/\boff\b/@/; s/\bon\b/off/; s/@/on/')"   # even rounds: on before off
    log "round $round/$ROUNDS: $order; loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
    for peer in $order; do run_peer "$peer" "$round"; done
  done
  echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RESULTS_DIR/$STAMP-$SCEN-env.txt" >&2
  {
    echo "# Guardrails benchmark (issue 5), $STAMP"
    echo
    echo "Intercepted HTTPS, HTTP/1.1 keep-alive, $CONNS connections, ${PROMPT_BYTES}-byte chat completion requests,"
    echo "${DUR} s per run, $ROUNDS round(s); aiwarden workers: ${AIW_WORKERS:-1}."
    echo
    summarize
    echo
    cat "$RESULTS_DIR/$STAMP-$SCEN-env.txt"
  } | tee "$RESULTS_DIR/$STAMP-$SCEN-summary.md"
  for peer in $PERF; do perf_profile "$peer"; done
  log "results: $RESULTS_DIR/$STAMP-$SCEN*  (summary: $STAMP-$SCEN-summary.md)"
}

main
