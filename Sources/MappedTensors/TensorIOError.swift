/// The one error type of the reading layer. Every message names the file, the tensor where there is
/// one, and what was expected versus found.
public enum TensorIOError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file system said no (open, stat, mmap, read, write).
    case io(path: String, message: String)
    /// The file's structure is wrong; `message` says what and where.
    case malformed(path: String, message: String)
    /// A tensor asked for that the source does not have.
    case missingTensor(path: String, name: String)
    /// Valid input that this code cannot handle (yet); says what.
    case unsupported(path: String, message: String)

    public var description: String {
        switch self {
        case let .io(path, message): "\(path): \(message)"
        case let .malformed(path, message): "\(path): \(message)"
        case let .missingTensor(path, name): "\(path): no tensor named '\(name)'"
        case let .unsupported(path, message): "\(path): unsupported: \(message)"
        }
    }
}
