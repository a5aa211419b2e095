#!/usr/bin/env bash
# The main job on the bundled fixture snapshot: installs missing system packages, builds
# ifconvert (release) and runs it on fixtures/: inspects the stage I snapshot, converts both tiny
# snapshots to packs (OUT/IF-I-tiny/{unet,text_encoder}.gguf, OUT/IF-II-tiny/unet.gguf), checks
# them and prints where they are.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build -c release --product ifconvert
bin="$(swift build -c release --show-bin-path)/ifconvert"
out="${1:-out}"
mkdir -p "$out"
echo "== ifconvert inspect fixtures/IF-I-tiny" >&2
"$bin" inspect fixtures/IF-I-tiny
for snapshot in IF-I-tiny IF-II-tiny; do
  echo "== ifconvert convert fixtures/$snapshot -o $out/$snapshot --variant fp16 --force" >&2
  "$bin" convert "fixtures/$snapshot" -o "$out/$snapshot" --variant fp16 --force
  for pack in "$out/$snapshot"/*.gguf; do "$bin" check "$pack"; done
done
echo "packs:" >&2
ls -l "$out"/IF-I-tiny/*.gguf "$out"/IF-II-tiny/*.gguf
