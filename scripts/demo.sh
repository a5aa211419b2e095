#!/usr/bin/env bash
# The main job on the bundled fixture snapshot: installs missing system packages, builds
# ifconvert (release) and runs it on fixtures/: inspects the stage I snapshot, converts both tiny
# snapshots to packs (OUT/IF-I-tiny/{unet,text_encoder}.gguf, OUT/IF-II-tiny/unet.gguf), checks
# them, verifies the text-encoder pack (float and q8_0) and its tokenizer against transformers'
# reference bundles (fixtures/reference/), quantizes the UNet packs to q8_0, verifies float and q8_0
# UNets against the diffusers reference bundles (single forwards and both sampling loops), writes
# comparison PNGs to OUT/images/, compresses the stage I UNet pack (seekable zstd) and checks it in
# place, and prints where the packs are. OUT is the first argument (default: out).
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
te="$out/IF-I-tiny/text_encoder.gguf"
echo "== ifconvert verify $te --reference fixtures/reference/{tokenizer,t5}.safetensors" >&2
"$bin" verify "$te" --reference fixtures/reference/tokenizer.safetensors
"$bin" verify "$te" --reference fixtures/reference/t5.safetensors
echo "== ifconvert quantize $te --type q8_0, then verify" >&2
"$bin" quantize "$te" -o "$out/IF-I-tiny/text_encoder-q8_0.gguf" --type q8_0 --force >/dev/null
"$bin" verify "$out/IF-I-tiny/text_encoder-q8_0.gguf" --reference fixtures/reference/t5.safetensors
echo "== ifconvert tokenize $te \"a photo of a cat\"" >&2
"$bin" tokenize "$te" "a photo of a cat"
# Diffusion stages: quantize each UNet pack to q8_0, then check the float and the q8_0 pack against
# diffusers (single forwards and the sampling loops) and write comparison PNGs of the loop images
# (reference | ours | amplified difference) under OUT/images/.
for stage in I II; do
  dir="$out/IF-$stage-tiny"
  echo "== ifconvert quantize $dir/unet.gguf --type q8_0" >&2
  "$bin" quantize "$dir/unet.gguf" -o "$dir/unet.q8_0.gguf" --type q8_0 --force > /dev/null
  for pack in unet unet.q8_0; do
    echo "== ifconvert verify $dir/$pack.gguf --reference fixtures/reference/unet-$stage.safetensors" >&2
    "$bin" verify "$dir/$pack.gguf" --reference "fixtures/reference/unet-$stage.safetensors"
    echo "== ifconvert verify $dir/$pack.gguf --reference fixtures/reference/loop-$stage.safetensors --image-out $out/images/$pack-$stage" >&2
    "$bin" verify "$dir/$pack.gguf" --reference "fixtures/reference/loop-$stage.safetensors" --image-out "$out/images/$pack-$stage"
  done
done
echo "== ifconvert compress $out/IF-I-tiny/unet.gguf (seekable zstd), then check it in place" >&2
"$bin" compress "$out/IF-I-tiny/unet.gguf" --force
"$bin" check "$out/IF-I-tiny/unet.gguf.zst"
echo "packs:" >&2
ls -l "$out"/IF-I-tiny/*.gguf* "$out"/IF-II-tiny/*.gguf
