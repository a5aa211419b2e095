import PyTorchReader
import SafetensorsReader

/// What `ifconvert inspect` reports: the layout found at a path, and for every weights source the
/// tensors (name, dtype, shape, bytes) with counts. Built from headers only; no tensor data is read.
public struct InspectReport: Sendable {
    /// Bumped when a field of the JSON form changes meaning or disappears (adding fields does not).
    public static let schemaVersion = 1

    public struct Tensor: Sendable, Equatable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public let byteCount: Int
        /// The file holding it (the shard for sharded checkpoints).
        public let file: String

        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// An object a PyTorch checkpoint's pickle would have built from a global outside the reader's
    /// allowlist (never constructed), with its path in the pickle tree.
    public struct SkippedObject: Sendable, Equatable {
        public let path: String
        public let global: String
    }

    /// One opened tensor source.
    public struct Source: Sendable {
        public let format: String
        public let files: [String]
        public let metadata: [String: String]
        public let tensors: [Tensor]
        /// PyTorch checkpoints: objects not built (see `SkippedObject`).
        public var skippedObjects: [SkippedObject] = []
        /// PyTorch checkpoints: where the state dict was found (`state_dict`, `model.module`); nil at the top.
        public var stateDictPrefix: String? = nil

        public var parameterCount: Int { tensors.reduce(0) { $0 + $1.elementCount } }
        public var byteCount: Int { tensors.reduce(0) { $0 + $1.byteCount } }
        /// Bytes per dtype, in `DType.allCases` order, dtypes present only.
        public var bytesByDType: [(DType, Int)] {
            var totals: [DType: Int] = [:]
            for tensor in tensors { totals[tensor.dtype, default: 0] += tensor.byteCount }
            return DType.allCases.compactMap { dtype in totals[dtype].map { (dtype, $0) } }
        }
    }

    public struct Component: Sendable {
        public let name: String
        public let library: String?
        public let className: String?
        public let configPath: String?
        public let weights: WeightsFile?
        public let weightsVariant: String?
        public let usedVariantFallback: Bool
        public let source: Source?
        /// Why the weights were not listed (e.g. a PyTorch file before that reader exists).
        public let skipped: String?
    }

    public struct Original: Sendable {
        public let checkpoint: OriginalCheckpoint
        public let weightsByteCount: Int?
        public let source: Source?
        public let skipped: String?
        /// The diffusers model the original checkpoint maps onto (nil if it does not map).
        public let implied: OriginalLayoutSummary?
        /// Why the original checkpoint does not map onto diffusers names (missing/unmapped keys, ...).
        public let mappingError: String?
    }

    public let path: String
    public let layout: Snapshot.Layout
    public let variant: String?
    public let pipelineClass: String?
    public let components: [Component]
    public let original: Original?

    /// `diffusers-pipeline` / `original` for folders of several parts; the source format
    /// (`safetensors`, `safetensors-sharded`, ...) for a single file or component folder.
    public var format: String {
        switch layout {
        case .pipeline, .original: layout.rawValue
        case .file, .component: components.first?.source?.format ?? components.first?.weights?.kind.rawValue ?? layout.rawValue
        }
    }

    public var sources: [Source] { components.compactMap(\.source) + (original?.source.map { [$0] } ?? []) }
    public var tensorCount: Int { sources.reduce(0) { $0 + $1.tensors.count } }
    public var parameterCount: Int { sources.reduce(0) { $0 + $1.parameterCount } }
    public var byteCount: Int { sources.reduce(0) { $0 + $1.byteCount } }

    /// Discovers `path` and lists every weights source in it. Malformed component weights throw;
    /// sources reported `.unsupported` by their reader, and any failure to read the original
    /// root checkpoint, are listed as skipped with the reason.
    public static func make(path: String, variant: String? = nil) throws(TensorIOError) -> InspectReport {
        let snapshot = try Snapshot.discover(at: path, variant: variant)
        var components: [Component] = []
        for component in snapshot.components {
            var source: Source?
            var skipped: String?
            if let weights = component.weights {
                (source, skipped) = try open(weights)
            }
            components.append(Component(
                name: component.name, library: component.library, className: component.className,
                configPath: component.configPath, weights: component.weights,
                weightsVariant: component.weightsVariant, usedVariantFallback: component.usedVariantFallback, source: source, skipped: skipped))
        }
        var original: Original?
        if let checkpoint = snapshot.originalCheckpoint {
            var source: Source?
            var skipped: String?
            // The root checkpoint is a side note next to the diffusers folders: a failure to
            // read it is reported in the listing instead of failing the whole inspection.
            if let weights = checkpoint.weights {
                do { (source, skipped) = try open(weights) } catch { skipped = error.description }
            }
            var implied: OriginalLayoutSummary?
            var mappingError: String?
            if checkpoint.configPath != nil, checkpoint.weights != nil {
                var layout: OriginalLayoutSource?
                do throws(OriginalLayoutError) {
                    layout = try OriginalLayoutSource(checkpoint)
                } catch {
                    mappingError = error.description
                }
                if let layout {
                    implied = OriginalLayoutSummary(layout)
                    if source == nil { (source, skipped) = (try summarize(layout.checkpoint), nil) }
                }
            }
            original = Original(checkpoint: checkpoint, weightsByteCount: checkpoint.weights.flatMap { WeightsSelection.fileSize($0.path) },
                                source: source, skipped: skipped, implied: implied, mappingError: mappingError)
        }
        return InspectReport(path: path, layout: snapshot.layout, variant: variant, pipelineClass: snapshot.pipelineClass,
                             components: components, original: original)
    }

    private static func open(_ weights: WeightsFile) throws(TensorIOError) -> (Source?, String?) {
        do {
            return (try summarize(try openSource(weights)), nil)
        } catch {
            if case let .unsupported(_, message) = error { return (nil, message) }
            throw error
        }
    }

    /// Lists a source's tensors from its headers.
    public static func summarize(_ source: any TensorSource) throws(TensorIOError) -> Source {
        var tensors: [Tensor] = []
        tensors.reserveCapacity(source.tensorNames.count)
        let sharded = source as? ShardedSafetensors
        let shardedPyTorch = source as? ShardedPyTorchCheckpoint
        let singleFile = source.filePaths.first.map(WeightsFile.fileName(of:)) ?? ""
        for name in source.tensorNames {
            let info = try source.info(named: name)
            var file = singleFile
            if let sharded { file = WeightsFile.fileName(of: try sharded.shard(for: name).path) }
            if let shardedPyTorch { file = WeightsFile.fileName(of: try shardedPyTorch.shard(for: name).path) }
            tensors.append(Tensor(name: name, dtype: info.dtype, shape: info.shape, byteCount: info.byteCount, file: file))
        }
        var summary = Source(format: source.formatName, files: source.filePaths, metadata: source.metadata, tensors: tensors)
        if let checkpoint = source as? PyTorchCheckpoint {
            summary.skippedObjects = checkpoint.skippedObjects.map { SkippedObject(path: $0.path, global: $0.global) }
            summary.stateDictPrefix = checkpoint.stateDictPrefix
        } else if let shardedPyTorch {
            summary.skippedObjects = shardedPyTorch.skippedObjects.map { SkippedObject(path: $0.path, global: $0.global) }
            summary.stateDictPrefix = shardedPyTorch.stateDictPrefix
        }
        return summary
    }
}
