import Foundation
import Testing
@testable import PyTorchReader

/// The pickle machine against CPython's own pickles (protocols 0 to 5) and hand-assembled edge cases.
@Suite struct PickleMachineTests {
    static func load(_ bytes: [UInt8]) throws(TensorIOError) -> PickleDocument {
        try Unpickler.load(ByteSlice(bytes: bytes), name: "test.pkl", path: "<test>")
    }

    /// Mirrors `canonical()` in scripts/fixturegen/torch_files.py.
    static func canonical(_ value: PickleValue, _ document: PickleDocument) -> String {
        switch value {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .bigInt: return "<bigint>"
        case .float(let f): return String(f)
        case .string(let s): return "s'" + s.unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: ".") + "'"
        case .bytes(let b): return "b'" + b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() + "'"
        case .global(let name): return "<global \(name)>"
        case .object(let index):
            switch document.objects[index] {
            case .list(let items): return "[" + items.map { canonical($0, document) }.joined(separator: ", ") + "]"
            case .tuple(let items): return "(" + items.map { canonical($0, document) }.joined(separator: ", ") + ")"
            case .set(let items): return "{" + items.map { canonical($0, document) }.joined(separator: ", ") + "}"
            case .dict(let dict):
                return "{" + zip(dict.keys, dict.values).map { canonical($0, document) + ": " + canonical($1, document) }.joined(separator: ", ") + "}"
            case .opaque(let opaque): return "<skipped \(opaque.global)>"
            case .storage, .tensor: return "<torch>"
            }
        }
    }

    @Test(arguments: 0...5)
    func cpythonPickles(proto: Int) throws {
        let folder = TorchFixtures.folder.appendingPathComponent("pickles")
        let bytes = try [UInt8](Data(contentsOf: folder.appendingPathComponent("protocol\(proto).pkl")))
        let expected = try String(contentsOf: folder.appendingPathComponent("expected.txt"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let document = try Self.load(bytes)
        #expect(Self.canonical(document.root, document) == expected)
        #expect(document.endOffset == bytes.count)
    }

    @Test func memoSharesObjects() throws {
        // [x, x] where x = [] memoized: PROTO 2, EMPTY_LIST, BINPUT 0, MARK, EMPTY_LIST, BINPUT 1,
        // BINGET 1, APPENDS, STOP. Both entries are the same arena object.
        let document = try Self.load([0x80, 0x02, 0x5D, 0x71, 0x00, 0x28, 0x5D, 0x71, 0x01, 0x68, 0x01, 0x65, 0x2E])
        let items = try #require(document.items(document.root))
        #expect(items.count == 2)
        #expect(items.first == items.last)
    }

    @Test func cyclesTerminate() throws {
        // l = []; l.append(l): the walker visits each container once.
        let document = try Self.load([0x80, 0x02, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2E])
        let layout = try StateDictLayout(document, path: "<test>")
        #expect(layout.tensors.isEmpty)
        #expect(try layout.stateDict(path: "<test>").tensors.isEmpty)
    }

    @Test func globalsAreNeverCalled() throws {
        // os.system('x') under key 'a': a skipped object with its path.
        var bytes: [UInt8] = [0x80, 0x02, 0x7D, 0x28, 0x58, 1, 0, 0, 0, 0x61]
        bytes += Array("cos\nsystem\n".utf8) + [0x58, 1, 0, 0, 0, 0x78, 0x85, 0x52, 0x75, 0x2E]
        let document = try Self.load(bytes)
        let layout = try StateDictLayout(document, path: "<test>")
        #expect(layout.skipped.map(\.path) == ["a"])
        #expect(layout.skipped.map(\.global) == ["os.system"])
    }

    static let malformed: [(String, [UInt8], String)] = [
        ("empty", [], "without a STOP opcode"),
        ("underflow", [0x80, 0x02, 0x30, 0x2E], "stack underflow"),
        ("append to int", [0x4B, 0x01, 0x4B, 0x02, 0x61, 0x2E], "cannot append"),
        ("setitems odd", [0x7D, 0x28, 0x4B, 0x01, 0x75, 0x2E], "odd number"),
        ("no mark", [0x29, 0x75, 0x2E], "no MARK"),
        ("stop on empty", [0x2E], "STOP with an empty stack"),
        ("mark hides stack", [0x4B, 0x01, 0x28, 0x52, 0x2E], "stack underflow"),
        ("bad protocol", [0x80, 0x09, 0x2E], "protocol 9"),
        ("unknown opcode", [0xFF], "unknown opcode 0xff"),
        ("huge BINUNICODE8", [0x8D, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E], "truncated or absurd size"),
        ("huge frame", [0x95, 0, 0, 0, 0, 0, 0, 0, 0x80], "truncated or absurd size"),
        ("reduce non-tuple", Array("cos\nsystem\n".utf8) + [0x4E, 0x52, 0x2E], "must be a tuple"),
        ("ext registry", [0x82, 0x01, 0x2E], "extension registry"),
        ("out-of-band buffer", [0x97, 0x2E], "out-of-band"),
        ("bad utf8", [0x8C, 0x01, 0xFF, 0x2E], "UTF-8"),
        ("text int", Array("Iabc\n.".utf8), "not an integer"),
        ("no newline", Array("I12".utf8), "no newline"),
        ("bad rebuild", Array("ctorch._utils\n_rebuild_tensor_v2\n".utf8) + [0x4B, 0x01, 0x85, 0x52, 0x2E], "at least 4 arguments"),
    ]

    @Test(arguments: malformed.indices)
    func malformedPickles(index: Int) {
        let (label, bytes, phrase) = Self.malformed[index]
        let error = #expect(throws: TensorIOError.self, "\(label)") { try Self.load(bytes) }
        let message = error.map(String.init(describing:)) ?? ""
        #expect(message.contains(phrase), "\(label): \(message)")
    }

    /// Inputs whose naive handling is quadratic; each must finish well inside the bound.
    static let quadraticBound = Duration.seconds(10)

    @Test func chainedCallsKeepShortNames() throws {
        // os.system()()()... 200k times: one skipped object whose name does not nest.
        let bytes = Array("cos\nsystem\n".utf8) + Array(repeating: [0x29, 0x52], count: 200_000).flatMap { $0 } + [0x2E]
        var layout: StateDictLayout?
        let elapsed = try ContinuousClock().measure { layout = try StateDictLayout(Self.load(bytes), path: "<test>") }
        #expect(elapsed < Self.quadraticBound)
        #expect(layout?.skipped.map(\.global) == ["<call of os.system>"])
    }

    @Test func deepNestingIsRefused() throws {
        // [[[[...]]]] 100k deep: EMPTY_LIST x n, then APPEND x (n - 1).
        let n = 100_000
        let bytes = [UInt8](repeating: 0x5D, count: n) + [UInt8](repeating: 0x61, count: n - 1) + [0x2E]
        let document = try Self.load(bytes)
        let error = #expect(throws: TensorIOError.self) { try StateDictLayout(document, path: "<test>") }
        #expect(error.map(String.init(describing:))?.contains("more than 256 levels") == true)
    }

    @Test func repeatedHugeKeyIsCheap() throws {
        // d[k] = None 100k times for one memoized 1 MiB key k.
        let key = [UInt8](repeating: 0x61, count: 1 << 20)
        var bytes: [UInt8] = [0x7D, 0x58] + withUnsafeBytes(of: UInt32(key.count).littleEndian, Array.init) + key + [0x71, 0x00, 0x30]
        bytes += Array(repeating: [0x68, 0x00, 0x4E, 0x73], count: 100_000).flatMap { $0 } + [0x2E]
        var document: PickleDocument?
        let elapsed = try ContinuousClock().measure { document = try Self.load(bytes) }
        #expect(elapsed < Self.quadraticBound)
        #expect(document.flatMap { $0.dict($0.root) }?.count == 1)
    }

    @Test func absurdTensorShapeIsRejected() throws {
        // A storage pid plus _rebuild_tensor_v2 with size (2**62, 4): overflow caught before any read.
        let document = try Self.load(PickleBuilder.tensorDict(size: [1 << 62, 4], stride: [4, 1]))
        let selected = try StateDictLayout(document, path: "<test>").stateDict(path: "<test>")
        let record = try #require(selected.tensors.first?.record)
        #expect(throws: TensorIOError.self) { try StridedView(record, name: "w", path: "<test>") }
    }
}

/// Hand-assembled torch-style pickles.
enum PickleBuilder {
    static func string(_ s: String) -> [UInt8] {
        let utf8 = Array(s.utf8)
        return [0x58] + withUnsafeBytes(of: UInt32(utf8.count).littleEndian, Array.init) + utf8
    }

    static func int(_ value: Int) -> [UInt8] {
        [0x8A, 0x08] + withUnsafeBytes(of: Int64(value).littleEndian, Array.init)
    }

    static func tensorDict(size: [Int], stride: [Int]) -> [UInt8] {
        var b: [UInt8] = [0x80, 0x02, 0x7D, 0x28] + string("w")
        b += Array("ctorch._utils\n_rebuild_tensor_v2\n".utf8) + [0x28]
        b += [0x28] + string("storage") + Array("ctorch\nFloatStorage\n".utf8) + string("0") + string("cpu") + int(4) + [0x74, 0x51]
        b += int(0)
        b += [0x28] + size.flatMap(int) + [0x74]
        b += [0x28] + stride.flatMap(int) + [0x74]
        b += [0x89, 0x4E, 0x74, 0x52, 0x75, 0x2E]
        return b
    }
}
