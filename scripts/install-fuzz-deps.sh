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

exec bash "$(dirname "$0")/apt-install-missing.sh" install-fuzz-deps "${packages[@]}"
