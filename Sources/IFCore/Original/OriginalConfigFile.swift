import Foundation

/// One value of the `params:` mapping in an IF `config.yml`.
public enum OriginalConfigValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    /// Quoted or plain text ("1,2,3,4", gelu, "16").
    case string(String)
    /// A flow sequence such as `[2, 2, 3, 5, 5]`.
    case list([OriginalConfigValue])

    public var description: String {
        switch self {
        case .null: "null"
        case let .bool(value): String(value)
        case let .int(value): String(value)
        case let .double(value): String(value)
        case let .string(value): "\"\(value)\""
        case let .list(values): "[" + values.map(\.description).joined(separator: ", ") + "]"
        }
    }
}

/// The original DeepFloyd `config.yml`: a top-level `params:` mapping of scalars, read by a small strict
/// parser for exactly the YAML subset IF publishes (IF-FACTS §3.1). Anything richer (nested mappings
/// under `params`, block scalars, anchors, tabs) is rejected with the line number rather than guessed at.
public struct OriginalConfigFile: Sendable, Equatable {
    public let path: String
    /// `params` entries in file order.
    public let keys: [String]
    public let params: [String: OriginalConfigValue]

    public init(path: String, keys: [String], params: [String: OriginalConfigValue]) {
        self.path = path
        self.keys = keys
        self.params = params
    }

