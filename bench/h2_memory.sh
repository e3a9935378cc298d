#!/usr/bin/env bash
# The heap aiwarden holds while HTTP/2 streams are in flight, through the sidecar's h2c route to
# an h2 origin (valgrind --tool=dhat): issue 4's bench/h2.sh setup without nghttpx, for the
# `-c 10 -m 100` load, where a thousand streams are in flight and each one's state leaves the
# caches between its request and its answer. Bytes and blocks allocated per request are exact;
# the bytes live at the heap's peak depend on how many answers one read brings (valgrind slows the
# proxy, so reads are large and the sessions of finished streams, destroyed on the next loop
# turn, pile up: thousands at the peak), so compare builds within one run. A diagnostic for
# comparing builds, not a benchmark result.
#
#   bench/h2_memory.sh [BIN...]     (default: build/aiwarden of this checkout)
#
# Env: CONNS (10; h2load -c), STREAMS (100; -m), N (25000 requests), TOP (12 allocation sites
# shown). The origin is the shared harness's nginx (TLS, ALPN h2, `GET /json`, 200 bytes);
# aiwarden runs `workers: 1`, `filters: []`, one sidecar route to it, as bench/h2.sh.
# Prints, per binary: requests, bytes live at the peak, bytes and blocks allocated per request
# (start-up included), then the allocation sites holding the most at the peak (their callers
# outside the allocator, innermost first) with their block counts and sizes.
set -u
MYDIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
AIW_SRC="${AIW_SRC:-$(cd "$MYDIR/.." && pwd)}"
BENCH_PEERS="${BENCH_PEERS:-$(cd "$AIW_SRC/../shared/bench-peers" 2>/dev/null && pwd)}"
[[ -f "$BENCH_PEERS/lib.sh" ]] || { echo "shared harness not found: set BENCH_PEERS" >&2; exit 1; }
# shellcheck source=/dev/null
source "$BENCH_PEERS/lib.sh"  # WORK, PIDS, start_bg, free_port, wait_port, start_origin
# shellcheck source=/dev/null
source "$MYDIR/aiw_lib.sh"  # write_h2_sidecar_config
for t in valgrind h2load python3; do
  command -v "$t" >/dev/null || die "$t not installed (apt-get install valgrind nghttp2-client)"
done
: "${CONNS:=10}"
: "${STREAMS:=100}"
: "${N:=25000}"
: "${TOP:=12}"
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
  # tcmalloc's entry points are malloc's for dhat too (soname synonyms), else they go unseen.
  start_bg "aiwarden-$i" valgrind --tool=dhat --dhat-out-file="$dir/dhat.json" \
    --soname-synonyms=somalloc='*tcmalloc*' "$bin" run -c "$dir/aiwarden.yaml"
  pid=$BG_PID
  wait_port "$port" 60 || die "aiwarden did not start: $(cat "$WORK/aiwarden-$i.log")"
  counted="$(h2load -t 1 -c "$CONNS" -m "$STREAMS" -n "$N" -H "x-proxy-token: $TOKEN" \
    "http://127.0.0.1:$port/json" | grep '^requests:')"
  [[ "$counted" == *" $N succeeded"* ]] || die "load failed: $counted"
  # dhat writes its file when the process exits: a graceful stop, waited for (not killed).
  kill -TERM "$pid"
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && die "aiwarden under valgrind did not stop within 60 s"
  [[ -s "$dir/dhat.json" ]] || die "no dhat output: $(tail -5 "$WORK/aiwarden-$i.log")"
  python3 - "$dir/dhat.json" "$bin" "$N" "$TOP" <<'PY'
import json, re, sys
path, binary, n, top = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
d = json.load(open(path))
frames = d["ftbl"]
allocator = re.compile(r"^(operator new|malloc|calloc|realloc|tc_|event_mm_|void std::|std::__new|"
                       r"std::allocator|std::_Vector_base|std::__detail::_Hashtable_alloc|"
                       r"_M_allocate|_M_create|allocate$)")
def site(pp):
    names = []
    for index in pp["fs"][1:]:
        m = re.search(r": (.*?) \((?:in )?(.*)\)$", frames[index])
        name = m.group(1) if m else frames[index]
        if allocator.search(name):
            continue
        if name == "???" and m:
            name = "?" + m.group(2).rsplit("/", 1)[-1]
        names.append(re.sub(r"\(.*", "", name)[:70])
        if len(names) == 3:
            break
    return " <- ".join(names)
peak = sum(pp.get("gb", 0) for pp in d["pps"])
total = sum(pp["tb"] for pp in d["pps"])
blocks = sum(pp["tbk"] for pp in d["pps"])
print(f"RESULT bin={binary} requests={n} peak_bytes={peak} bytes_per_request={total // n} "
      f"blocks_per_request={blocks / n:.1f}")
for pp in sorted(d["pps"], key=lambda pp: -pp.get("gb", 0))[:top]:
    size = pp.get("gb", 0) // max(pp.get("gbk", 0), 1)
    print(f"  {pp.get('gb', 0):>9} B at the peak in {pp.get('gbk', 0):>5} blocks of ~{size:>5} B  "
          f"{site(pp)}")
PY
done
