#!/usr/bin/env bash
# aiwarden benchmark of issue 6: tool calls/s through the sidecar listener vs calling the tool
# origin directly, the seed rule (SPEC §6) plus 100 generated rules active, one run, side by side.
# Targets: sidecar/direct req/s >= 0.6; added p99 (sidecar p99 - direct p99) <= 1 ms.
#
#   bench/sidecar.sh                                  # ROUNDS=3 DUR=10 CONNS=50, ~3 min
#   ROUNDS=1 DUR=5 bench/sidecar.sh                   # smoke run, ~40 s
#   AIW_BIN=/tmp/aiw-sidecar-bin/aiwarden bench/sidecar.sh   # another binary (copied once)
#
# Setup (the one guardrails.sh uses, so the figures compare): everything on 127.0.0.1 of this
# machine (2 vCPUs), sharing its cores: aiwarden with `workers: 1` (one event-loop thread), the
# tool origin nginx with 1 worker, and the single-threaded load generator bench/tools/post_bench.c
# (built here), HTTP/1.1 keep-alive, one call in flight per connection, no think time (max load).
#
# Peers:
#   direct   post_bench -> tool origin: POST /run with the bare args JSON (~200 bytes: a small
#            Python snippet, user: internal, ...), i.e. what the sidecar forwards
#   sidecar  post_bench -> aiwarden sidecar listener: POST /proxy/v1/tools/python_exec with
#            X-Proxy-Token and the envelope {"args":{...same args...},"session_id":"bench-<conn>",
#            "metadata":{"tenant":"alpha"}}; aiwarden (filters pattern_matcher with its default
#            packs + rule_evaluator with 101 rules) evaluates the rules, POSTs the args to the
#            tool origin (pooled keep-alive connection) and wraps its answer
#            {"session_id","call_id","status":"ok","result":{...},"rule":null}
# The tool origin: nginx (bench/conf/sidecar-tool-origin.conf), POST /run -> 200 {"ok":true,"output":"42"}.
# Rules: the seed rule verbatim (block python_exec for user external + tenant beta + "(?i)suspicious",
# priority 50) and 100 generated ones (block/log/modify; other tools, python_exec with other
# tenants/users, match_host/match_path/match_method, match_pattern regexes compiled into the
# Hyperscan database, match_detector), priorities 1..101 with the seed in the middle. None matches
# the benchmark call: every call is evaluated against all 101 rules and allowed.
#
# Every round runs direct, then sidecar (even rounds: sidecar first), each a WARMUP-second run
# (not measured) then DUR seconds measured with CONNS connections; with LAT_CONNS (default 1)
# each peer also runs DUR seconds with that many connections (peers direct_c1, sidecar_c1): the
# per-call latency without queueing, for context. Each sidecar run is a fresh aiwarden process.
# Checks that abort the run: post_bench saw no error and no non-2xx; after each sidecar run
# aiwarden's /proxy/v1/metrics has errors, blocked, modified, rate_limited all 0 and at least as
# many calls as post_bench requests, /proxy/v1/filters shows 101 rules, every call scanned, no
# detection, nothing blocked/modified/logged, and the log no security event; then probes: a call
# that matches the seed rule (user external, tenant beta, code with "suspicious") gets 403 with
# "high risk" and rule "block python"; a call that does not gets 200 with status ok, rule null and
# result equal to the origin's JSON.
#
# Env: ROUNDS (3) DUR (10) CONNS (50) WARMUP (2) LAT_CONNS (1; empty: no low-concurrency runs)
#      AIW_BIN (build/aiwarden) AIW_WORKERS (1) ORIGIN_WORKERS (1)
#      RESULTS_DIR ($TMPDIR/aiwarden-bench/results) STAMP KEEP_WORK (1: keep the scratch dir)
# Output: RESULT lines (per peer and round, then the summary: req/s, ratio, p50/p99, added p99,
# RSS, vs the targets), TSV rows in $RESULTS_DIR/$STAMP-sidecar.tsv, the summary in
# $RESULTS_DIR/$STAMP-sidecar-summary.md, aiwarden's config, rules, log, metrics and filter
# counters of every sidecar run ($STAMP-sidecar-*).
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

: "${WARMUP:=2}"
: "${LAT_CONNS=1}"
SCEN=sidecar
TOKEN=bench-token
TOOL=python_exec
TOOL_PATH=/run
ORIGIN_ANSWER='{"ok":true,"output":"42"}'
N_RULES=101                        # the seed rule + 100 generated

