/// A strict RFC 8259 JSON parser over untrusted bytes. Unlike Foundation's JSONSerialization it
/// rejects duplicate object keys (a safetensors header with two entries of one name is ambiguous),
/// keeps member order and number spelling, bounds nesting depth, and reports byte positions.
public struct JSONParser {
    /// Deeper nesting is rejected instead of recursing without bound (serde_json's limit too).
    public static let maximumDepth = 128

    private let bytes: UnsafeRawBufferPointer
    private var position = 0
    private let path: String
    /// Added to byte positions in messages (the safetensors header starts at file byte 8).
    private let positionBase: Int

    /// Parses one JSON document filling all of `bytes` (surrounding whitespace allowed).
    /// Errors are `.malformed(path:)` saying what was found at which byte.
    public static func parse(
        _ bytes: UnsafeRawBufferPointer, path: String, positionBase: Int = 0
    ) throws(TensorIOError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, path: path, positionBase: positionBase)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.position < bytes.count {
            throw parser.failure("unexpected \(parser.describeCurrent()) after the end of the JSON value")
        }
        return value
    }

    public static func parse(_ bytes: [UInt8], path: String) throws(TensorIOError) -> JSONValue {
        var result: Result<JSONValue, TensorIOError> = .success(.null)
        bytes.withUnsafeBytes { raw in
            do throws(TensorIOError) { result = .success(try parse(raw, path: path)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// Parses the JSON file at `path` (config.json, model_index.json, index files).
    public static func parse(contentsOf path: String) throws(TensorIOError) -> JSONValue {
        let file = try MappedFile(readingAt: path)
        return try file.withBytes(in: 0..<file.byteCount) { bytes throws(TensorIOError) in try parse(bytes, path: path) }
    }

    private init(bytes: UnsafeRawBufferPointer, path: String, positionBase: Int) {
        self.bytes = bytes
        self.path = path
        self.positionBase = positionBase
    }

    // MARK: Errors

    private func failure(_ message: String) -> TensorIOError {
        .malformed(path: path, message: "invalid JSON at byte \(position + positionBase): \(message)")
    }

    private func describeCurrent() -> String {
        guard position < bytes.count else { return "end of input" }
        let byte = bytes[position]
        if byte >= 0x21, byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x" + String(byte, radix: 16, uppercase: true)
    }

    // MARK: Scanning

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func expectLiteral(_ literal: StaticString, _ value: JSONValue) throws(TensorIOError) -> JSONValue {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - position >= count else { throw failure("truncated literal, expected '\(literal)'") }
        for i in 0..<count where bytes[position + i] != literal.utf8Start[i] {
            throw failure("invalid literal, expected '\(literal)'")
        }
        position += count
        return value
    }

    private mutating func parseValue(depth: Int) throws(TensorIOError) -> JSONValue {
        guard let byte = peek() else { throw failure("unexpected end of input, expected a value") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try expectLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try expectLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try expectLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw failure("unexpected \(describeCurrent()), expected a value")
        }
    }

    private mutating func parseObject(depth: Int) throws(TensorIOError) -> JSONValue {
        guard depth <= JSONParser.maximumDepth else { throw failure("nesting deeper than \(JSONParser.maximumDepth) levels") }
        position += 1  // {
        var object = JSONObject()
        var seen = Set<String>()
        skipWhitespace()
        if peek() == UInt8(ascii: "}") { position += 1; return .object(object) }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw failure("unexpected \(describeCurrent()), expected a member name string") }
            let keyPosition = position
            let key = try parseString()
            // Small objects (tensor entries have 3 keys) compare linearly; large ones hash.
            let duplicate: Bool
            if object.count < 16 {
                duplicate = object.keys.contains(key)
            } else {
                if seen.isEmpty { seen = Set(object.keys) }
                duplicate = !seen.insert(key).inserted
            }
            guard !duplicate else {
                position = keyPosition
                throw failure("duplicate key '\(key)'")
            }
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else { throw failure("unexpected \(describeCurrent()), expected ':' after member name '\(key)'") }
            position += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)
            object.append(key, value)
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"): position += 1; return .object(object)
            default: throw failure("unexpected \(describeCurrent()), expected ',' or '}' in object")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(TensorIOError) -> JSONValue {
        guard depth <= JSONParser.maximumDepth else { throw failure("nesting deeper than \(JSONParser.maximumDepth) levels") }
        position += 1  // [
        var items: [JSONValue] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") { position += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth))
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"): position += 1; return .array(items)
            default: throw failure("unexpected \(describeCurrent()), expected ',' or ']' in array")
            }
        }
    }

    private mutating func parseNumber() throws(TensorIOError) -> JSONValue {
        let start = position
        func digits(_ parser: inout JSONParser) -> Int {
            let begin = parser.position
            while let b = parser.peek(), b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") { parser.position += 1 }
            return parser.position - begin
        }
        if peek() == UInt8(ascii: "-") { position += 1 }
        if peek() == UInt8(ascii: "0") {
            position += 1
        } else if digits(&self) == 0 {
            throw failure("unexpected \(describeCurrent()), expected a digit")
        }
        if peek() == UInt8(ascii: ".") {
            position += 1
            guard digits(&self) > 0 else { throw failure("unexpected \(describeCurrent()), expected a digit after '.'") }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            position += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
            guard digits(&self) > 0 else { throw failure("unexpected \(describeCurrent()), expected an exponent digit") }
        }
        return .number(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self))
    }

    private mutating func parseString() throws(TensorIOError) -> String {
        position += 1  // opening quote
        let start = position
        // Fast path: no escapes, so the string is the raw bytes (validated as UTF-8).
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<position])
                guard let text = String(validating: raw, as: UTF8.self) else {
                    position = start
                    throw failure("string is not valid UTF-8")
                }
                position += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw failure("unescaped control character 0x\(String(byte, radix: 16)) in string") }
            position += 1
        }
        guard position < bytes.count else { throw failure("unterminated string") }
        // Slow path: decode escapes into UTF-8 bytes, validate at the end.
        var utf8 = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<position]))
        while true {
            guard position < bytes.count else { throw failure("unterminated string") }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                guard let text = String(validating: utf8, as: UTF8.self) else {
                    throw failure("string ending here is not valid UTF-8")
                }
                return text
            }
            if byte < 0x20 { throw failure("unescaped control character 0x\(String(byte, radix: 16)) in string") }
            if byte != UInt8(ascii: "\\") {
                utf8.append(byte)
                position += 1
                continue
            }
            position += 1
            guard let escape = peek() else { throw failure("unterminated escape") }
            position += 1
            switch escape {
            case UInt8(ascii: "\""): utf8.append(0x22)
            case UInt8(ascii: "\\"): utf8.append(0x5C)
            case UInt8(ascii: "/"): utf8.append(0x2F)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try parseHex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    // A high surrogate must be followed by an escaped low surrogate.
                    guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"),
                          bytes[position + 1] == UInt8(ascii: "u") else {
                        throw failure("unpaired surrogate \\u\(String(scalar, radix: 16))")
                    }
                    position += 2
                    let low = try parseHex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw failure("invalid low surrogate \\u\(String(low, radix: 16))") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw failure("unpaired surrogate \\u\(String(scalar, radix: 16))")
                }
                // SAFETY of the force: surrogates were excluded above, so the value is a scalar.
                utf8.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
            default:
                position -= 1
                throw failure("invalid escape \\\(describeCurrent())")
            }
        }
    }

    private mutating func parseHex4() throws(TensorIOError) -> UInt32 {
        guard bytes.count - position >= 4 else { throw failure("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("invalid hex digit \(describeCurrent()) in \\u escape")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }
}
