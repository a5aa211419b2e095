import Foundation
import IFCore
import SafetensorsReader

/// The parts of an IF pipeline a stage runner reads.
public enum StageComponent: String, Sendable, CaseIterable {
    case textEncoder = "text_encoder"
    case tokenizer
    case unet
}

/// What `verify`/`tokenize` run: a Hugging Face snapshot folder (the root with model_index.json, or
/// one component folder such as text_encoder/), a single safetensors file, or a GGUF pack.
public struct StageModel: Sendable {
    public enum Layout: String, Sendable {
        case snapshotRoot = "snapshot"
        case componentFolder = "component folder"
        case safetensorsFile = "safetensors file"
        case pack = "pack"
    }

    public let path: String
    public let layout: Layout
    /// Which weight files to prefer in a folder holding several: nil = the full-precision files
    /// (`model.safetensors...`), "fp16" = `*.fp16.*`.
    public let variant: String?
    /// With no variant asked for and no full-precision files, use the only variant present (IF's
    /// text_encoder ships fp16 shards only in many mirrors).
    public let fallbackToAnyVariant: Bool

    public init(path: String, variant: String? = nil, fallbackToAnyVariant: Bool = true) throws(RunnerError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .io(.io(path: path, message: "no such file or folder"))
        }
        self.path = path
        self.variant = variant
        self.fallbackToAnyVariant = fallbackToAnyVariant
        if isDirectory.boolValue {
            layout = FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("model_index.json"))
                ? .snapshotRoot : .componentFolder
        } else if path.hasSuffix(".gguf") || Self.hasGGUFMagic(path) {
            layout = .pack
        } else {
            layout = .safetensorsFile
        }
    }

    static func hasGGUFMagic(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 4)) == Data("GGUF".utf8)
    }

    /// The folder holding `component` (snapshot root + component, or the folder given).
    func folder(for component: StageComponent) -> String? {
        switch layout {
        case .snapshotRoot: (path as NSString).appendingPathComponent(component.rawValue)
        case .componentFolder: path
        case .safetensorsFile, .pack: nil
        }
    }

    /// The weights of `component`, memory-mapped.
    public func weights(for component: StageComponent) throws -> any WeightStore {
        switch layout {
        case .pack:
            return try PackStageSupport.weights(packPath: path, component: component)
        case .safetensorsFile:
            do { return TensorSourceWeightStore(source: try SafetensorsFile(readingAt: path)) } catch { throw RunnerError.io(error) }
        case .snapshotRoot, .componentFolder:
            let folder = folder(for: component)!
            return TensorSourceWeightStore(source: try Self.openWeights(inFolder: folder, variant: variant, fallbackToAnyVariant: fallbackToAnyVariant))
        }
    }

    /// `config.json` of `component` when the model has one (packs: the stored config, if any).
    public func configJSON(for component: StageComponent) throws -> Data? {
        switch layout {
        case .pack: return try PackStageSupport.configJSON(packPath: path, component: component)
        case .safetensorsFile: return nil
        case .snapshotRoot, .componentFolder:
            let file = (folder(for: component)! as NSString).appendingPathComponent("config.json")
            return FileManager.default.contents(atPath: file)
        }
    }

    /// The T5 tokenizer: `spiece.model` in the tokenizer folder (for a component folder: the folder
    /// itself or its sibling tokenizer/), or the model stored in a pack.
    public func tokenizer() throws -> T5Tokenizer {
        switch layout {
        case .pack:
            return try T5Tokenizer(modelBytes: try PackStageSupport.tokenizerModel(packPath: path))
        case .safetensorsFile:
            throw RunnerError.badConfig("\(path) is a safetensors file; the tokenizer needs a snapshot folder or a pack")
        case .snapshotRoot, .componentFolder:
            let folder = folder(for: .tokenizer)!
            let candidates = [folder, ((folder as NSString).deletingLastPathComponent as NSString).appendingPathComponent("tokenizer")]
            for candidate in candidates {
                let file = (candidate as NSString).appendingPathComponent("spiece.model")
                if FileManager.default.fileExists(atPath: file) { return try T5Tokenizer(contentsOf: file) }
            }
            throw RunnerError.io(.io(path: folder, message: "no spiece.model here or in a sibling tokenizer/ folder"))
        }
    }

    /// Opens the weights of a diffusers/transformers component folder: a sharded index if there is
    /// one, else a single safetensors file; `variant` picks `*.<variant>.*` files.
    public static func openWeights(inFolder folder: String, variant: String?, fallbackToAnyVariant: Bool = false) throws -> any TensorSource {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted() } catch {
            throw RunnerError.io(.io(path: folder, message: "cannot list the folder: \(error.localizedDescription)"))
        }
        func matchesVariant(_ name: String) -> Bool {
            let parts = name.split(separator: ".").map(String.init)
            if let variant { return parts.contains(variant) || parts.contains { $0.hasPrefix("\(variant)-") } }
            return !parts.contains { $0 == "fp16" || $0.hasPrefix("fp16-") || $0 == "bf16" }
        }
        if variant == nil, fallbackToAnyVariant, !names.contains(where: { $0.hasSuffix(".safetensors") && matchesVariant($0) }) {
            var variants = Set<String>()
            for name in names where name.hasSuffix(".safetensors") {
                for part in name.split(separator: ".") {
                    let tag = String(part.split(separator: "-").first ?? part)
                    if tag == "fp16" || tag == "bf16" { variants.insert(tag) }
                }
            }
            if variants.count == 1 { return try openWeights(inFolder: folder, variant: variants.first!) }
        }
        let indexes = names.filter { $0.hasSuffix(".json") && $0.contains(".safetensors.index") && matchesVariant($0) }
        let singles = names.filter { $0.hasSuffix(".safetensors") && !$0.contains("-of-") && matchesVariant($0) }
        do {
            if let index = indexes.first {
                return try ShardedSafetensors(indexAt: (folder as NSString).appendingPathComponent(index))
            }
            if singles.count == 1 {
                return try SafetensorsFile(readingAt: (folder as NSString).appendingPathComponent(singles[0]))
            }
        } catch { throw RunnerError.io(error) }
        let wanted = variant.map { "the \($0) variant" } ?? "full-precision (non-variant) weights"
        throw RunnerError.io(.io(path: folder, message: singles.count > 1
            ? "several safetensors files (\(singles.joined(separator: ", "))) and no index; expected one"
            : "no safetensors weights for \(wanted) (files: \(names.joined(separator: ", ")))"))
    }
}

