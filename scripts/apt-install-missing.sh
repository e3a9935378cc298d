#!/usr/bin/env bash
# apt-install-missing.sh LABEL PACKAGE...: installs the Debian packages among PACKAGE that are not
# installed yet. Idempotent: packages already present are skipped, and `apt-get update` runs only
# when something is missing (it is the slow part, and CI machines may already have everything).
# Shared by install-deps.sh and install-fuzz-deps.sh; LABEL names the caller in its message.
set -euo pipefail

label="$1"
shift
missing=()
for p in "$@"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "$label: installing ${missing[*]}" >&2
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
