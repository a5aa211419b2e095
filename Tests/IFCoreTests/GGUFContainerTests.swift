import Foundation
import Testing
@testable import IFCore

/// Writes a GGUF through the streaming writer into `folder` and returns its path.
func writeGGUF(_ folder: String, name: String = "t.gguf", metadata: GGUFMetadata,
               tensors: [(GGUFTensorDeclaration, [UInt8])], alignment: Int = 32) throws -> String {
    let path = folder + "/" + name
    let output = try AtomicFileWriter(destination: path, overwrite: true)
    let writer = try GGUFStreamWriter(output: output, metadata: metadata, tensors: tensors.map(\.0), alignment: alignment)
    for (_, bytes) in tensors { try writer.append(bytes: bytes) }
    try writer.finish()
    try output.commit()
    return path
}

@Suite("GGUF container")
struct GGUFContainerTests {
    static func sampleMetadata() -> GGUFMetadata {
        var m = GGUFMetadata()
        m.set("general.architecture", .string("test"))
        m.set("a.u8", .uint8(200)); m.set("a.i8", .int8(-3)); m.set("a.u16", .uint16(60000)); m.set("a.i16", .int16(-300))
        m.set("a.u32", .uint32(4_000_000_000)); m.set("a.i32", .int32(-70000)); m.set("a.u64", .uint64(1 << 40))
        m.set("a.i64", .int64(-(1 << 40))); m.set("a.f32", .float32(1.5)); m.set("a.f64", .float64(-2.25)); m.set("a.bool", .bool(true))
        m.set("a.string", .string("héllo"))
        m.set("a.bytes", .array(.uint8([0, 1, 255])))
        m.set("a.strings", .array(.string(["x", "", "yz"])))
        m.set("a.floats", .array(.float32([0.5, -1])))
        m.set("a.bools", .array(.bool([true, false])))
        m.set("a.nested", .array(.nested([.int32([1, 2]), .string(["q"])])))
        return m
    }

    @Test func metadataAndTensorsRoundTrip() throws {
        let folder = makePackTestFolder("gguf")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let a = pseudoRandomBytes(2 * 3 * 4, seed: 1)
        let b = pseudoRandomBytes(5 * 2, seed: 2)
        let path = try writeGGUF(folder, metadata: Self.sampleMetadata(), tensors: [
            (GGUFTensorDeclaration(name: "a", type: .f32, shape: [2, 3]), a),
            (GGUFTensorDeclaration(name: "b", type: .f16, shape: [5]), b),
            (GGUFTensorDeclaration(name: "empty", type: .f32, shape: [0, 4]), []),
            (GGUFTensorDeclaration(name: "scalar", type: .i32, shape: []), [1, 0, 0, 0]),
        ])
        let file = try GGUFFile(readingAt: path)
        #expect(file.version == 3)
        #expect(file.metadata == Self.sampleMetadata())
        #expect(file.tensors.map(\.name) == ["a", "b", "empty", "scalar"])
        #expect(file.tensors[0].ne == [3, 2])
        #expect(file.tensors[0].shape == [2, 3])
        #expect(file.tensors[3].ne == [1])
        #expect(file.data(of: file.tensors[0]).copyBytes() == a)
        #expect(file.data(of: file.tensors[1]).copyBytes() == b)
        for info in file.tensors { #expect((file.dataSectionOffset + info.dataOffset) % 32 == 0) }
    }

    @Test func customAlignmentIsWrittenAndHonoured() throws {
        let folder = makePackTestFolder("gguf")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = try writeGGUF(folder, metadata: GGUFMetadata(), tensors: [
            (GGUFTensorDeclaration(name: "x", type: .i8, shape: [3]), [1, 2, 3]),
            (GGUFTensorDeclaration(name: "y", type: .i8, shape: [1]), [4]),
        ], alignment: 64)
        let file = try GGUFFile(readingAt: path)
        #expect(file.alignment == 64)
        #expect(file.metadata["general.alignment"] == .uint32(64))
        #expect(file.tensors[1].dataOffset == 64)
        #expect(file.data(of: file.tensors[1]).copyBytes() == [4])
    }

    @Test func writerRefusesLongNamesAndTooManyDimensions() throws {
        let folder = makePackTestFolder("gguf")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(throws: TensorIOError.self) {
            _ = try writeGGUF(folder, metadata: GGUFMetadata(), tensors: [(GGUFTensorDeclaration(name: String(repeating: "n", count: 64), type: .i8, shape: [1]), [0])])
        }
        #expect(throws: TensorIOError.self) {
            _ = try writeGGUF(folder, metadata: GGUFMetadata(), tensors: [(GGUFTensorDeclaration(name: "x", type: .i8, shape: [1, 1, 1, 1, 1]), [0])])
        }
        #expect(throws: TensorIOError.self) {
            _ = try writeGGUF(folder, metadata: GGUFMetadata(), tensors: [(GGUFTensorDeclaration(name: "x", type: .q8_0, shape: [2, 31]), [])])
        }
        #expect((try? FileManager.default.contentsOfDirectory(atPath: folder))?.isEmpty == true, "no temp files left")
    }

    @Test func patchReplacesPlaceholderInPlace() throws {
        let folder = makePackTestFolder("gguf")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var m = GGUFMetadata()
        m.set("sums", .array(.uint32([0, 0])))
        let path = folder + "/p.gguf"
        let output = try AtomicFileWriter(destination: path, overwrite: false)
        let writer = try GGUFStreamWriter(output: output, metadata: m, tensors: [GGUFTensorDeclaration(name: "x", type: .i8, shape: [2])])
        try writer.append(bytes: [7, 8])
        try writer.patch("sums", .array(.uint32([11, 22])))
        #expect(throws: TensorIOError.self) { try writer.patch("sums", .array(.uint32([1]))) }
        try writer.finish()
        try output.commit()
        #expect(try GGUFFile(readingAt: path).metadata["sums"] == .array(.uint32([11, 22])))
    }

    /// An interrupted write (writer dropped before commit) leaves neither output nor temp file.
    @Test func abandonedWriteLeavesNothing() throws {
        let folder = makePackTestFolder("gguf")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        do {
            let output = try AtomicFileWriter(destination: folder + "/x.gguf", overwrite: false)
            let writer = try GGUFStreamWriter(output: output, metadata: GGUFMetadata(), tensors: [GGUFTensorDeclaration(name: "x", type: .i8, shape: [4])])
            try writer.append(bytes: [1, 2])
            #expect(throws: TensorIOError.self) { try writer.finish() }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }
}
