#!/usr/bin/env bash
# Builds the PyTorch reader fuzzer (Fuzz/PyTorchReaderFuzz/main.swift) with libFuzzer + AddressSanitizer
# (swiftc -sanitize=fuzzer,address), as scripts/fuzz.sh does for safetensors, and runs each target for a
# bounded time. Usage: scripts/fuzz_pytorch.sh [seconds per target=60] [targets="pickle zip checkpoint"]
# Seeds: fixtures/torch. New corpus entries go to .build/fuzz-pytorch/corpus-<target> (not committed);
# crashes to .build/fuzz-pytorch/<target>-crash-*. Exit status 1 when a target found something.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
targets="${2:-pickle zip checkpoint}"
out=.build/fuzz-pytorch
. scripts/fuzz-common.sh
fuzz_build_mapped_tensors -I Sources/CZlib
build swiftc "${flags[@]}" -emit-library -static -module-name PyTorchReader \
  -emit-module -emit-module-path "$out/modules/PyTorchReader.swiftmodule" \
  $(find Sources/PyTorchReader -name '*.swift') -o "$out/libPyTorchReader.a"
build swiftc "${flags[@]}" -module-name PyTorchReaderFuzz Fuzz/PyTorchReaderFuzz/main.swift \
  "$out/libPyTorchReader.a" "$out/libMappedTensors.a" "$out/halfconvert.o" -lz -o "$out/pytorch-fuzz"

found=0
for target in $targets; do
    corpus="$out/corpus-$target"
    mkdir -p "$corpus"
    case "$target" in
        pickle) seeds=(fixtures/torch/pickles) ;;
        *) seeds=(fixtures/torch/hostile fixtures/torch/sharded) ;;
    esac
    # Small torch files as seeds too (the UNet .bin is too large for -max_len).
    find fixtures/torch -maxdepth 1 -type f \( -name '*.pt' -o -name '*.ckpt' \) -exec cp -n {} "$corpus"/ \;
    echo "fuzz_pytorch: $target for ${seconds}s (corpus $corpus)" >&2
    if ! FUZZ_TARGET="$target" "$out/pytorch-fuzz" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix="$out/$target-" "$corpus" "${seeds[@]}" >"$out/$target.log" 2>&1; then
        found=1
        echo "fuzz_pytorch: $target FOUND something: see $out/$target.log and $out/$target-*" >&2
    fi
    grep -E "^Done [0-9]+ runs|^stat::(average_exec_per_sec|new_units_added|peak_rss_mb)|^#[0-9]+ +DONE" "$out/$target.log" \
        | sed "s/^/  $target: /" >&2 || true
done
exit "$found"