for t in curl bc python3 cc /usr/sbin/nginx; do
  command -v "$t" >/dev/null || die "$t not installed (sudo $BENCH_PEERS/setup.sh)"
done
[[ "$DUR" =~ ^[0-9]+$ && "$DUR" -ge 1 && "$DUR" -le 600 ]] || die "DUR must be 1..600 seconds"
[[ "$WARMUP" =~ ^[0-9]+$ && "$WARMUP" -ge 1 && "$WARMUP" -le 60 ]] || die "WARMUP must be 1..60 seconds"
[[ "$ROUNDS" =~ ^[0-9]+$ && "$ROUNDS" -ge 1 && "$ROUNDS" -le 20 ]] || die "ROUNDS must be 1..20"
[[ "$CONNS" =~ ^[0-9]+$ && "$CONNS" -ge 1 && "$CONNS" -le 1000 ]] || die "CONNS must be 1..1000"
[[ -z "$LAT_CONNS" || ( "$LAT_CONNS" =~ ^[0-9]+$ && "$LAT_CONNS" -ge 1 && "$LAT_CONNS" -le 1000 ) ]] ||
  die "LAT_CONNS must be 1..1000 or empty"

# ---------- the load generator ----------
if ! printf '#include <openssl/ssl.h>\n' | cc -E -x c - >/dev/null 2>&1; then   # as setup.sh
  [[ "$(id -u)" == 0 ]] || die "libssl-dev is missing: sudo apt-get install libssl-dev"
  log "installing libssl-dev"
  apt-get install -y --no-install-recommends libssl-dev >/dev/null 2>&1 ||
    { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends libssl-dev >/dev/null; } ||
    die "could not install libssl-dev"
fi
POST_BENCH="$WORK/post_bench"
cc -O2 -Wall -Wextra -o "$POST_BENCH" "$MYDIR/tools/post_bench.c" -lssl -lcrypto || die "post_bench build failed"

# ---------- the binary under test, copied once (a rebuild during the run cannot mix binaries) ----------
AIW_BIN="${AIW_BIN:-$AIW_SRC/build/aiwarden}"
[[ -x "$AIW_BIN" ]] || die "aiwarden binary not found at $AIW_BIN (build it, or set AIW_BIN)"
AIW_EXE="$WORK/aiwarden.bin"
cp "$AIW_BIN" "$AIW_EXE"
AIW_SHA="$(sha256sum "$AIW_EXE" | cut -c1-12)"

# ---------- bodies: the tool's args (direct) and the sidecar envelope around the same args ----------
ARGS="$WORK/args.json"            # what the sidecar forwards: the bare args
ENVELOPE="$WORK/envelope.json"    # what the agent sends; @CONN@ -> connection number (post_bench -S)
gen_bodies() {
  python3 - "$ARGS" "$ENVELOPE" <<'EOF'
import json, sys
args = {
    "code": "import statistics\nreadings = [12.5, 14.1, 13.8, 15.2, 12.9, 14.4]\n"
            "print(round(statistics.mean(readings), 2), round(statistics.pstdev(readings), 3))",
    "user": "internal",
    "timeout_s": 10,
    "runtime": "python3.11",
}
a = json.dumps(args, separators=(",", ":"))
open(sys.argv[1], "w").write(a)
open(sys.argv[2], "w").write('{"args":%s,"session_id":"bench-@CONN@","metadata":{"tenant":"alpha"}}' % a)
EOF
}

# probe_body OUT USER TENANT CODE SESSION: one sidecar envelope
probe_body() {
  python3 -c 'import json,sys
o, user, tenant, code, sess = sys.argv[1:]
open(o, "w").write(json.dumps({"args": {"code": code, "user": user, "timeout_s": 10},
                               "session_id": sess, "metadata": {"tenant": tenant}}))' "$@"
}

