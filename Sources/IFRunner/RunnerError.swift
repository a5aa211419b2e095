import IFCore

/// The one error type of the runner. Messages say what, where, expected vs found.
public enum RunnerError: Error, Sendable, CustomStringConvertible {
    /// Reading a file or tensor failed underneath.
    case io(TensorIOError)
    /// A tensor the model needs is absent.
    case missingTensor(name: String, source: String)
    /// A tensor has the wrong shape or dtype for its role.
    case badTensor(name: String, message: String)
    /// Model configuration is missing or inconsistent.
    case badConfig(String)
    /// A reference bundle does not follow the contract in docs/VERIFY.md.
    case badReference(path: String, message: String)
    /// Valid input the runner cannot handle (yet).
    case unsupported(String)

    public var description: String {
        switch self {
        case let .io(error): error.description
        case let .missingTensor(name, source): "\(source): no tensor named '\(name)'"
        case let .badTensor(name, message): "tensor '\(name)': \(message)"
        case let .badConfig(message): "model config: \(message)"
        case let .badReference(path, message): "reference bundle \(path): \(message)"
        case let .unsupported(message): "unsupported: \(message)"
        }
    }
}
