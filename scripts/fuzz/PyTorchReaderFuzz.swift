// libFuzzer entry for the PyTorch reader, compiled by scripts/fuzz_pytorch.sh together with the
// sources of MappedTensors and PyTorchReader as one module. FUZZ_TARGET picks what is fuzzed:
// `pickle` (the pickle machine + state-dict walk), `zip` (central directory + entry reading) or
// `checkpoint` (the whole reader: zip or legacy, every tensor read). Errors are expected; traps,
// sanitizer reports, hangs and out-of-memory are findings.
#if canImport(Glibc)
import Glibc
#endif

private let target: String = getenv("FUZZ_TARGET").map { String(cString: $0) } ?? "pickle"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch target {
    case "zip": _ = try? PyTorchReaderFuzzing.zipDirectory(bytes)
    case "checkpoint": _ = try? PyTorchReaderFuzzing.checkpoint(bytes)
    default: _ = try? PyTorchReaderFuzzing.pickle(bytes)
    }
    return 0
}
