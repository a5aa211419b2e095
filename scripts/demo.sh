#!/usr/bin/env bash
# The main job on the bundled fixture snapshot: installs missing system packages, builds
# ifconvert (release) and runs it on fixtures/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build -c release --product ifconvert
bin="$(swift build -c release --show-bin-path)/ifconvert"
out="${1:-out}"
mkdir -p "$out"
echo "== ifconvert inspect fixtures/IF-I-tiny" >&2
"$bin" inspect fixtures/IF-I-tiny
