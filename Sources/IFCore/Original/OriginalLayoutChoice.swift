/// Which form of a snapshot's UNet `convert` reads: the diffusers `unet/` files (the default) or the
/// original root `config.yml` + `pytorch_model.bin` (`--original`, or when they are all there is).
public enum UNetLayoutChoice: String, Sendable, Equatable {
    case diffusers
    case original

    /// Decides for `snapshot`; `requestOriginal` is `convert --original`.
    public static func choose(for snapshot: Snapshot, requestOriginal: Bool) throws(OriginalLayoutError) -> UNetLayoutChoice {
        let hasOriginal = snapshot.originalCheckpoint.map { $0.configPath != nil && $0.weights != nil } ?? false
        if requestOriginal {
            guard hasOriginal else {
                let found = snapshot.originalCheckpoint.map { [$0.configPath, $0.weights?.path].compactMap { $0 }.joined(separator: ", ") } ?? "neither"
                throw .io(.io(path: snapshot.path, message:
                    "--original needs config.yml and pytorch_model.bin at the snapshot root (found: \(found.isEmpty ? "neither" : found))"))
            }
            return .original
        }
        return snapshot.layout == .original && hasOriginal ? .original : .diffusers
    }

    /// The sentence `convert` prints about the choice (nil when there was nothing to choose).
    public static func note(_ choice: UNetLayoutChoice, snapshot: Snapshot, diffusersWeights: String?) -> String? {
        switch choice {
        case .original:
            return "unet: converted from the original IF layout (config.yml + pytorch_model.bin), mapped onto diffusers names"
                + (diffusersWeights.map { "; the diffusers files (\($0)) were not used" } ?? "")
        case .diffusers:
            guard snapshot.originalCheckpoint != nil, let diffusersWeights else { return nil }
            return "unet: converted from the diffusers files (\(diffusersWeights)); the root config.yml + pytorch_model.bin "
                + "(original IF layout) was not used: pass --original to convert it instead"
        }
    }
}

/// The pieces a pack needs when its UNet comes from the original layout.
public struct OriginalConversionInput: Sendable {
    public let source: OriginalLayoutSource
    /// The derived `unet/config.json`, attached to the pack in place of the diffusers file.
    public let configJSON: String
    /// The files read (config.yml, pytorch_model.bin), for provenance.
    public let sourceFiles: [String]

    public init(_ original: OriginalCheckpoint) throws(OriginalLayoutError) {
        source = try OriginalLayoutSource(original)
        configJSON = source.config.jsonText
        sourceFiles = source.filePaths
    }
}
