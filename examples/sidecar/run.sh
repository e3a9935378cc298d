#!/usr/bin/env bash
# The aiwarden sidecar demo, end to end (examples/sidecar/README.md):
#   1. starts the tiny tool server (tool_server.py, 127.0.0.1:7001),
#   2. starts aiwarden with aiwarden.yaml (sidecar 127.0.0.1:8081, admin 127.0.0.1:9901) and a
#      fresh temporary state directory, and waits for GET /ready,
#   3. runs the agent (agent.py --check): an allowed, a blocked and a modified tool call, then
#      the session timeline,
#   4. stops what it started (by PID) and removes the temporary directory.
# Exits 0 only if the demo showed exactly what it should: allowed = 200 ok, blocked = 403
# "high risk" (never reaching the tool), modified = 200 with the rule's response_override (the
# tool got the overridden args), and a timeline of 3 calls: ok, blocked, ok.
#
# Environment: AIWARDEN_BIN (default: ../../build/aiwarden from this script's directory),
# PROXY_TOKEN (default: a random one for this run), PYTHON (default: python3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${AIWARDEN_BIN:-$here/../../build/aiwarden}"
python="${PYTHON:-python3}"
session="demo-$(date +%s)"
wait_s=15   # the longest any start-up may take

if [[ ! -x "$bin" ]]; then
  echo "run.sh: no aiwarden binary at $bin: build it first (make), or set AIWARDEN_BIN" >&2
  exit 2
fi
if [[ -z "${PROXY_TOKEN:-}" ]]; then
  PROXY_TOKEN="$("$python" -c 'import secrets; print(secrets.token_hex(16))')"
fi
export PROXY_TOKEN

tmp="$(mktemp -d "${TMPDIR:-/tmp}/aiwarden-sidecar-demo.XXXXXX")"
tools_pid=""
aiw_pid=""
agent_pid=""
log_shown=0

# Stops one process we started: SIGTERM, up to 10 s to exit, then SIGKILL. Its exit status is
# left in $stopped_rc (not printed: `wait` only works in this shell, not in a $(...) subshell).
stopped_rc=0
stop() {
  local pid="$1" i rc=0
  stopped_rc=0
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "run.sh: PID $pid did not stop within 10 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || rc=$?
  stopped_rc=$rc
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop "$agent_pid"
  stop "$aiw_pid"
  stop "$tools_pid"
  if [[ $status -ne 0 && $log_shown -eq 0 && -s "$tmp/aiwarden.log" ]]; then
    echo "--- aiwarden's log ($tmp/aiwarden.log) ---" >&2
    cat "$tmp/aiwarden.log" >&2
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 0 when GET $1 answers 200 within a second.
http_ok() {
  "$python" - "$1" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=1) as r:
    sys.exit(0 if r.status == 200 else 1)
EOF
}

# Waits (at most $wait_s seconds) until GET $2 answers 200, as long as PID $1 lives.
wait_for() {
  local pid="$1" url="$2" what="$3" deadline=$((SECONDS + wait_s))
  until http_ok "$url"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run.sh: $what exited before it was ready" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "run.sh: $what was not ready at $url within ${wait_s}s" >&2
      return 1
    fi
    sleep 0.2
  done
  # Something else may own the port: what answered must be the process we started.
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "run.sh: $what exited; is another one already listening on ${url%/*}?" >&2
    return 1
  fi
}

# The demo's addresses are fixed (aiwarden.yaml): something already listening there (another
# aiwarden, a previous demo) would answer in our place.
for port in 7001 8081 9901; do
  if "$python" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
    "$port" 2>/dev/null; then
    echo "run.sh: 127.0.0.1:$port is already in use; stop what listens there first" >&2
    exit 1
  fi
done

echo "== aiwarden sidecar demo"
echo "   binary:    $bin"
echo "   config:    $here/aiwarden.yaml"
echo "   state dir: $tmp/state (temporary)"
"$bin" check -c "$here/aiwarden.yaml"

echo "== starting the tool server (127.0.0.1:7001)"
# Its output goes to the terminal (what the tools really receive) and to a file run.sh checks.
"$python" -u "$here/tool_server.py" > >(tee "$tmp/tools.log") 2>&1 &
tools_pid=$!
wait_for "$tools_pid" http://127.0.0.1:7001/health "the tool server"

echo "== starting aiwarden (sidecar 127.0.0.1:8081, admin 127.0.0.1:9901); log: aiwarden.log"
"$bin" run -c "$here/aiwarden.yaml" --state-dir "$tmp/state" > "$tmp/aiwarden.log" 2>&1 &
aiw_pid=$!
wait_for "$aiw_pid" http://127.0.0.1:9901/ready "aiwarden"
echo "   ready"

echo "== running the agent (session $session)"
# In the background and waited for, so that a SIGTERM/SIGINT to run.sh cleans up at once.
agent_rc=0
"$python" -u "$here/agent.py" --sidecar http://127.0.0.1:8081 --session "$session" --check &
agent_pid=$!
wait "$agent_pid" || agent_rc=$?
agent_pid=""

# What the tools received: the blocked call never reached python_exec, and the calculator got
# the rule's param_overrides.
failed=0
if [[ $agent_rc -ne 0 ]]; then
  failed=1
fi
if grep -q "call=call-2 " "$tmp/tools.log"; then
  echo "run.sh: the blocked call reached the tool server" >&2
  failed=1
fi
if ! grep -qF 'call=call-3 got args {"audit": true, "expression": "22 / 7", "precision": 2}' \
  "$tmp/tools.log"; then
  echo "run.sh: the calculator did not receive the overridden args (precision 2, audit true)" >&2
  failed=1
fi

echo "== stopping aiwarden (SIGTERM: drain, flush, exit 0) and the tool server"
stop "$aiw_pid"
aiw_rc=$stopped_rc
aiw_pid=""
stop "$tools_pid"
tools_pid=""
if [[ "$aiw_rc" != 0 ]]; then
  echo "run.sh: aiwarden exited with status $aiw_rc after SIGTERM (expected 0)" >&2
  failed=1
fi
echo "== aiwarden's log"
cat "$tmp/aiwarden.log"
log_shown=1

if [[ $failed -ne 0 ]]; then
  echo "== FAILED: the demo did not show what it should (see above)" >&2
  exit 1
fi
echo "== demo OK: allowed 200 ok, blocked 403 'high risk', modified 200 masked, timeline ok/blocked/ok"
