/// What can go wrong reading an original-layout IF checkpoint (`config.yml` + `pytorch_model.bin`)
/// or mapping it onto diffusers names. Every message names the file or key and says expected vs found.
public enum OriginalLayoutError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `config.yml` is not the flat YAML subset IF writes; `line` is 1-based.
    case yaml(path: String, line: Int, message: String)
    /// A `params:` entry is missing, has the wrong type, or an impossible value.
    case config(path: String, key: String, message: String)
    /// A valid original configuration that diffusers' UNet2DConditionModel cannot express.
    case unsupported(path: String, message: String)
    /// Checkpoint keys that no mapping rule consumes (the first few, and how many in all).
    case unmappedKeys(path: String, names: [String], total: Int)
    /// Keys the derived diffusers model needs that the checkpoint lacks, as `original (for diffusers)`.
    case missingKeys(path: String, names: [String], total: Int)
    /// A checkpoint tensor whose shape or dtype disagrees with the configuration.
    case badTensor(path: String, name: String, message: String)
    /// Reading the checkpoint failed underneath.
    case io(TensorIOError)

    public var description: String {
        switch self {
        case let .yaml(path, line, message):
            "\(path):\(line): \(message)"
        case let .config(path, key, message):
            "\(path): params.\(key): \(message)"
        case let .unsupported(path, message):
            "\(path): unsupported original configuration: \(message)"
        case let .unmappedKeys(path, names, total):
            "\(path): \(total) checkpoint key(s) match no original-layout rule: "
                + names.joined(separator: ", ") + (total > names.count ? ", ..." : "")
        case let .missingKeys(path, names, total):
            "\(path): \(total) key(s) required by the config are missing: "
                + names.joined(separator: ", ") + (total > names.count ? ", ..." : "")
        case let .badTensor(path, name, message):
            "\(path): tensor '\(name)': \(message)"
        case let .io(error):
            error.description
        }
    }
}

extension OriginalLayoutError {
    /// The same failure in the reading layer's error type (for APIs that throw `TensorIOError`).
    public var tensorIOError: TensorIOError {
        switch self {
        case let .io(error): error
        case let .yaml(path, _, _), let .config(path, _, _): .malformed(path: path, message: description)
        case let .unsupported(path, _): .unsupported(path: path, message: description)
        case let .unmappedKeys(path, _, _), let .missingKeys(path, _, _), let .badTensor(path, _, _):
            .malformed(path: path, message: description)
        }
    }
}
