#!/usr/bin/env bash
# User-space instructions per sidecar tool call (valgrind callgrind's Ir), for comparing two
# builds when the machine is too noisy for calls/s: on a shared VM bench/sidecar.sh's CPU µs per
# call moves by 20-40 % between runs, while the instruction count of the same binary moves by
# well under 1 %. Kernel work (the loopback sends, ~half of a call's CPU) is not counted, and
# instructions are not time (cache misses and branch mispredictions are not in them): a
# diagnostic, not a benchmark result.
#
#   bench/sidecar_instructions.sh CONFIG [BIN...]
#
# CONFIG: an aiwarden config written by bench/sidecar.sh ($RESULTS_DIR/<stamp>-sidecar-aiwarden.yaml:
# the seed rule + 100 generated rules, pattern_matcher, rule_evaluator); its ports and state_dir
# are replaced by free ones here. BIN: aiwarden binaries (default build/aiwarden), measured in turn.
# The tool origin is a small Python HTTP/1.1 server answering {"ok":true,"output":"42"}; the load
# is bench/tools/post_bench.c with sidecar.sh's envelope, 4 connections, a 3 s warm-up uninstrumented
# counts (callgrind_control -z) then 8 s counted. Prints, per binary: calls, Ir, Ir per call.
set -euo pipefail
MYDIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONFIG="${1:?usage: bench/sidecar_instructions.sh CONFIG [BIN...]}"
shift
BINS=("$@")
[[ ${#BINS[@]} -gt 0 ]] || BINS=("$MYDIR/../build/aiwarden")
for t in valgrind callgrind_control callgrind_annotate python3 cc curl; do
  command -v "$t" >/dev/null || { echo "$t not installed (apt-get install valgrind)" >&2; exit 1; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/aiw-ir.XXXXXX")"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cc -O2 -o "$WORK/post_bench" "$MYDIR/tools/post_bench.c" -lssl -lcrypto

cat >"$WORK/origin.py" <<'EOF'
import http.server, socketserver, sys
class Tool(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = b'{"ok":true,"output":"42"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass
class Server(socketserver.ThreadingMixIn, http.server.HTTPServer): daemon_threads = True
Server(("127.0.0.1", int(sys.argv[1])), Tool).serve_forever()
EOF
python3 - "$WORK/envelope.json" <<'EOF'
import json, sys
args = {"code": "import statistics\nreadings = [12.5, 14.1, 13.8, 15.2, 12.9, 14.4]\n"
                "print(round(statistics.mean(readings), 2), round(statistics.pstdev(readings), 3))",
        "user": "internal", "timeout_s": 10, "runtime": "python3.11"}
open(sys.argv[1], "w").write('{"args":%s,"session_id":"bench-@CONN@","metadata":{"tenant":"alpha"}}'
                             % json.dumps(args, separators=(",", ":")))
EOF

ORIGIN_PORT="$(free_port)"
python3 "$WORK/origin.py" "$ORIGIN_PORT" &
PIDS+=($!)

for bin in "${BINS[@]}"; do
  ADMIN_PORT="$(free_port)"
  SIDECAR_PORT="$(free_port)"
  rm -rf "$WORK/state" && mkdir -p "$WORK/state"
  python3 - "$CONFIG" "$WORK/aiwarden.yaml" "$WORK/state" "$ADMIN_PORT" "$SIDECAR_PORT" "$ORIGIN_PORT" <<'EOF'
import re, sys
src, dst, state, admin, sidecar, origin = sys.argv[1:]
s = open(src).read()
s = re.sub(r"state_dir: .*", "state_dir: " + state, s)
s = re.sub(r"(admin: \{address: 127\.0\.0\.1:)\d+", r"\g<1>" + admin, s)
s, n = re.subn(r'address: 127\.0\.0\.1:\d+, tools: \{python_exec: "http://127\.0\.0\.1:\d+/run"\}',
               'address: 127.0.0.1:%s, tools: {python_exec: "http://127.0.0.1:%s/run"}' % (sidecar, origin), s)
if n != 1:
    sys.exit("the config has no sidecar listener of bench/sidecar.sh's shape")
open(dst, "w").write(s)
EOF
  OUT="$WORK/callgrind.out"
  rm -f "$OUT"*
  valgrind --tool=callgrind --callgrind-out-file="$OUT" "$bin" run -c "$WORK/aiwarden.yaml" \
    >"$WORK/aiwarden.log" 2>&1 &
  VG=$!
  PIDS+=("$VG")
  for _ in $(seq 1 240); do
    curl -sf -o /dev/null "http://127.0.0.1:$ADMIN_PORT/ready" && break
    sleep 0.5
  done
  load() {
    "$WORK/post_bench" -P -t "127.0.0.1:$SIDECAR_PORT" -p /proxy/v1/tools/python_exec \
      -H "X-Proxy-Token: bench-token" -S @CONN@ -b "$WORK/envelope.json" -c 4 -d "$1"
  }
  calls() {
    curl -sf -H "X-Proxy-Token: bench-token" "http://127.0.0.1:$ADMIN_PORT/proxy/v1/metrics" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["calls"])'
  }
  load 3 >/dev/null
  callgrind_control -z "$VG" >/dev/null 2>&1
  c0="$(calls)"
  load 8 | grep -q "errors=0 non2xx=0" || { echo "$bin: the load saw errors" >&2; exit 1; }
  c1="$(calls)"
  callgrind_control -d "$VG" >/dev/null 2>&1
  kill "$VG"
  wait "$VG" 2>/dev/null || true
  dump="$(ls -t "$OUT".* 2>/dev/null | head -1)"
  ir="$(callgrind_annotate "$dump" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')"
  n=$((c1 - c0))
  echo "$bin: calls $n Ir $ir Ir/call $((ir / n))"
done
