import PyTorchReader
import SafetensorsReader

/// A weights file found on disk, classified by name; opening it is a separate step (`openSource`).
public struct WeightsFile: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// One `.safetensors` file.
        case safetensors
        /// `*.safetensors.index*.json`: a `weight_map` over safetensors shards.
        case safetensorsIndex = "safetensors-index"
        /// A PyTorch checkpoint (`.bin`, `.pt`, `.pth`, `.ckpt`: zip or legacy pickle).
        case pytorch
        /// `*.bin.index*.json`: a `weight_map` over PyTorch shards.
        case pytorchIndex = "pytorch-index"
        /// An ifconvert pack (or any GGUF file), read through `Pack`.
        case gguf
        /// A seekable zstd archive of a safetensors file or a pack (`ifconvert compress`), read
        /// in place: only the header's and the requested tensors' frames are decompressed.
        case archive
    }

    public let kind: Kind
    public let path: String

    public init(kind: Kind, path: String) {
        self.kind = kind
        self.path = path
    }

    /// Classifies `path` by its file name; nil when the name is not a weights file.
    /// Index names: `model.safetensors.index.json`, `model.safetensors.index.fp16.json` (current
    /// variant spelling) and `model.safetensors.fp16.index.json` (diffusers' legacy spelling).
    public init?(classifying path: String) {
        let name = Self.fileName(of: path).lowercased()
        if name.hasSuffix(".json") {
            if name.contains(".safetensors.index") || (name.contains(".safetensors.") && name.hasSuffix(".index.json")) {
                self.init(kind: .safetensorsIndex, path: path)
            } else if name.contains(".bin.index") || (name.contains(".bin.") && name.hasSuffix(".index.json")) {
                self.init(kind: .pytorchIndex, path: path)
            } else {
                return nil
            }
        } else if name.hasSuffix(".safetensors.zst") || name.hasSuffix(".gguf.zst") {
            self.init(kind: .archive, path: path)
        } else if name.hasSuffix(".safetensors") {
            self.init(kind: .safetensors, path: path)
        } else if name.hasSuffix(".gguf") {
            self.init(kind: .gguf, path: path)
        } else if [".bin", ".pt", ".pth", ".ckpt"].contains(where: name.hasSuffix) {
            self.init(kind: .pytorch, path: path)
        } else {
            return nil
        }
    }

    public var fileName: String { Self.fileName(of: path) }

    static func fileName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}

/// Opens `weights` as one tensor source: a safetensors file, a sharded safetensors checkpoint, a
/// PyTorch checkpoint (zip or legacy pickle, never executed) or a sharded PyTorch checkpoint.
public func openSource(_ weights: WeightsFile) throws(TensorIOError) -> any TensorSource {
    switch weights.kind {
    case .safetensors:
        return try SafetensorsFile(readingAt: weights.path)
    case .safetensorsIndex:
        return try ShardedSafetensors(indexAt: weights.path)
    case .pytorch:
        return try PyTorchCheckpoint(readingAt: weights.path)
    case .pytorchIndex:
        return try ShardedPyTorchCheckpoint(indexAt: weights.path)
    case .gguf:
        return try Pack(readingAt: weights.path)
    case .archive:
        do {
            return try ArchiveSegments.openArchivedSource(try SeekableArchive(readingAt: weights.path))
        } catch let error as TensorIOError {
            throw error
        } catch {
            throw .malformed(path: weights.path, message: "\(error)")
        }
    }
}

/// Opens the file at `path`, classified by name (see `WeightsFile(classifying:)`).
public func openSource(atPath path: String) throws(TensorIOError) -> any TensorSource {
    guard let weights = WeightsFile(classifying: path) else {
        throw .unsupported(path: path, message: "not a weights file name (expected .safetensors, *.safetensors.index*.json, .gguf, .bin, .pt, .pth, .ckpt, or a .safetensors.zst / .gguf.zst archive)")
    }
    return try openSource(weights)
}