# ---------- the rules: the seed rule (SPEC §6, verbatim) + 100 generated ones ----------
RULES_JSON="$WORK/rules.json"
gen_rules() {
  python3 - "$RULES_JSON" <<'EOF'
import json, random, sys
SEED = json.loads('{"name":"block python","action":"block","match_tool":"python_exec",'
    '"match_args":{"user":"external"},"match_metadata":{"tenant":"beta"},'
    '"match_pattern":"(?i)suspicious","block_reason":"high risk",'
    '"param_overrides":{"expression":"0"},"response_override":{"status":"masked"},"priority":50}')
rng = random.Random(6)   # issue 6: the same 100 rules every run
TOOLS = ["shell_exec", "sql_query", "http_fetch", "file_write", "file_read", "send_email",
         "k8s_apply", "s3_put", "git_push", "browser_open", "slack_post", "payment_refund",
         "jira_create", "calendar_invite", "vector_search", "terraform_apply", "docker_run",
         "ssh_exec", "crm_update", "pdf_render"]
TENANTS = ["beta", "gamma", "delta", "epsilon", "acme", "globex", "initech", "umbrella", "hooli",
           "wayne", "stark", "tyrell"]
USERS = ["external", "contractor", "anonymous", "trial", "partner", "guest"]
ENVS = ["prod", "production", "pci", "finance"]
HOSTS = [".pastebin.com", "*.ngrok-free.app", "transfer.sh", ".requestbin.net", "api.internal.example.com",
         "*.s3.amazonaws.com", ".webhook.site", "hooks.slack.com", "metadata.google.internal",
         ".onion.example", "files.corp.example.com", "*.blob.core.windows.net"]
PATHS = ["/upload*", "/v1/admin/*", "/api/*/delete", "/internal/*", "/debug/*", "/export*.csv",
         "/graphql", "/v?/secrets/*"]
PATTERNS = [r"(?i)rm\s+-rf\s+/", r"(?i)drop\s+(table|database)\s", r"(?i)curl\s+[^\n]*\|\s*(ba)?sh",
            r"-----BEGIN (RSA |OPENSSH |EC )?PRIVATE KEY-----", r"/etc/(shadow|sudoers)",
            r"(?i)base64\s+(-d|--decode)", r"(?i)\bnc\s+-[el]\b", r"(?i)chmod\s+(-R\s+)?777",
            r"(?i)os\.system\(|subprocess\.(Popen|call|run)\(", r"(?i)mimikatz|lsadump",
            r"(?i)169\.254\.169\.254|metadata\.google\.internal", r"(?i)__import__\(.os.\)"]
rules = []
def add(kind, **r):
    r = {"name": "%s %03d" % (kind, len(rules) + 1), **r}
    rules.append(r)
# 25 block rules on other tools, with args (and sometimes a tenant)
for i in range(25):
    t = TOOLS[i % len(TOOLS)]
    r = dict(action="block", match_tool=t,
             match_args=rng.choice([{"user": rng.choice(USERS)}, {"env": rng.choice(ENVS)},
                                    {"user": rng.choice(USERS), "env": rng.choice(ENVS)}]),
             block_reason="%s is not allowed here" % t)
    if i % 3 == 0: r["match_metadata"] = {"tenant": rng.choice(TENANTS)}
    add("block " + t, **r)
# 15 rules on python_exec itself: other tenants or users (near misses of the benchmark call;
# neither user external nor tenant beta, so the seed rule still decides the blocking probe)
PY_TENANTS = [t for t in TENANTS if t != "beta"]
PY_USERS = [u for u in USERS if u != "external"]
for i in range(15):
    r = dict(match_tool="python_exec")
    if i % 2: r["match_metadata"] = {"tenant": PY_TENANTS[i % len(PY_TENANTS)]}
    else: r["match_args"] = {"user": PY_USERS[i % len(PY_USERS)]}
    if i % 3 == 0:
        r.update(action="modify", param_overrides={"timeout_s": 5, "network": False})
    elif i % 3 == 1:
        r.update(action="log")
    else:
        r.update(action="block", block_reason="python disabled for this tenant")
    add("python_exec", **r)
# 15 modify rules on other tools
for i in range(15):
    t = TOOLS[(i * 7) % len(TOOLS)]
    r = dict(action="modify", match_tool=t,
             match_metadata={"tenant": rng.choice(TENANTS)})
    if i % 2: r["param_overrides"] = {"dry_run": True, "max_rows": 100}
    else: r["response_override"] = {"status": "masked", "output": "[withheld]"}
    add("modify " + t, **r)
# 15 host / path / method rules (exfiltration endpoints, admin APIs)
for i in range(15):
    r = dict(action=["block", "log", "block"][i % 3], match_host=HOSTS[i % len(HOSTS)])
    if i % 2 == 0: r["match_path"] = PATHS[i % len(PATHS)]
    if i % 4 == 1: r["match_method"] = ["PUT", "DELETE"]
    if r["action"] == "block": r["block_reason"] = "egress to %s is blocked" % r["match_host"]
    add("egress", **r)
# 12 match_pattern rules (compiled into the pattern matcher's Hyperscan database)
for i, p in enumerate(PATTERNS):
    r = dict(action="block" if i % 4 else "log", match_pattern=p,
             block_reason="dangerous code pattern")
    if i % 3 == 0: r["match_tool"] = rng.choice(["python_exec", "shell_exec", "ssh_exec"])
    if r["action"] == "log": del r["block_reason"]
    add("pattern", **r)
# 8 detector rules (secrets / personal data in tool calls)
for i in range(8):
    r = dict(action=["block", "log"][i % 2], match_class=["tool"],
             match_detector=[["secret.*"], ["pii.*"], ["injection.*"], ["secret.aws_access_key"]][i % 4])
    if i >= 4: r["match_metadata"] = {"tenant": TENANTS[i]}
    if r["action"] == "block": r["block_reason"] = "sensitive data in a tool call"
    add("detector", **r)
# 10 log rules on other tools
for i in range(10):
    t = TOOLS[(i * 3 + 1) % len(TOOLS)]
    add("audit " + t, action="log", match_tool=t,
        **rng.choice([{"match_metadata": {"tenant": rng.choice(TENANTS)}},
                      {"match_args": {"user": rng.choice(USERS)}}, {}]))
assert len(rules) == 100, len(rules)
prios = list(range(1, 50)) + list(range(51, 102))   # the seed (50) sits in the middle
rng.shuffle(prios)
for r, p in zip(rules, prios):
    r["priority"] = p
    r["description"] = "generated for bench/sidecar.sh"
out = [SEED] + rules
json.dump(out, open(sys.argv[1], "w"))
EOF
}

