// libFuzzer entry point for the safetensors header parser and the JSON parser (built by
// scripts/fuzz.sh with `swiftc -sanitize=fuzzer,address`; not part of the SwiftPM package).
// Any input must either be rejected with a TensorIOError or yield a header whose every tensor lies
// inside the input; a trap, a sanitizer report or a broken invariant is a finding.
import MappedTensors
import SafetensorsReader

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    _ = try? JSONParser.parse(bytes, path: "fuzz.json")

    guard let header = try? SafetensorsHeader.parse(bytes, path: "fuzz.safetensors") else { return 0 }
    var end = 0
    for entry in header.entries {
        // Invariants the reader promises: contiguous, in bounds, byte count = shape x dtype.
        precondition(entry.dataOffsets.lowerBound == end, "offsets not contiguous")
        precondition(header.dataStart + entry.dataOffsets.upperBound <= size, "tensor past the end")
        precondition(CheckedMath.byteCount(shape: entry.shape, dtype: entry.dtype) == entry.dataOffsets.count, "byte count")
        end = entry.dataOffsets.upperBound
    }
    precondition(header.dataStart + end == size, "data section not covered")

    // Reading every tensor through the public API must stay in bounds (ASan checks the reads).
    let storage = HeapStorage(Array(bytes))
    guard let file = try? SafetensorsFile(storage: storage, path: "fuzz.safetensors") else {
        preconditionFailure("header parsed but file did not open")
    }
    var writer = SafetensorsWriter(metadata: file.metadata)
    for name in file.tensorNames {
        guard let view = try? file.tensor(named: name) else { preconditionFailure("listed tensor missing") }
        var sum = 0
        view.data.withUnsafeBytes { for b in $0 { sum &+= Int(b) } }
        _ = sum
        guard (try? writer.append(view)) != nil else { preconditionFailure("writer rejected a valid tensor") }
    }
    // Our writer's bytes must parse back to the same tensors.
    let rewritten = writer.serializedBytes()
    guard let again = try? SafetensorsFile(storage: HeapStorage(rewritten), path: "rewritten") else {
        preconditionFailure("rewritten file does not parse")
    }
    precondition(again.tensorNames == file.tensorNames && again.metadata == file.metadata, "round trip changed the header")
    return 0
}
