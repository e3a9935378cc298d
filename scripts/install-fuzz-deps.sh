#!/usr/bin/env bash
# Installs the Debian 12 packages that `make fuzz` needs on top of scripts/install-deps.sh:
# clang 14 and its runtime libraries (libFuzzer, ASan, UBSan), llvm-symbolizer for readable
# crash stacks, and the few build inputs of the fuzz targets (tests/fuzz/CMakeLists.txt).
# Idempotent like install-deps.sh: `apt-get update` runs only when something is missing.
set -euo pipefail

packages=(
  cmake make
  clang-14             # clang++-14, -fsanitize=fuzzer
  libclang-rt-14-dev   # libclang_rt.fuzzer / asan / ubsan
  llvm-14              # llvm-symbolizer: symbolised stacks in crash reports
  libstdc++-12-dev     # the C++ standard library clang-14 builds against on Debian 12
  node-llhttp          # HTTP/1 parser sources, compiled into the http1_request target
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "install-fuzz-deps: installing ${missing[*]}" >&2
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
