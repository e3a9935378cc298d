#!/usr/bin/env bash
# Installs every Debian 12 package that building, running and testing aiwarden needs.
# Idempotent: packages already present are skipped, and `apt-get update` runs only when
# something is missing (it is the slow part, and CI machines may already have everything).
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config
  # libraries (DESIGN.md "Libraries")
  libevent-dev               # event loop, evdns
  android-libboringssl-dev   # TLS (headers in /usr/include/android)
  libnghttp2-dev             # HTTP/2
  node-llhttp                # HTTP/1 parser sources (/usr/share/llhttp)
  libyaml-cpp-dev            # configuration
  rapidjson-dev              # JSON
  libhyperscan-dev           # pattern matching
  doctest-dev                # unit tests
  libgoogle-perftools-dev    # tcmalloc_minimal, the binary's allocator (CMakeLists.txt)
  # integration tests: real clients and origins on loopback
  curl python3 procps openssl
  slowhttptest               # slowloris against the forward listener (test_hostile_resources)
  testssl.sh                 # what a minted leaf offers (test_hostile_tls)
)

# Node is not installed from Debian: Debian 12's nodejs (18) is older than what the pinned Node
# SDKs of the tests need (>= 20.18.1); scripts/node-ok.sh decides whether those tests can run.
exec bash "$(dirname "$0")/apt-install-missing.sh" install-deps "${packages[@]}"
