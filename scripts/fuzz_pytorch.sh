#!/usr/bin/env bash
# Bounded libFuzzer run over the PyTorch reader (pickle machine, zip directory, whole checkpoint).
#   scripts/fuzz_pytorch.sh [seconds per target, default 60] [targets, default "pickle zip checkpoint"]
# Builds .build-fuzz/pytorch-fuzz with `swiftc -sanitize=fuzzer,address` from the sources of
# MappedTensors + PyTorchReader (one module; no SwiftPM unsafeFlags needed), seeds each corpus from
# fixtures/torch, and keeps crashes under .build-fuzz/artifacts/. Exit status 1 if anything was found.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
targets="${2:-pickle zip checkpoint}"
work=.build-fuzz
mkdir -p "$work/chalf" "$work/artifacts"

cat > "$work/chalf/module.modulemap" <<MAP
module CHalfConvert {
    header "$PWD/Sources/CHalfConvert/include/chalfconvert.h"
    export *
}
MAP
sources=$(ls Sources/MappedTensors/*.swift; find Sources/PyTorchReader -name '*.swift' ! -name Exports.swift)
if [ ! -x "$work/pytorch-fuzz" ] || [ -n "$(find $sources scripts/fuzz Sources/CHalfConvert -newer "$work/pytorch-fuzz" | head -1)" ]; then
    echo "fuzz_pytorch: building (swiftc -sanitize=fuzzer,address -O) ..." >&2
    clang -O1 -fsanitize=fuzzer-no-link,address -I Sources/CHalfConvert/include \
        -c Sources/CHalfConvert/halfconvert.c -o "$work/halfconvert.o"
    # ld.gold prints thousands of harmless "Cannot export local symbol __asan_*" warnings: log them.
    if ! swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name PyTorchReaderFuzz \
        -I "$work/chalf" -I Sources/CZlib $sources scripts/fuzz/PyTorchReaderFuzz.swift "$work/halfconvert.o" \
        -o "$work/pytorch-fuzz" >"$work/build.log" 2>&1; then
        grep -v "Cannot export local symbol" "$work/build.log" >&2
        exit 2
    fi
fi

found=0
for target in $targets; do
    corpus="$work/corpus-$target"
    mkdir -p "$corpus"
    case "$target" in
        pickle) cp -n fixtures/torch/pickles/*.pkl fixtures/torch/legacy.pt "$corpus"/ ;;
        *) find fixtures/torch -maxdepth 2 \( -name '*.pt' -o -name '*.ckpt' -o -name '*.bin' \) -size -100k -exec cp -n {} "$corpus"/ \; ;;
    esac
    echo "fuzz_pytorch: $target for ${seconds}s" >&2
    log="$work/$target.log"
    if ! FUZZ_TARGET="$target" "$work/pytorch-fuzz" "$corpus" -max_total_time="$seconds" -max_len=65536 \
        -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$work/artifacts/$target-" >"$log" 2>&1; then
        found=1
        echo "fuzz_pytorch: $target FOUND something; see $log and $work/artifacts/" >&2
    fi
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|Done [0-9]+ runs" "$log" | sed "s/^/  $target: /" >&2 || true
done
exit "$found"
