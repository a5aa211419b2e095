import Foundation
import Testing
import SafetensorsReader

@Suite struct WriterTests {
    /// Bytes of `count` elements of `dtype` with a recognizable pattern.
    static func pattern(_ dtype: DType, count: Int) -> [UInt8] {
        (0..<(count * dtype.byteSize)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
    }

    @Test(arguments: DType.allCases)
    func roundTripsEveryDType(_ dtype: DType) throws {
        let dir = try TemporaryDirectory()
        var writer = SafetensorsWriter(metadata: ["k": "v"])
        try writer.append(name: "x", dtype: dtype, shape: [3, 5], bytes: Self.pattern(dtype, count: 15))
        try writer.append(name: "scalar", dtype: dtype, shape: [], bytes: Self.pattern(dtype, count: 1))
        try writer.append(name: "empty", dtype: dtype, shape: [0, 7], bytes: [])
        try writer.write(to: dir.file("t.safetensors"))

        let file = try SafetensorsFile(readingAt: dir.file("t.safetensors"))
        #expect(file.tensorNames == ["x", "scalar", "empty"])
        #expect(file.metadata == ["k": "v"])
        let x = try file.tensor(named: "x")
        #expect(x.dtype == dtype && x.shape == [3, 5] && x.data.copyBytes() == Self.pattern(dtype, count: 15))
        let scalar = try file.tensor(named: "scalar")
        #expect(scalar.shape == [] && scalar.elementCount == 1 && scalar.byteCount == dtype.byteSize)
        let empty = try file.tensor(named: "empty")
        #expect(empty.shape == [0, 7] && empty.byteCount == 0)
        // Data starts 8-byte aligned, as the reference writer pads the header with spaces.
        #expect(file.header.dataStart % 8 == 0)
    }

    @Test func reproducesTheReferenceWritersBytes() throws {
        // valid.safetensors was written by safetensors (Python); its tensors are stored in the
        // reference's order. Appending them in file order with the same metadata must give the same bytes.
        let path = Repo.fixture("malformed/valid.safetensors")
        let original = try SafetensorsFile(readingAt: path)
        var writer = SafetensorsWriter(metadata: original.metadata)
        for name in original.tensorNames { try writer.append(try original.tensor(named: name)) }
        #expect(writer.serializedBytes() == (try [UInt8](contentsOfFile: path)))
    }

    @Test func isDeterministic() throws {
        func make() throws -> [UInt8] {
            var writer = SafetensorsWriter(metadata: ["b": "2", "a": "1", "c": "\"quoted\"\n"])
            try writer.append(name: "w", dtype: .f32, shape: [2], bytes: floatBytes([1, 2]))
            try writer.append(name: "ünïcode", dtype: .i8, shape: [1], bytes: [7])
            return writer.serializedBytes()
        }
        let first = try make()
        #expect(first == (try make()))
        let file = try SafetensorsFile(storage: HeapStorage(first), path: "mem")
        #expect(file.metadata == ["b": "2", "a": "1", "c": "\"quoted\"\n"])
        #expect(file.tensorNames == ["w", "ünïcode"])
    }

    @Test func rejectsBadInput() throws {
        var writer = SafetensorsWriter()
        try writer.append(name: "a", dtype: .f16, shape: [2], bytes: [0, 0, 0, 0])
        #expect(errorDescription { try writer.append(name: "a", dtype: .f16, shape: [2], bytes: [0, 0, 0, 0]) }?.contains("added twice") == true)
        #expect(errorDescription { try writer.append(name: "b", dtype: .f16, shape: [3], bytes: [0, 0]) }?.contains("does not match the 2 bytes") == true)
        #expect(errorDescription { try writer.append(name: "__metadata__", dtype: .u8, shape: [0], bytes: []) }?.contains("reserved") == true)
        #expect(writer.tensorCount == 1)
    }

    @Test func failedWriteLeavesNothingBehind() throws {
        let dir = try TemporaryDirectory()
        var writer = SafetensorsWriter()
        try writer.append(name: "a", dtype: .u8, shape: [1], bytes: [1])
        let target = dir.file("missing-folder/out.safetensors")
        #expect(errorDescription { try writer.write(to: target) }?.contains("cannot create") == true)
        #expect((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) == [])
    }
}
