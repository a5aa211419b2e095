/// GGUF metadata value types with their on-disk ids (ggml `enum gguf_type`).
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Bytes of one fixed-size value; nil for string and array.
    var fixedByteCount: Int? {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string, .array: nil
        }
    }
}

/// One metadata value. Arrays are typed so that large byte arrays (the tokenizer model) stay one
/// `[UInt8]` instead of a million enum values.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    case array(GGUFArray)

    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .uint64: .uint64
        case .int64: .int64
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .array: .array
        }
    }

    public var stringValue: String? {
        if case let .string(value) = self { return value }
        return nil
    }

    /// Any unsigned or signed integer value that fits in `Int`.
    public var intValue: Int? {
        switch self {
        case let .uint8(v): Int(v)
        case let .int8(v): Int(v)
        case let .uint16(v): Int(v)
        case let .int16(v): Int(v)
        case let .uint32(v): Int(v)
        case let .int32(v): Int(v)
        case let .uint64(v): Int(exactly: v)
        case let .int64(v): Int(exactly: v)
        default: nil
        }
    }

    public var arrayValue: GGUFArray? {
        if case let .array(value) = self { return value }
        return nil
    }
}

/// A homogeneous GGUF array.
public enum GGUFArray: Sendable, Equatable {
    case uint8([UInt8]), int8([Int8]), uint16([UInt16]), int16([Int16]), uint32([UInt32]), int32([Int32])
    case uint64([UInt64]), int64([Int64]), float32([Float]), float64([Double]), bool([Bool])
    case string([String])
    /// Arrays of arrays (GGUF allows them; ifconvert never writes them).
    case nested([GGUFArray])

    public var elementType: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .uint64: .uint64
        case .int64: .int64
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .nested: .array
        }
    }

    public var count: Int {
        switch self {
        case let .uint8(a): a.count
        case let .int8(a): a.count
        case let .uint16(a): a.count
        case let .int16(a): a.count
        case let .uint32(a): a.count
        case let .int32(a): a.count
        case let .uint64(a): a.count
        case let .int64(a): a.count
        case let .float32(a): a.count
        case let .float64(a): a.count
        case let .bool(a): a.count
        case let .string(a): a.count
        case let .nested(a): a.count
        }
    }
}

/// Metadata in file order with lookup by key. GGUF keys are unique; the reader refuses duplicates.
public struct GGUFMetadata: Sendable, Equatable {
    public private(set) var entries: [(key: String, value: GGUFValue)] = []
    private var index: [String: Int] = [:]

    public init() {}

    public var keys: [String] { entries.map(\.key) }
    public var count: Int { entries.count }

    public subscript(key: String) -> GGUFValue? {
        guard let position = index[key] else { return nil }
        return entries[position].value
    }

    /// Sets `key`, replacing an earlier value in place (its position is kept).
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let position = index[key] {
            entries[position].value = value
        } else {
            index[key] = entries.count
            entries.append((key, value))
        }
    }

    public func contains(_ key: String) -> Bool { index[key] != nil }

    public static func == (lhs: GGUFMetadata, rhs: GGUFMetadata) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}
