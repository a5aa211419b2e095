import Foundation
import Testing
@testable import IFCore

/// Hand-built GGUF bytes with one defect each; every one must throw (never trap) with a message
/// that names the problem.
@Suite("GGUF malformed inputs")
struct GGUFMalformedTests {
    struct Case: CustomStringConvertible, Sendable {
        let label: String
        let bytes: [UInt8]
        let expectedFragment: String
        var description: String { label }
    }

    static func header(version: UInt32 = 3, tensors: UInt64, kvs: UInt64) -> GGUFEncoder {
        var e = GGUFEncoder()
        e.bytes.append(contentsOf: Array("GGUF".utf8))
        e.append(version); e.append(tensors); e.append(kvs)
        return e
    }

    static func tensorInfo(_ e: inout GGUFEncoder, name: String, ne: [UInt64], type: UInt32, offset: UInt64) {
        e.append(string: name)
        e.append(UInt32(ne.count))
        for v in ne { e.append(v) }
        e.append(type); e.append(offset)
    }

    static func padded(_ e: GGUFEncoder, data: Int) -> [UInt8] {
        var bytes = e.bytes
        while bytes.count % 32 != 0 { bytes.append(0) }
        return bytes + [UInt8](repeating: 0, count: data)
    }

    static let cases: [Case] = {
        var cases: [Case] = []
        cases.append(Case(label: "empty", bytes: [], expectedFragment: "too short"))
        cases.append(Case(label: "bad magic", bytes: Array("GGML0000000000000000000000".utf8), expectedFragment: "magic"))
        cases.append(Case(label: "version 1", bytes: header(version: 1, tensors: 0, kvs: 0).bytes, expectedFragment: "version 1"))
        cases.append(Case(label: "big endian", bytes: header(version: 0x0300_0000, tensors: 0, kvs: 0).bytes, expectedFragment: "big-endian"))
        cases.append(Case(label: "huge tensor count", bytes: header(tensors: 1 << 60, kvs: 0).bytes, expectedFragment: "tensor count"))
        cases.append(Case(label: "huge kv count", bytes: header(tensors: 0, kvs: UInt64.max).bytes, expectedFragment: "metadata key/value count"))
        do {
            var e = header(tensors: 0, kvs: 1)
            e.append(UInt64(1 << 40)); cases.append(Case(label: "key longer than file", bytes: e.bytes, expectedFragment: "truncated"))
        }
        do {
            var e = header(tensors: 0, kvs: 1)
            e.append(string: "k"); e.append(UInt32(99)); cases.append(Case(label: "unknown value type", bytes: e.bytes, expectedFragment: "value type 99"))
        }
        do {
            var e = header(tensors: 0, kvs: 2)
            e.append(string: "k"); e.append(GGUFValueType.uint8.rawValue); e.append(UInt8(1))
            e.append(string: "k"); e.append(GGUFValueType.uint8.rawValue); e.append(UInt8(1))
            cases.append(Case(label: "duplicate key", bytes: e.bytes, expectedFragment: "duplicate metadata key"))
        }
        do {
            var e = header(tensors: 0, kvs: 1)
            e.append(string: "k"); e.append(GGUFValueType.array.rawValue); e.append(GGUFValueType.uint32.rawValue); e.append(UInt64(1 << 62))
            cases.append(Case(label: "array longer than file", bytes: e.bytes, expectedFragment: "array length"))
        }
        do {
            var e = header(tensors: 0, kvs: 1)
            e.append(string: "k"); e.append(GGUFValueType.bool.rawValue); e.append(UInt8(2))
            cases.append(Case(label: "bool byte 2", bytes: e.bytes, expectedFragment: "bool byte 2"))
        }
        do {
            var e = header(tensors: 0, kvs: 1)
            e.append(string: "k"); e.append(GGUFValueType.string.rawValue); e.append(UInt64(2)); e.bytes.append(contentsOf: [0xC3, 0x28])
            cases.append(Case(label: "invalid utf8", bytes: e.bytes, expectedFragment: "UTF-8"))
        }
        do {
            var e = header(tensors: 0, kvs: 1)
            e.append(string: "general.alignment"); e.append(GGUFValueType.uint32.rawValue); e.append(UInt32(24))
            cases.append(Case(label: "alignment 24", bytes: e.bytes, expectedFragment: "power of two"))
        }
        do {
            var e = header(tensors: 0, kvs: 1)
            e.append(string: "general.alignment"); e.append(GGUFValueType.uint64.rawValue); e.append(UInt64(32))
            cases.append(Case(label: "alignment u64", bytes: e.bytes, expectedFragment: "expected uint32"))
        }
        do {
            var e = header(tensors: 1, kvs: 0)
            tensorInfo(&e, name: String(repeating: "x", count: 64), ne: [1], type: 0, offset: 0)
            cases.append(Case(label: "name 64 bytes", bytes: padded(e, data: 32), expectedFragment: "at most 63"))
        }
        do {
            var e = header(tensors: 1, kvs: 0)
            tensorInfo(&e, name: "t", ne: [1, 1, 1, 1, 1], type: 0, offset: 0)
            cases.append(Case(label: "5 dims", bytes: padded(e, data: 32), expectedFragment: "5 dimensions"))
        }
        do {
            var e = header(tensors: 1, kvs: 0)
            tensorInfo(&e, name: "t", ne: [4], type: 77, offset: 0)
            cases.append(Case(label: "unknown ggml type", bytes: padded(e, data: 32), expectedFragment: "ggml type 77"))
        }
        do {
            var e = header(tensors: 1, kvs: 0)
            tensorInfo(&e, name: "t", ne: [1 << 40, 1 << 40], type: 0, offset: 0)
            cases.append(Case(label: "overflowing shape", bytes: padded(e, data: 32), expectedFragment: "overflow"))
        }
        do {
            var e = header(tensors: 1, kvs: 0)
            tensorInfo(&e, name: "t", ne: [31, 2], type: GGMLType.q8_0.rawValue, offset: 0)
            cases.append(Case(label: "partial block", bytes: padded(e, data: 256), expectedFragment: "block size"))
        }
        do {
            var e = header(tensors: 1, kvs: 0)
            tensorInfo(&e, name: "t", ne: [4], type: 0, offset: 8)
            cases.append(Case(label: "misaligned offset", bytes: padded(e, data: 64), expectedFragment: "alignment"))
        }
        do {
            var e = header(tensors: 1, kvs: 0)
            tensorInfo(&e, name: "t", ne: [16], type: 0, offset: 0)
            cases.append(Case(label: "truncated data", bytes: padded(e, data: 60), expectedFragment: "outside"))
        }
        do {
            var e = header(tensors: 2, kvs: 0)
            tensorInfo(&e, name: "a", ne: [16], type: 0, offset: 0)
            tensorInfo(&e, name: "b", ne: [16], type: 0, offset: 32)
            cases.append(Case(label: "overlap", bytes: padded(e, data: 128), expectedFragment: "overlap"))
        }
        do {
            var e = header(tensors: 2, kvs: 0)
            tensorInfo(&e, name: "a", ne: [1], type: 0, offset: 0)
            tensorInfo(&e, name: "a", ne: [1], type: 0, offset: 32)
            cases.append(Case(label: "duplicate tensor", bytes: padded(e, data: 64), expectedFragment: "duplicate tensor"))
        }
        return cases
    }()

