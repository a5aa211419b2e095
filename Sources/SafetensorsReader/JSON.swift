/// A JSON value with object members kept in file order. Numbers keep their source spelling so that
/// integers past 2^53 (byte offsets of large files) are never rounded through a Double.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number exactly as written (RFC 8259 grammar already checked).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// A short name of the kind, for "expected X, found Y" messages.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    public var stringValue: String? {
        if case let .string(value) = self { return value }
        return nil
    }

    public var objectValue: JSONObject? {
        if case let .object(value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case let .array(value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case let .bool(value) = self { return value }
        return nil
    }

    /// The value as a non-negative integer that fits in `Int`: nil for anything else (negative,
    /// fractional, exponent, too large).
    public var nonNegativeIntValue: Int? {
        guard case let .number(text) = self else { return nil }
        var result = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            guard let shifted = CheckedMath.multiply(result, 10),
                  let next = CheckedMath.add(shifted, Int(byte - UInt8(ascii: "0"))) else { return nil }
            result = next
        }
        return text.isEmpty ? nil : result
    }

    /// The value as a Double (any JSON number).
    public var doubleValue: Double? {
        guard case let .number(text) = self else { return nil }
        return Double(text)
    }
}

/// A JSON object: keys in file order, duplicates already rejected by the parser.
public struct JSONObject: Sendable, Equatable {
    public private(set) var keys: [String] = []
    public private(set) var values: [JSONValue] = []

    public init() {}

    public init(_ members: [(String, JSONValue)]) {
        for (key, value) in members { append(key, value) }
    }

    public var count: Int { keys.count }
    public var members: Zip2Sequence<[String], [JSONValue]> { zip(keys, values) }

    /// Linear lookup: objects read through this API are small (configs, tensor entries).
    public subscript(key: String) -> JSONValue? {
        guard let index = keys.firstIndex(of: key) else { return nil }
        return values[index]
    }

    /// Appends a member; the caller keeps keys unique.
    public mutating func append(_ key: String, _ value: JSONValue) {
        keys.append(key)
        values.append(value)
    }
}

// MARK: - Writing

extension JSONValue {
    /// Compact (`pretty == false`, the spelling safetensors headers use) or two-space indented JSON.
    /// Deterministic: members in stored order.
    public func serialized(pretty: Bool = false) -> String {
        var out = ""
        write(into: &out, pretty: pretty, indent: 0)
        return out
    }

    private func write(into out: inout String, pretty: Bool, indent: Int) {
        switch self {
        case .null: out += "null"
        case let .bool(value): out += value ? "true" : "false"
        case let .number(text): out += text
        case let .string(text): JSONValue.writeString(text, into: &out)
        case let .array(items):
            if items.isEmpty { out += "[]"; return }
            // Arrays of scalars (shapes, offsets) stay on one line even when pretty.
            let inline = !pretty || items.allSatisfy { if case .array = $0 { false } else if case .object = $0 { false } else { true } }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += inline && pretty ? ", " : "," }
                if !inline { JSONValue.newline(&out, indent + 1) }
                item.write(into: &out, pretty: pretty, indent: indent + 1)
            }
            if !inline { JSONValue.newline(&out, indent) }
            out += "]"
        case let .object(object):
            if object.count == 0 { out += "{}"; return }
            // Objects of scalars (a tensor record) stay on one line even when pretty.
            let inline = pretty && object.values.allSatisfy(\.isFlat)
            out += "{"
            for (i, (key, value)) in object.members.enumerated() {
                if i > 0 { out += inline ? ", " : "," }
                if pretty && !inline { JSONValue.newline(&out, indent + 1) }
                JSONValue.writeString(key, into: &out)
                out += pretty ? ": " : ":"
                value.write(into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty && !inline { JSONValue.newline(&out, indent) }
            out += "}"
        }
    }

    /// A scalar, or an array of scalars.
    private var isFlat: Bool {
        switch self {
        case .object: false
        case let .array(items): items.allSatisfy { if case .array = $0 { false } else if case .object = $0 { false } else { true } }
        default: true
        }
    }

    private static func newline(_ out: inout String, _ indent: Int) {
        out += "\n"
        out += String(repeating: "  ", count: indent)
    }

    /// Escapes like serde_json: `"` `\` and control characters; everything else stays UTF-8.
    static func writeString(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    /// Convenience constructors for writers.
    public static func int(_ value: Int) -> JSONValue { .number(String(value)) }
    public static func ints(_ values: [Int]) -> JSONValue { .array(values.map { .number(String($0)) }) }
}
