#!/usr/bin/env bash
# Installs the system libraries ifconvert builds against, only when one is missing.
# Debian/Ubuntu: apt-get (as root, or through sudo when available).
set -euo pipefail
need=()
for pkg in libzstd-dev zlib1g-dev libsentencepiece-dev libopenblas-dev libssl-dev pkg-config; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
echo "ifconvert: installing missing system packages: ${need[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
