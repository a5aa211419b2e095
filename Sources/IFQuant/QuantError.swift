import IFCore

/// The one error type of IFQuant. Messages name the tensor and say what was expected and found.
public enum QuantError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An input element is inf or NaN; quantizing it would silently corrupt its whole block.
    case nonFinite(tensor: String, row: Int, column: Int, value: String)
    /// A block's fp16 scale would overflow (values beyond what the scheme's fp16 scale can express).
    case scaleOverflow(tensor: String, row: Int, column: Int, scheme: String)
    /// The tensor cannot be encoded as asked (row length, element type, size).
    case unsupported(tensor: String, message: String)
    /// A `--rule` is not `REGEX=TYPE` or its regex does not compile.
    case invalidRule(rule: String, message: String)
    /// The input pack already holds quantized tensors and `--allow-requantize` was not given.
    case alreadyQuantized(path: String, message: String)
    /// Reading or writing failed.
    case io(path: String, message: String)

    public var description: String {
        switch self {
        case let .nonFinite(tensor, row, column, value):
            "tensor '\(tensor)': element [\(row), \(column)] (row, column of the [out, in*...] view) is \(value); inf/NaN weights cannot be quantized"
        case let .scaleOverflow(tensor, row, column, scheme):
            "tensor '\(tensor)': the \(scheme) block at row \(row), column \(column) needs a scale beyond fp16's range (65504); keep this tensor in float with --rule"
        case let .unsupported(tensor, message): "tensor '\(tensor)': \(message)"
        case let .invalidRule(rule, message): "rule '\(rule)': \(message)"
        case let .alreadyQuantized(path, message): "\(path): \(message)"
        case let .io(path, message): message.hasPrefix(path) ? message : "\(path): \(message)"
        }
    }
}