/// Pack access for `StageModel`: one pack holds one component (its `if.component`).
enum PackStageSupport {
    static func open(_ path: String, component: StageComponent) throws -> PackWeightStore {
        let store = try PackWeightStore(readingAt: path)
        let stored = store.pack.component ?? ""
        // A text-encoder pack carries the tokenizer model too.
        let wanted = component == .tokenizer ? StageComponent.textEncoder.rawValue : component.rawValue
        guard stored.isEmpty || stored == wanted || (component == .tokenizer && store.attachments.spieceModel != nil) else {
            throw RunnerError.badConfig("\(path) is a '\(stored)' pack; this needs the '\(wanted)' component")
        }
        return store
    }

    static func weights(packPath: String, component: StageComponent) throws -> any WeightStore {
        try open(packPath, component: component)
    }

    static func configJSON(packPath: String, component: StageComponent) throws -> Data? {
        try open(packPath, component: component).attachments.configJSON.map { Data($0.utf8) }
    }

    static func tokenizerModel(packPath: String) throws -> [UInt8] {
        guard let bytes = try open(packPath, component: .tokenizer).attachments.spieceModel else {
            throw RunnerError.badConfig("\(packPath) carries no tokenizer model (if.tokenizer.spiece_model); convert the text encoder from a snapshot with tokenizer/")
        }
        return bytes
    }
}
