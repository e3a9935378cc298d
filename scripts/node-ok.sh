#!/usr/bin/env bash
# Exit 0 when `node` (>= 20.18.1, what the pinned openai/undici SDKs of the tests need) and `npm`
# are on PATH; 1 otherwise. Used by `make node-deps` and mirrored by the SDK tests' skip reason.
command -v npm >/dev/null 2>&1 || exit 1
command -v node >/dev/null 2>&1 || exit 1
node -e 'const [a,b,c]=process.versions.node.split(".").map(Number);
         process.exit(a*1e6+b*1e3+c>=20018001?0:1)' 2>/dev/null
