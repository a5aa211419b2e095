# Sourced (not run) by scripts/fuzz.sh and scripts/fuzz_pytorch.sh, with $out set: what every
# fuzzer links, built once here with libFuzzer + AddressSanitizer.

# ld.gold prints thousands of harmless "Cannot export local symbol __asan_*" warnings: keep them in a log.
build() { "$@" >>"$out/build.log" 2>&1 || { grep -v "Cannot export local symbol" "$out/build.log" >&2; exit 2; }; }

# fuzz_build_mapped_tensors [extra swiftc flags...]: sets flags=(...) for the fuzzer's own swiftc
# calls and builds $out/halfconvert.o and $out/libMappedTensors.a with its module in $out/modules.
fuzz_build_mapped_tensors() {
    mkdir -p "$out/modules"
    : >"$out/build.log"
    # CHalfConvert (MappedTensors imports it): a module map for swiftc and an instrumented object.
    cat > "$out/modules/module.modulemap" <<MAP
module CHalfConvert {
    header "$PWD/Sources/CHalfConvert/include/chalfconvert.h"
    export *
}
MAP
    clang -O1 -g -fsanitize=fuzzer-no-link,address -I Sources/CHalfConvert/include -c Sources/CHalfConvert/halfconvert.c -o "$out/halfconvert.o"
    flags=(-O -g -sanitize=fuzzer,address -parse-as-library -swift-version 6 -I "$out/modules" "$@")
    build swiftc "${flags[@]}" -emit-library -static -module-name MappedTensors \
      -emit-module -emit-module-path "$out/modules/MappedTensors.swiftmodule" \
      Sources/MappedTensors/*.swift -o "$out/libMappedTensors.a"
}
