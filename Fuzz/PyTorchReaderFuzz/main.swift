// libFuzzer entry for the PyTorch reader (scripts/fuzz_pytorch.sh builds it; not a SwiftPM target,
// libFuzzer brings its own `main`). FUZZ_TARGET picks what is fuzzed: `pickle` (the pickle machine
// + state-dict walk), `zip` (central directory + entry reading) or `checkpoint` (the whole reader,
// zip or legacy, every tensor read and checked). Thrown errors are expected; traps, sanitizer
// reports, hangs, out-of-memory and failed invariants are findings.
#if canImport(Glibc)
import Glibc
#endif
import PyTorchReader

private let target: String = getenv("FUZZ_TARGET").map { String(cString: $0) } ?? "pickle"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch target {
    case "zip": _ = try? PyTorchReaderFuzzing.zipDirectory(bytes)
    case "checkpoint": checkCheckpoint(bytes)
    default: _ = try? PyTorchReaderFuzzing.pickle(bytes)
    }
    return 0
}

/// The reader's promises for every file it accepts: each listed tensor opens, its bytes are exactly
/// shape x dtype, `info` agrees with `tensor`, names are unique.
private func checkCheckpoint(_ bytes: [UInt8]) {
    var options = PyTorchCheckpoint.Options()
    options.maximumInflatedByteCount = 1 << 20
    guard let checkpoint = try? PyTorchCheckpoint(storage: HeapStorage(bytes), path: "<fuzz>", options: options) else { return }
    precondition(Set(checkpoint.tensorNames).count == checkpoint.tensorNames.count, "duplicate tensor names")
    for name in checkpoint.tensorNames {
        guard let info = try? checkpoint.info(named: name) else { preconditionFailure("listed tensor '\(name)' has no info") }
        guard let view = try? checkpoint.tensor(named: name) else { continue }  // e.g. a corrupt deflated storage
        precondition(view.shape == info.shape && view.dtype == info.dtype, "info and tensor disagree for '\(name)'")
        precondition(view.byteCount == info.byteCount && view.byteCount == view.elementCount * view.dtype.byteSize,
                     "'\(name)': \(view.byteCount) bytes for shape \(view.shape) x \(view.dtype)")
        _ = view.data.withUnsafeBytes { $0.reduce(0 as UInt8, &+) }  // ASan checks every byte is readable
    }
}