# ---------- the tool origin ----------
start_tool_origin() {
  local d="$WORK/tool-origin" code
  mkdir -p "$d/logs" "$d/tmp"
  chmod -R a+rX "$d"
  TOOL_PORT="$(free_port)"
  render "$MYDIR/conf/sidecar-tool-origin.conf" "$d/nginx.conf" PREFIX="$d" HTTP_PORT="$TOOL_PORT" \
    WORKERS="${ORIGIN_WORKERS:-1}" ANSWER="$ORIGIN_ANSWER"
  start_bg tool-origin /usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log"; ORIGIN_PID=$BG_PID
  wait_port "$TOOL_PORT" || die "tool origin did not start: $(cat "$WORK/tool-origin.log")"
  code="$(curl -s -o "$WORK/origin-answer.json" -w '%{http_code}' --max-time 5 \
    -H 'Content-Type: application/json' --data-binary "@$ARGS" "http://127.0.0.1:$TOOL_PORT$TOOL_PATH")"
  [[ "$code" == 200 && "$(cat "$WORK/origin-answer.json")" == "$ORIGIN_ANSWER" ]] ||
    die "tool origin answered $code $(head -c 200 "$WORK/origin-answer.json") to the benchmark args"
  log "tool origin nginx pid=$ORIGIN_PID http=$TOOL_PORT (answer: $ORIGIN_ANSWER)"
}

# ---------- aiwarden with the sidecar listener ----------
AIW_ADMIN=""
start_sc_aiwarden() {   # start_sc_aiwarden TAG
  local tag="$1" d i n
  d="$(_peer_dir "aiw-$tag")"; PEER_PORT="$(free_port)"; AIW_ADMIN="$(free_port)"
  AIW_LOG="$WORK/aiw-$tag.log"
  {
    cat <<EOF
# sidecar benchmark, $tag
workers: ${AIW_WORKERS:-1}
state_dir: $d/state
admin: {address: 127.0.0.1:$AIW_ADMIN, token: $TOKEN}
listeners:
  - {name: agent, type: sidecar, address: 127.0.0.1:$PEER_PORT, tools: {$TOOL: "http://127.0.0.1:$TOOL_PORT$TOOL_PATH"}}
filters:
  - filter: pattern_matcher
  - filter: rule_evaluator
    config:
      rules:
EOF
    python3 -c 'import json,sys
for r in json.load(open(sys.argv[1])): print("        - " + json.dumps(r))' "$RULES_JSON"
  } >"$d/aiwarden.yaml"
  "$AIW_EXE" check -c "$d/aiwarden.yaml" >"$d/check.out" 2>&1 ||
    die "aiwarden refused the configuration ($d/aiwarden.yaml):
$(cat "$d/check.out")"
  [[ -f "$RESULTS_DIR/$STAMP-$SCEN-aiwarden.yaml" ]] || cp "$d/aiwarden.yaml" "$RESULTS_DIR/$STAMP-$SCEN-aiwarden.yaml"
  start_bg "aiw-$tag" "$AIW_EXE" run -c "$d/aiwarden.yaml" --log-format json
  PEER_PID=$BG_PID
  aiw_wait_ready "$AIW_LOG" aiwarden
  n="$(admin_get /proxy/v1/rules | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rules"]))' 2>/dev/null)"
  [[ "$n" == "$N_RULES" ]] || die "$tag: aiwarden has ${n:-no} rules active, expected $N_RULES"
  wait_port "$PEER_PORT" 5 || die "$tag: the sidecar listener is not listening on $PEER_PORT"
}

