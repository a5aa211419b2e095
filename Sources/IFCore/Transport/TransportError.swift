/// Errors of compressed transport (`compress`, `decompress`, reading `.zst` files).
public enum TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    case codec(String)
    /// The file is not a seekable archive we can read, or its seek table is inconsistent.
    case malformed(path: String, message: String)
    /// A frame failed to decompress; names what it held.
    case corruptFrame(path: String, frame: Int, holds: String, message: String)
    case io(path: String, message: String)
    /// The reading layer failed (its message already names the file).
    case reading(TensorIOError)

    /// The message without the leading file path (for wrapping in another error that names it).
    public var detail: String {
        switch self {
        case let .malformed(_, message), let .io(_, message): message
        case let .corruptFrame(_, frame, holds, message): "frame \(frame) (\(holds)) is corrupt: \(message)"
        default: description
        }
    }

    public var description: String {
        switch self {
        case let .codec(message): "zstd: \(message)"
        case let .malformed(path, message): "\(path): \(message)"
        case let .corruptFrame(path, frame, holds, message):
            "\(path): frame \(frame) (\(holds)) is corrupt: \(message)"
        case let .io(path, message): "\(path): \(message)"
        case let .reading(error): error.description
        }
    }
}
