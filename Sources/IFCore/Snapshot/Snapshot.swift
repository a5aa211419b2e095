#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SafetensorsReader

/// What a path given on the command line holds: a diffusers pipeline snapshot, one component
/// folder, one weights file or index, or the original IF layout (`config.yml` + `pytorch_model.bin`).
/// Discovery reads only small JSON files and file names; no tensor data is touched.
public struct Snapshot: Sendable {
    public enum Layout: String, Sendable {
        /// A folder with `model_index.json` (Hugging Face hub snapshot of a diffusers pipeline).
        case pipeline = "diffusers-pipeline"
        /// One model folder (`unet/`, `text_encoder/`): weights files and usually `config.json`.
        case component
        /// A single weights file or shard index.
        case file
        /// Only the original-format root files `config.yml` + `pytorch_model.bin`.
        case original
    }

    public let path: String
    public let layout: Layout
    /// The variant asked for (`fp16`), nil for the default files.
    public let variant: String?
    /// `_class_name` of model_index.json (e.g. `IFPipeline`).
    public let pipelineClass: String?
    /// Components in model_index.json order; weight-less ones (tokenizer, scheduler) included
    /// with `weights == nil`.
    public let components: [SnapshotComponent]
    /// The original IF checkpoint at the snapshot root, when present.
    public let originalCheckpoint: OriginalCheckpoint?

    /// Components that carry weights.
    public var weightBearingComponents: [SnapshotComponent] { components.filter { $0.weights != nil } }

    public func component(named name: String) -> SnapshotComponent? { components.first { $0.name == name } }
}

public struct SnapshotComponent: Sendable {
    /// Key in model_index.json (`unet`, `text_encoder`), the folder name, or the file name.
    public let name: String
    /// `["diffusers", "UNet2DConditionModel"]` of model_index.json, when known.
    public let library: String?
    public let className: String?
    public let directory: String
    /// `config.json` of the component, when present.
    public let configPath: String?
    public let config: JSONValue?
    /// The weights file diffusers/transformers would load, nil for weight-less components.
    public let weights: WeightsFile?
    /// The variant of the picked weights (nil: the default files).
    public let weightsVariant: String?
    /// The picked weights are not of the variant asked for (see `WeightsSelection.select`).
    public var usedVariantFallback: Bool { weights != nil && weightsVariant != requestedVariant }
    /// The variant asked for at discovery.
    public let requestedVariant: String?
}

/// The original DeepFloyd IF layout: `config.yml` (UNet hyper-parameters) and `pytorch_model.bin`
/// (fp16 state dict in the original key names) at the repository root. diffusers ignores them
/// (`_ignore_files` in model_index.json).
public struct OriginalCheckpoint: Sendable, Equatable {
    public let configPath: String?
    public let weights: WeightsFile?

    public init(configPath: String?, weights: WeightsFile?) {
        self.configPath = configPath
        self.weights = weights
    }
}