# filter_stat FILE NAME: a stage's stat (pattern_matcher.requests_scanned, ...) from GET /proxy/v1/filters
filter_stat() {
  python3 -c 'import json,sys
try:
    for f in json.load(open(sys.argv[1]))["filters"]:
        if sys.argv[2] in f.get("stats", {}): print(f["stats"][sys.argv[2]]); break
except Exception: pass' "$1" "$2"
}
security_events() { grep -c '"kind":"security"' "$AIW_LOG" 2>/dev/null || true; }

# sidecar_probe NAME BODYFILE -> HTTP code; the answer in $WORK/probe-NAME.out
sidecar_probe() {
  curl -s -o "$WORK/probe-$1.out" -w '%{http_code}' --max-time 5 -H "X-Proxy-Token: $TOKEN" \
    -H 'Content-Type: application/json' --data-binary "@$2" \
    "http://127.0.0.1:$PEER_PORT/proxy/v1/tools/$TOOL"
}

# check_counters TAG REQUESTS: aiwarden's counters say every call was evaluated and allowed
check_counters() {
  local tag="$1" nreq="$2" m="$RESULTS_DIR/$STAMP-$SCEN-$1.metrics.json" \
        f="$RESULTS_DIR/$STAMP-$SCEN-$1.filters.json" k v calls sec
  admin_get /proxy/v1/metrics >"$m"
  admin_get /proxy/v1/filters >"$f"
  admin_get /metrics >"$RESULTS_DIR/$STAMP-$SCEN-$tag.prom"
  calls="$(json_field "$m" calls)"
  [[ -n "$calls" ]] || die "$tag: no metrics from the admin API"
  for k in errors blocked modified rate_limited; do
    v="$(json_field "$m" "$k")"
    [[ "$v" == 0 ]] || die "$tag: aiwarden counted $k=$v (see $m)"
  done
  ((calls >= nreq)) || die "$tag: aiwarden counted $calls calls, post_bench $nreq requests"
  v="$(filter_stat "$f" rule_evaluator.rules)"
  [[ "$v" == "$N_RULES" ]] || die "$tag: rule_evaluator has '${v}' rules, expected $N_RULES (see $f)"
  v="$(filter_stat "$f" pattern_matcher.requests_scanned)"
  [[ -n "$v" ]] && ((v >= nreq)) || die "$tag: pattern_matcher scanned '$v' requests of $nreq (see $f)"
  for k in pattern_matcher.detections pattern_matcher.scan_errors rule_evaluator.blocked \
           rule_evaluator.modified rule_evaluator.logged; do
    v="$(filter_stat "$f" "$k")"
    [[ -z "$v" || "$v" == 0 ]] || die "$tag: $k=$v: the benchmark call must match nothing (see $f)"
  done
  v="$(filter_stat "$f" rule_evaluator.allowed)"
  [[ -z "$v" ]] || ((v >= nreq)) || die "$tag: rule_evaluator allowed $v calls of $nreq (see $f)"
  sec="$(security_events)"
  ((sec == 0)) || die "$tag: the benchmark call caused $sec security events: $(grep -m1 '"kind":"security"' "$AIW_LOG")"
}

# check_probes TAG: after the measurement, the rules still decide (seed rule blocks, others pass)
check_probes() {
  local tag="$1" code
  probe_body "$WORK/probe-block.json" external beta 'print("suspicious payload")' probe-block
  code="$(sidecar_probe block "$WORK/probe-block.json")"
  [[ "$code" == 403 ]] && python3 -c 'import json,sys
a = json.load(open(sys.argv[1]))
sys.exit(0 if a.get("error") == "blocked" and a.get("reason") == "high risk" and a.get("rule") == "block python" else 1)' \
    "$WORK/probe-block.out" ||
    die "$tag: a call matching the seed rule got $code $(head -c 300 "$WORK/probe-block.out"), expected 403 \"high risk\""
  probe_body "$WORK/probe-pass.json" internal alpha 'print(6 * 7)' probe-pass
  code="$(sidecar_probe pass "$WORK/probe-pass.json")"
  [[ "$code" == 200 ]] && python3 -c 'import json,sys
a = json.load(open(sys.argv[1]))
sys.exit(0 if a.get("status") == "ok" and a.get("rule") is None and a.get("result") == json.loads(sys.argv[2])
         and a.get("session_id") == "probe-pass" and a.get("call_id") else 1)' "$WORK/probe-pass.out" "$ORIGIN_ANSWER" ||
    die "$tag: a call matching no rule got $code $(head -c 300 "$WORK/probe-pass.out"), expected 200 with result $ORIGIN_ANSWER"
}