    /// Reads and parses `path`.
    public init(readingAt path: String) throws(OriginalLayoutError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .io(.io(path: path, message: "cannot read: \(error.localizedDescription)"))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .yaml(path: path, line: 1, message: "not UTF-8 text")
        }
        self = try Self.parse(text, path: path)
    }

    /// Parses config.yml text; `path` is used in messages only.
    public static func parse(_ text: String, path: String) throws(OriginalLayoutError) -> OriginalConfigFile {
        var keys: [String] = []
        var params: [String: OriginalConfigValue] = [:]
        var sawParams = false
        // The top-level key whose indented block we are in, and that block's indentation.
        var section: String?
        var sectionIndent: Int?
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            var line = String(rawLine)
            if line.hasSuffix("\r") { line.removeLast() }
            if lineNumber == 1, line.hasPrefix("\u{FEFF}") { line.removeFirst() }
            let content = try stripComment(line, path: path, line: lineNumber)
            if content.allSatisfy({ $0 == " " }) { continue }
            if content.contains("\t") {
                throw .yaml(path: path, line: lineNumber, message: "tab characters are not allowed in YAML indentation")
            }
            if content == "---" || content == "..." { continue }
            let indent = content.prefix(while: { $0 == " " }).count
            let body = String(content.dropFirst(indent))
            let (key, valueText) = try splitEntry(body, path: path, line: lineNumber)
            if indent == 0 {
                section = key
                sectionIndent = nil
                if key == "params" {
                    guard !sawParams else {
                        throw .yaml(path: path, line: lineNumber, message: "duplicate top-level key 'params'")
                    }
                    sawParams = true
                    guard valueText.isEmpty else {
                        throw .yaml(path: path, line: lineNumber,
                                    message: "expected 'params:' to open a mapping, found an inline value '\(valueText)'")
                    }
                }
                continue
            }
            // Indented lines belong to the last top-level key; only `params` is interpreted.
            guard section == "params" else {
                if section == nil {
                    throw .yaml(path: path, line: lineNumber, message: "indented line before any top-level key")
                }
                continue
            }
            if let sectionIndent, indent != sectionIndent {
                throw .yaml(path: path, line: lineNumber, message: indent > sectionIndent
                    ? "nested mappings under 'params' are not supported (indent \(indent), expected \(sectionIndent))"
                    : "inconsistent indentation (\(indent) spaces, expected \(sectionIndent))")
            }
            sectionIndent = indent
            guard params[key] == nil else {
                throw .yaml(path: path, line: lineNumber, message: "duplicate key 'params.\(key)'")
            }
            guard !valueText.isEmpty else {
                throw .yaml(path: path, line: lineNumber,
                            message: "'params.\(key)' has no value (nested mappings and block values are not supported)")
            }
            params[key] = try parseValue(valueText, path: path, line: lineNumber)
            keys.append(key)
        }
        guard sawParams else {
            throw .yaml(path: path, line: 1, message: "no top-level 'params:' mapping (not an original IF config.yml)")
        }
        return OriginalConfigFile(path: path, keys: keys, params: params)
    }

    /// The line without a trailing `# comment` (a `#` at the start or after a space, outside quotes).
    private static func stripComment(_ line: String, path: String, line number: Int) throws(OriginalLayoutError) -> String {
        var quote: Character?
        var previous: Character = " "
        var end = line.endIndex
        for index in line.indices {
            let char = line[index]
            if let open = quote {
                if char == open { quote = nil }
            } else if char == "\"" || char == "'" {
                quote = char
            } else if char == "#", previous == " " {
                end = index
                break
            }
            previous = char
        }
        var result = String(line[..<end])
        while result.last == " " { result.removeLast() }
        return result
    }

    /// `key: value` → (key, value text); the value may be empty.
    private static func splitEntry(_ body: String, path: String, line: Int) throws(OriginalLayoutError) -> (String, String) {
        if body.hasPrefix("- ") || body == "-" {
            throw .yaml(path: path, line: line, message: "block sequences are not supported; write lists as [a, b]")
        }
        guard let colon = body.firstIndex(of: ":") else {
            throw .yaml(path: path, line: line, message: "expected 'key: value', found '\(body)'")
        }
        let key = String(body[..<colon])
        let rest = body[body.index(after: colon)...]
        guard rest.isEmpty || rest.first == " " else {
            throw .yaml(path: path, line: line, message: "expected a space after ':' in '\(body)'")
        }
        guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else {
            throw .yaml(path: path, line: line, message: "unsupported key '\(key)' (plain identifiers only)")
        }
        return (key, rest.trimmingCharacters(in: .whitespaces))
    }

    private static func parseValue(_ text: String, path: String, line: Int) throws(OriginalLayoutError) -> OriginalConfigValue {
        if text.hasPrefix("[") {
            guard text.hasSuffix("]") else {
                throw .yaml(path: path, line: line, message: "unterminated flow sequence '\(text)'")
            }
            let inner = text.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
            if inner.isEmpty { return .list([]) }
            var items: [OriginalConfigValue] = []
            for part in inner.split(separator: ",", omittingEmptySubsequences: false) {
                let item = part.trimmingCharacters(in: .whitespaces)
                guard !item.isEmpty, !item.hasPrefix("["), !item.hasPrefix("{") else {
                    throw .yaml(path: path, line: line, message: "unsupported list item '\(item)' in '\(text)' (scalars only)")
                }
                items.append(try parseScalar(item, path: path, line: line))
            }
            return .list(items)
        }
        for prefix in ["{", "|", ">", "&", "*", "!"] where text.hasPrefix(prefix) {
            throw .yaml(path: path, line: line, message: "unsupported YAML construct '\(text)' (plain scalars, quoted strings and [lists] only)")
        }
        return try parseScalar(text, path: path, line: line)
    }

    private static func parseScalar(_ text: String, path: String, line: Int) throws(OriginalLayoutError) -> OriginalConfigValue {
        if let first = text.first, first == "\"" || first == "'" {
            guard text.count >= 2, text.last == first else {
                throw .yaml(path: path, line: line, message: "unterminated quoted string \(text)")
            }
            let inner = String(text.dropFirst().dropLast())
            if first == "'" {
                return .string(inner.replacingOccurrences(of: "''", with: "'"))
            }
            if inner.contains("\\") {
                var result = ""
                var escaping = false
                for char in inner {
                    if escaping {
                        switch char {
                        case "\"", "\\", "/": result.append(char)
                        case "n": result.append("\n")
                        case "t": result.append("\t")
                        default:
                            throw .yaml(path: path, line: line, message: "unsupported escape '\\\(char)' in \(text)")
                        }
                        escaping = false
                    } else if char == "\\" {
                        escaping = true
                    } else {
                        result.append(char)
                    }
                }
                return .string(result)
            }
            return .string(inner)
        }
        switch text {
        case "null", "Null", "NULL", "~": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        if let value = Int(text) { return .int(value) }
        if text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }),
           text.first.map({ $0.isNumber || $0 == "-" || $0 == "+" || $0 == "." }) == true,
           let value = Double(text) {
            return .double(value)
        }
        return .string(text)
    }
}