extension Snapshot {
    /// Discovers what `path` holds. `variant` (e.g. "fp16") selects `*.fp16.*` weights the way
    /// diffusers' `variant=` does.
    public static func discover(at path: String, variant: String? = nil) throws(TensorIOError) -> Snapshot {
        if let variant {
            guard !variant.isEmpty, variant.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw .unsupported(path: path, message: "variant '\(variant)' must be letters, digits, '_' or '-' (e.g. fp16)")
            }
        }
        if WeightsSelection.isRegularFile(path) {
            guard let weights = WeightsFile(classifying: path) else {
                throw .unsupported(path: path, message: "not a weights file name (expected .safetensors, *.safetensors.index*.json, .bin, .pt, .pth or .ckpt)")
            }
            let directory = PathName.directory(of: path)
            let component = SnapshotComponent(
                name: weights.fileName, library: nil, className: nil, directory: directory,
                configPath: nil, config: nil, weights: weights, weightsVariant: variant, requestedVariant: variant)
            return Snapshot(path: path, layout: .file, variant: variant, pipelineClass: nil,
                            components: [component], originalCheckpoint: nil)
        }
        guard WeightsSelection.isDirectory(path) else {
            throw .io(path: path, message: "no such file or folder")
        }
        let root = path.hasSuffix("/") ? String(path.dropLast()) : path
        let original = originalCheckpoint(in: root)
        if WeightsSelection.isRegularFile(root + "/model_index.json") {
            return try discoverPipeline(root: root, variant: variant, original: original)
        }
        // config.yml + pytorch_model.bin without a config.json: the original IF layout, not a component
        // folder whose weights happen to be named pytorch_model.bin.
        if let original, original.configPath != nil, original.weights != nil,
           !WeightsSelection.isRegularFile(root + "/config.json") {
            return Snapshot(path: path, layout: .original, variant: variant, pipelineClass: nil,
                            components: [], originalCheckpoint: original)
        }
        if let component = try discoverComponent(name: PathName.folderName(of: root), library: nil, className: nil,
                                                 directory: root, variant: variant), component.weights != nil {
            return Snapshot(path: path, layout: .component, variant: variant, pipelineClass: nil,
                            components: [component], originalCheckpoint: original)
        }
        throw .unsupported(path: path, message: "no model_index.json, no known weights file (diffusion_pytorch_model.*, model.*, pytorch_model.*) and no config.yml + pytorch_model.bin here")
    }

    private static func discoverPipeline(root: String, variant: String?, original: OriginalCheckpoint?) throws(TensorIOError) -> Snapshot {
        let indexPath = root + "/model_index.json"
        let json = try JSONParser.parse(contentsOf: indexPath)
        guard case let .object(index) = json else {
            throw .malformed(path: indexPath, message: "model_index.json must be a JSON object, found \(json.kindName)")
        }
        var components: [SnapshotComponent] = []
        for (key, value) in index.members where !key.hasPrefix("_") {
            // Components are ["library", "Class"]; [null, null] marks an absent optional one. Other
            // entries (e.g. "requires_safety_checker": true) are pipeline options.
            guard case let .array(pair) = value, pair.count == 2 else { continue }
            if pair[0] == .null && pair[1] == .null { continue }
            guard let library = pair[0].stringValue, let className = pair[1].stringValue else {
                throw .malformed(path: indexPath, message: "component '\(key)' must be [library, class] strings, found \(value.serialized())")
            }
            let directory = root + "/" + key
            guard WeightsSelection.isDirectory(directory) else {
                // IFPipeline._optional_components may be left out of a download (from_pretrained
                // then takes them as None), so a missing folder for those is not an error.
                if ["safety_checker", "feature_extractor", "watermarker", "text_encoder", "tokenizer"].contains(key) { continue }
                throw .io(path: indexPath, message: "component '\(key)' (\(library).\(className)) is listed but its folder \(directory) is missing")
            }
            if let component = try discoverComponent(name: key, library: library, className: className,
                                                     directory: directory, variant: variant) {
                components.append(component)
            }
        }
        return Snapshot(path: root, layout: .pipeline, variant: variant, pipelineClass: index["_class_name"]?.stringValue,
                        components: components, originalCheckpoint: original)
    }

    private static func discoverComponent(
        name: String, library: String?, className: String?, directory: String, variant: String?
    ) throws(TensorIOError) -> SnapshotComponent? {
        let configPath = directory + "/config.json"
        var config: JSONValue?
        if WeightsSelection.isRegularFile(configPath) {
            config = try JSONParser.parse(contentsOf: configPath)
        }
        let selected = WeightsSelection.select(in: directory, library: library, variant: variant)
        return SnapshotComponent(
            name: name, library: library, className: className ?? config?.objectValue?["_class_name"]?.stringValue,
            directory: directory, configPath: config == nil ? nil : configPath, config: config,
            weights: selected?.weights, weightsVariant: selected?.variant, requestedVariant: variant)
    }

    private static func originalCheckpoint(in root: String) -> OriginalCheckpoint? {
        let config = root + "/config.yml"
        let weights = root + "/pytorch_model.bin"
        let hasConfig = WeightsSelection.isRegularFile(config)
        let hasWeights = WeightsSelection.isRegularFile(weights)
        guard hasConfig || hasWeights else { return nil }
        return OriginalCheckpoint(configPath: hasConfig ? config : nil,
                                  weights: hasWeights ? WeightsFile(kind: .pytorch, path: weights) : nil)
    }
}

/// Path helpers (no Foundation needed).
enum PathName {
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func fileName(of path: String) -> String {
        WeightsFile.fileName(of: path)
    }

    /// The folder's own name, also for "." and "..".
    static func folderName(of path: String) -> String {
        let name = fileName(of: path)
        guard name == "." || name == ".." || name.isEmpty, let resolved = realpath(path, nil) else { return name }
        defer { free(resolved) }
        return fileName(of: String(cString: resolved))
    }
}