aiw_state() {   # for error messages: aiwarden's own counters and last log lines
  [[ -n "$AIW_ADMIN" ]] || return 0
  printf '\n  aiwarden /proxy/v1/metrics: %s' "$(admin_get /proxy/v1/metrics | cut -c1-200)"
  printf '\n  aiwarden log tail:\n%s' "$(tail -5 "$AIW_LOG")"
}

pb() {   # pb PEER SECONDS CONNS: post_bench against the tool origin or the sidecar
  local peer="$1" secs="$2" conns="$3"
  if [[ "$peer" == direct* ]]; then
    "$POST_BENCH" -P -t "127.0.0.1:$TOOL_PORT" -p "$TOOL_PATH" -b "$ARGS" -c "$conns" -d "$secs"
  else
    "$POST_BENCH" -P -t "127.0.0.1:$PEER_PORT" -p "/proxy/v1/tools/$TOOL" -H "X-Proxy-Token: $TOKEN" \
      -S @CONN@ -b "$ENVELOPE" -c "$conns" -d "$secs"
  fi
}

# one_load PEER(direct|sidecar) NAME(peer name in the TSV) ROUND CONNS WARMUP_S: warm-up, measure, emit
one_load() {
  local base="$1" name="$2" round="$3" conns="$4" warm="$5" tag="$2-r$3" out="$WORK/last.out" \
        wreq=0 rps nreq errs non2xx cpu_s per1k pid="-" rss=NA
  [[ "$base" == sidecar ]] && pid="$PEER_PID"
  if ((warm > 0)); then
    pb "$base" "$warm" "$conns" >"$WORK/warmup.out" 2>"$WORK/warmup.err"
    wreq="$(kvn requests "$WORK/warmup.out")"
    errs="$(kvn errors "$WORK/warmup.out")"; non2xx="$(kvn non2xx "$WORK/warmup.out")"
    ((wreq > 0 && errs == 0 && non2xx == 0)) ||
      die "$tag: warm-up: requests=$wreq errors=$errs non2xx=$non2xx; $(tr '\n' ' ' <"$WORK/warmup.err")$(aiw_state)"
  fi
  measure "$pid" "$ORIGIN_PID" pb "$base" "$DUR" "$conns"
  grep -q '^RESULT' "$out" || die "$tag: post_bench failed: $(cat "$WORK/last.err")"
  rps="$(kvn rps "$out")"; nreq="$(kvn requests "$out")"
  errs="$(kvn errors "$out")"; non2xx="$(kvn non2xx "$out")"
  ((errs == 0 && non2xx == 0 && nreq > 0)) ||
    die "$tag: post_bench: requests=$nreq errors=$errs non2xx=$non2xx; $(tr '\n' ' ' <"$WORK/last.err")$(aiw_state)"
  if [[ "$base" == direct ]]; then
    cpu_s=0; per1k=NA
  else
    cpu_s="$(echo "$MEAS_CPU * $MEAS_WALL / 100" | bc -l)"
    per1k="$(printf '%.4f' "$(echo "$cpu_s * 1000 / $nreq" | bc -l)")"
    rss="$MEAS_RSS"
    TOTAL_CALLS=$((TOTAL_CALLS + wreq + nreq))
    check_counters "$tag" "$TOTAL_CALLS"
  fi
  emit "$SCEN" "$name" "$round" "rps=$rps" "requests=$nreq" "p50_us=$(kvn p50_us "$out")" \
    "p90_us=$(kvn p90_us "$out")" "p99_us=$(kvn p99_us "$out")" "max_us=$(kvn max_us "$out")" \
    "errors=$errs" "non2xx=$non2xx" \
    "cpu_pct=$([[ $base == direct ]] && echo 0 || echo "$MEAS_CPU")" "cpu_s_per_1k=$per1k" \
    "rss_mb=$rss" "origin_cpu_pct=$MEAS_OCPU" "client_cpu_pct=$(kv client_cpu_pct "$out")" \
    "req_bytes=$(kv req_bytes "$out")" "conns=$conns" "rules=$N_RULES" \
    "loadavg=$(cut -d' ' -f1 /proc/loadavg)"
}

