import Foundation
import IFCore

/// What a tensor becomes: its float type unchanged, a float cast, or a quantization scheme.
public enum TargetEncoding: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The float type the tensor already has (the unquantized pack's type).
    case keep
    case f32
    case f16
    case quantized(QuantScheme)

    /// Parses a `--rule` TYPE: keep, f32, f16, q8_0, int8, q4_0, q4_k.
    public init?(ruleName: String) {
        switch ruleName.lowercased() {
        case "keep": self = .keep
        case "f32": self = .f32
        case "f16": self = .f16
        default:
            guard let scheme = QuantScheme(rawValue: ruleName.lowercased()) else { return nil }
            self = .quantized(scheme)
        }
    }

    public var description: String {
        switch self {
        case .keep: "keep"
        case .f32: "f32"
        case .f16: "f16"
        case .quantized(let scheme): scheme.rawValue
        }
    }

    public static let ruleNames = ["keep", "f32", "f16"] + QuantScheme.allCases.map(\.rawValue)
}

/// A user override `REGEX=TYPE` (`--rule`, repeatable, first match wins). The regex is searched
/// anywhere in the tensor's original (checkpoint) name; anchor it with ^ and $ to match whole names.
public struct QuantRule: Sendable, CustomStringConvertible {
    public let pattern: String
    public let target: TargetEncoding
    // SAFETY: NSRegularExpression is immutable after init and documented thread-safe for matching.
    private let regex: UncheckedSendable<NSRegularExpression>

    public init(parsing text: String) throws(QuantError) {
        guard let equals = text.lastIndex(of: "=") else {
            throw .invalidRule(rule: text, message: "expected REGEX=TYPE with TYPE one of \(TargetEncoding.ruleNames.joined(separator: ", "))")
        }
        let pattern = String(text[..<equals])
        let typeName = String(text[text.index(after: equals)...])
        guard let target = TargetEncoding(ruleName: typeName) else {
            throw .invalidRule(rule: text, message: "unknown TYPE '\(typeName)'; expected one of \(TargetEncoding.ruleNames.joined(separator: ", "))")
        }
        guard !pattern.isEmpty else { throw .invalidRule(rule: text, message: "empty REGEX") }
        do {
            regex = UncheckedSendable(try NSRegularExpression(pattern: pattern))
        } catch {
            throw .invalidRule(rule: text, message: "REGEX '\(pattern)' does not compile: \(error.localizedDescription)")
        }
        self.pattern = pattern
        self.target = target
    }

    public func matches(_ name: String) -> Bool {
        regex.value.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil
    }

    /// How reports name this rule: `--rule 'REGEX=TYPE'`.
    public var description: String { "--rule '\(pattern)=\(target)'" }
}
