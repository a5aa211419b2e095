/// A value on the unpickler's stack or inside a container. Scalars are held inline; containers,
/// storages, tensors and skipped objects live in the unpickler's arena and are referenced by
/// index, so shared and cyclic references need no reference counting and no recursion.
enum PickleValue: Hashable, Sendable {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer too wide for `Int`: little-endian two's-complement bytes as pickled.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    /// A global reference `module.name`, never resolved or imported.
    case global(String)
    case object(Int)

    var shortDescription: String {
        switch self {
        case .none: "None"
        case .bool(let value): value ? "True" : "False"
        case .int(let value): String(value)
        case .bigInt(let bytes): "a \(bytes.count)-byte integer"
        case .float(let value): String(value)
        case .string(let value): "'\(value.debugDescriptionTrimmed)'"
        case .bytes(let value): "\(value.count) bytes"
        case .global(let name): name
        case .object: "an object"
        }
    }
}

/// Where a storage's bytes are: a key into the archive's `data/` folder (zip) or the storage
/// section (legacy), its element type and, for legacy storage views, the window into the root.
struct StorageRecord: Sendable, Hashable {
    let key: String
    /// The pickled storage class, e.g. `torch.HalfStorage`.
    let typeName: String
    /// nil for storage classes this reader cannot represent (complex, quantized).
    let dtype: DType?
    /// Bytes per element, known even for some unsupported classes (the legacy format needs it to skip them).
    let elementSize: Int?
    /// Element count the pickle declares (bytes for untyped storages).
    let declaredElementCount: Int
    let location: String
    /// Legacy format only: (offset, count) in elements into the root storage `key`.
    let legacyView: LegacyStorageView?
}

struct LegacyStorageView: Sendable, Hashable {
    let viewKey: String
    let elementOffset: Int
    let elementCount: Int
}

/// A tensor rebuilt by `torch._utils._rebuild_tensor*`: a strided view of a storage.
struct TensorRecord: Sendable {
    let storage: StorageRecord
    let dtype: DType
    /// In elements of `dtype`.
    let storageOffset: Int
    let shape: [Int]
    let strides: [Int]
    var isParameter: Bool
}

/// Anything built from a global outside the allowlist. Nothing is called: we only keep what the
/// pickle handed over, so that tensors inside its state can still be found.
struct OpaqueObject: Sendable {
    let global: String
    var arguments: [PickleValue]
    var state: PickleValue?
    var listItems: [PickleValue] = []
    var dictItems: [(PickleValue, PickleValue)] = []
}

/// An insertion-ordered dictionary, as Python's dict and OrderedDict are.
struct PickleDict: Sendable {
    private(set) var keys: [PickleValue] = []
    private(set) var values: [PickleValue] = []
    private var positions: [Key: Int] = [:]

    /// Hashes strings and bytes by length and first 32 bytes only: a hostile pickle can SETITEM one
    /// memoized megabyte key millions of times, and a full hash each time would be quadratic.
    /// (Equality of the same memoized value is an identity check in the standard library.)
    private struct Key: Hashable {
        let value: PickleValue

        func hash(into hasher: inout Hasher) {
            switch value {
            case .string(let text):
                hasher.combine(0)
                hasher.combine(text.utf8.count)
                for byte in text.utf8.prefix(32) { hasher.combine(byte) }
            case .bytes(let raw), .bigInt(let raw):
                hasher.combine(1)
                hasher.combine(raw.count)
                for byte in raw.prefix(32) { hasher.combine(byte) }
            default:
                hasher.combine(value)
            }
        }
    }

    mutating func set(_ key: PickleValue, _ value: PickleValue) {
        if let position = positions[Key(value: key)] {
            values[position] = value
        } else {
            positions[Key(value: key)] = keys.count
            keys.append(key)
            values.append(value)
        }
    }

    func value(for key: PickleValue) -> PickleValue? {
        positions[Key(value: key)].map { values[$0] }
    }

    var count: Int { keys.count }
}

enum PickleObject: Sendable {
    case list([PickleValue])
    case tuple([PickleValue])
    case dict(PickleDict)
    case set([PickleValue])
    case storage(StorageRecord)
    case tensor(TensorRecord)
    case opaque(OpaqueObject)
}

/// The result of unpickling: the arena and the root value.
struct PickleDocument: Sendable {
    let objects: [PickleObject]
    let root: PickleValue
    /// Byte offset just past the STOP opcode (the legacy format puts several pickles in a row).
    let endOffset: Int

    func object(_ value: PickleValue) -> PickleObject? {
        if case .object(let index) = value { return objects[index] }
        return nil
    }

    func dict(_ value: PickleValue) -> PickleDict? {
        if case .dict(let dict)? = object(value) { return dict }
        return nil
    }

    func items(_ value: PickleValue) -> [PickleValue]? {
        switch object(value) {
        case .tuple(let items)?, .list(let items)?: items
        default: nil
        }
    }
}