    @Test(arguments: cases)
    func rejects(_ testCase: Case) throws {
        let folder = makePackTestFolder("bad")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/bad.gguf"
        FileManager.default.createFile(atPath: path, contents: Data(testCase.bytes))
        do {
            _ = try GGUFFile(readingAt: path)
            Issue.record("\(testCase.label): accepted")
        } catch {
            #expect(error.description.contains(testCase.expectedFragment), "\(testCase.label): \(error.description)")
            #expect(!error.description.contains("\n"), "one-line message")
        }
    }

    /// Every truncation of a valid file is refused cleanly.
    @Test func everyTruncationThrows() throws {
        let folder = makePackTestFolder("trunc")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = try writeGGUF(folder, metadata: GGUFContainerTests.sampleMetadata(), tensors: [
            (GGUFTensorDeclaration(name: "a", type: .f32, shape: [2, 3]), pseudoRandomBytes(24, seed: 1)),
        ])
        let full = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        let file = try GGUFFile(readingAt: path)
        // Trailing alignment padding after the last tensor is optional; everything before it is not.
        let needed = file.dataSectionOffset + file.tensors[0].dataOffset + file.tensors[0].byteCount
        #expect(needed < full.count)
        let cut = folder + "/cut.gguf"
        for length in stride(from: 0, to: needed, by: 3) {
            FileManager.default.createFile(atPath: cut, contents: Data(full[0..<length]))
            #expect(throws: TensorIOError.self, "length \(length)") { _ = try GGUFFile(readingAt: cut) }
        }
    }
}