run_peer() {   # run_peer direct|sidecar ROUND
  local peer="$1" round="$2"
  if [[ "$peer" == sidecar ]]; then
    start_sc_aiwarden "sidecar-r$round"
    TOTAL_CALLS=0
  fi
  one_load "$peer" "$peer" "$round" "$CONNS" "$WARMUP"
  [[ -n "$LAT_CONNS" ]] && one_load "$peer" "${peer}_c$LAT_CONNS" "$round" "$LAT_CONNS" 1
  if [[ "$peer" == sidecar ]]; then
    check_probes "sidecar-r$round"
    cp "$AIW_LOG" "$RESULTS_DIR/$STAMP-$SCEN-sidecar-r$round.log" 2>/dev/null
    stop_peer; AIW_ADMIN=""
  fi
}

summarize() {   # summarize md|result
  python3 - "$RESULTS_DIR/$STAMP-$SCEN.tsv" "$1" "$CONNS" "${LAT_CONNS:-}" <<'EOF'
import statistics, sys
tsv, mode, conns, lat = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows = {}
for line in open(tsv):
    f = line.rstrip("\n").split("\t")
    kv = dict(x.split("=", 1) for x in f[3:])
    rows.setdefault(f[1], {})[int(f[2])] = kv
def num(v):
    try: return float(v)
    except (TypeError, ValueError): return None
def vals(peer, key):
    return [num(r.get(key)) for _, r in sorted(rows.get(peer, {}).items()) if num(r.get(key)) is not None]
def med(peer, key):
    v = vals(peer, key)
    return statistics.median(v) if v else None
def per_round(a, b, f):
    return [f(rows[a][r], rows[b][r]) for r in sorted(rows.get(a, {})) if r in rows.get(b, {})]
ratio = lambda a, b: per_round(a, b, lambda x, y: num(x["rps"]) / num(y["rps"]))
added = lambda a, b, k: per_round(a, b, lambda x, y: (num(x[k]) - num(y[k])) / 1000)
rng = lambda v, f="%.3f": ("[" + f % min(v) + ".." + f % max(v) + "]") if len(v) > 1 else ""
ms = lambda v: "–" if v is None else "%.2f" % (v / 1000)
S, D = "sidecar", "direct"
have = S in rows and D in rows
r = ratio(S, D) if have else []
a99 = added(S, D, "p99_us") if have else []
a50 = added(S, D, "p50_us") if have else []
rmed = statistics.median(r) if r else None
a99med = statistics.median(a99) if a99 else None
met = lambda ok: "met" if ok else "NOT met"
yn = lambda ok: "yes" if ok else "no"
if mode == "result":
    if not have: sys.exit(0)
    print("RESULT sidecar summary conns=%s rps_direct=%.0f rps_sidecar=%.0f ratio=%.3f target_ratio=0.6 ratio_met=%s"
          % (conns, med(D, "rps"), med(S, "rps"), rmed, yn(rmed >= 0.6)))
    print("RESULT sidecar summary p50_direct_ms=%s p99_direct_ms=%s p50_sidecar_ms=%s p99_sidecar_ms=%s "
          "added_p50_ms=%.2f added_p99_ms=%.2f target_added_p99_ms=1 added_p99_met=%s"
          % (ms(med(D, "p50_us")), ms(med(D, "p99_us")), ms(med(S, "p50_us")), ms(med(S, "p99_us")),
             statistics.median(a50), a99med, yn(a99med <= 1.0)))
    print("RESULT sidecar summary aiwarden_rss_mb=%s aiwarden_cpu_pct=%s cpu_us_per_call=%.1f rules=%s"
          % (med(S, "rss_mb"), med(S, "cpu_pct"), med(S, "cpu_s_per_1k") * 1000, rows[S][min(rows[S])].get("rules")))
    if lat and ("sidecar_c" + lat) in rows and ("direct_c" + lat) in rows:
        sl, dl = "sidecar_c" + lat, "direct_c" + lat
        print("RESULT sidecar summary conns=%s rps_direct=%.0f rps_sidecar=%.0f p50_direct_ms=%s p99_direct_ms=%s "
              "p50_sidecar_ms=%s p99_sidecar_ms=%s added_p50_ms=%.3f added_p99_ms=%.3f"
              % (lat, med(dl, "rps"), med(sl, "rps"), ms(med(dl, "p50_us")), ms(med(dl, "p99_us")),
                 ms(med(sl, "p50_us")), ms(med(sl, "p99_us")),
                 statistics.median(added(sl, dl, "p50_us")), statistics.median(added(sl, dl, "p99_us"))))
    sys.exit(0)
print("| peer | connections | calls/s median (rounds) | p50 / p90 / p99 ms | aiwarden CPU % | aiwarden CPU µs per call | aiwarden RSS MiB | origin CPU % | client CPU % |")
print("|---|---|---|---|---|---|---|---|---|")
for p in [D, S] + (["direct_c" + lat, "sidecar_c" + lat] if lat else []):
    if p not in rows: continue
    side = p.startswith("sidecar")
    print("| %s | %s | %s (%s) | %s / %s / %s | %s | %s | %s | %s | %s |" % (
        p, rows[p][min(rows[p])].get("conns"), "%.0f" % med(p, "rps"),
        " / ".join("%.0f" % x for x in vals(p, "rps")),
        ms(med(p, "p50_us")), ms(med(p, "p90_us")), ms(med(p, "p99_us")),
        "%.0f" % med(p, "cpu_pct") if side else "–",
        "%.1f" % (med(p, "cpu_s_per_1k") * 1000) if side else "–",
        "%.1f" % med(p, "rss_mb") if side else "–",
        "%.0f" % med(p, "origin_cpu_pct"), "%.0f" % med(p, "client_cpu_pct")))
print()
if have:
    print("| target (issue 6), %s connections | measured (median of per-round values) | |" % conns)
    print("|---|---|---|")
    print("| sidecar / direct calls/s ≥ 0.60 | **%.3f** %s | **%s** |" % (rmed, rng(r), met(rmed >= 0.6)))
    print("| added p99 (sidecar p99 − direct p99) ≤ 1 ms | **%+.2f ms** %s (added p50 %+.2f ms) | **%s** |"
          % (a99med, rng(a99, "%+.2f"), statistics.median(a50), met(a99med <= 1.0)))
    if lat and ("sidecar_c" + lat) in rows and ("direct_c" + lat) in rows:
        sl, dl = "sidecar_c" + lat, "direct_c" + lat
        b99, b50 = added(sl, dl, "p99_us"), added(sl, dl, "p50_us")
        print("| (context) added p50 / p99 with %s connection(s), no queueing | %+.3f / %+.3f ms %s | |"
              % (lat, statistics.median(b50), statistics.median(b99), rng(b99, "%+.3f")))
EOF
}

