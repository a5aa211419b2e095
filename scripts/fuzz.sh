#!/usr/bin/env bash
# Builds the safetensors parser fuzzer with libFuzzer + AddressSanitizer (swiftc -sanitize=fuzzer,address)
# and runs it for a bounded time. Usage: scripts/fuzz.sh [seconds=60] [extra libFuzzer flags...]
# Seeds: fixtures/malformed + fixtures/safetensors. New corpus entries go to .build/fuzz/corpus
# (not committed); crashes to .build/fuzz/crash-*.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"; shift || true
out=.build/fuzz
mkdir -p "$out/corpus"
. scripts/fuzz-common.sh
fuzz_build_mapped_tensors
build swiftc "${flags[@]}" -emit-library -static -module-name SafetensorsReader \
  -emit-module -emit-module-path "$out/modules/SafetensorsReader.swiftmodule" \
  Sources/SafetensorsReader/*.swift -o "$out/libSafetensorsReader.a"
build swiftc "${flags[@]}" -module-name SafetensorsFuzz Fuzz/SafetensorsFuzz/main.swift \
  "$out/libSafetensorsReader.a" "$out/libMappedTensors.a" "$out/halfconvert.o" -o "$out/safetensors-fuzz"

echo "fuzzing for ${seconds}s (corpus $out/corpus)" >&2
"$out/safetensors-fuzz" -max_total_time="$seconds" -dict=Fuzz/safetensors.dict -max_len=4096 \
  -rss_limit_mb=2048 -artifact_prefix="$out/" -print_final_stats=1 "$@" \
  "$out/corpus" fixtures/malformed fixtures/safetensors