# ---------- main ----------
main() {
  mkdir -p "$RESULTS_DIR"
  gen_bodies || die "could not generate the request bodies"
  gen_rules || die "could not generate the rules"
  cp "$RULES_JSON" "$RESULTS_DIR/$STAMP-$SCEN-rules.json"
  {
    echo "stamp: $STAMP ($SCEN)"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -srm); $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "aiwarden: $AIW_BIN ($(stat -c '%y' "$AIW_BIN" | cut -d. -f1), sha256 $AIW_SHA); git $(git -C "$AIW_SRC" rev-parse --short HEAD 2>/dev/null)$(git -C "$AIW_SRC" diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted src changes')"
    echo "rounds=$ROUNDS dur=${DUR}s warmup=${WARMUP}s conns=$CONNS lat_conns=${LAT_CONNS:-none} workers=${AIW_WORKERS:-1} origin_workers=${ORIGIN_WORKERS:-1} rules=$N_RULES"
    echo "args: $(wc -c <"$ARGS") bytes; envelope: $(sed 's/@CONN@/0/' "$ENVELOPE" | wc -c) bytes (connection 0)"
    echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  } | tee "$RESULTS_DIR/$STAMP-$SCEN-env.txt" >&2
  start_tool_origin
  local round peer order
  for round in $(seq 1 "$ROUNDS"); do
    order="direct sidecar"
    ((round % 2 == 0)) && order="sidecar direct"
    log "round $round/$ROUNDS: $order; loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
    for peer in $order; do run_peer "$peer" "$round"; done
  done
  echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RESULTS_DIR/$STAMP-$SCEN-env.txt" >&2
  {
    echo "# Sidecar benchmark (issue 6), $STAMP"
    echo
    echo "Tool calls through aiwarden's sidecar listener (POST /proxy/v1/tools/$TOOL, $N_RULES rules, every"
    echo "call allowed) vs POSTing the same args to the tool origin (nginx) directly; plain HTTP/1.1"
    echo "keep-alive, $CONNS connections, ${DUR} s per run, $ROUNDS round(s); aiwarden workers: ${AIW_WORKERS:-1};"
    echo "load generator, aiwarden and origin share the machine's $(nproc) CPUs."
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
