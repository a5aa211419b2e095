import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Picks a component's weights file the way diffusers and transformers do when loading from a
/// local folder (diffusers `ModelMixin.from_pretrained`, transformers `_get_resolved_checkpoint_files`):
/// - diffusers models (`diffusion_pytorch_model.*`): the sharded safetensors index first, then the
///   single safetensors file, then the `.bin`.
/// - transformers models (`model.*` / `pytorch_model.*`): single safetensors, safetensors index,
///   `.bin`, `.bin` index.
/// A variant `v` inserts `.v` before the last extension: `model.fp16.safetensors`,
/// `model.safetensors.index.fp16.json`; diffusers also still accepts the legacy index spelling
/// `diffusion_pytorch_model.safetensors.fp16.index.json`.
public enum WeightsSelection {
    /// File names to try, best first, for a component of `library` ("diffusers", "transformers",
    /// or nil when unknown: diffusers names, then transformers names).
    public static func candidates(library: String?, variant: String?) -> [(String, WeightsFile.Kind)] {
        let diffusers: [(String, WeightsFile.Kind)] = [
            (withVariant("diffusion_pytorch_model.safetensors.index.json", variant), .safetensorsIndex),
        ] + (variant.map { [("diffusion_pytorch_model.safetensors.\($0).index.json", WeightsFile.Kind.safetensorsIndex)] } ?? []) + [
            (withVariant("diffusion_pytorch_model.safetensors", variant), .safetensors),
            (withVariant("diffusion_pytorch_model.bin", variant), .pytorch),
        ]
        let transformers: [(String, WeightsFile.Kind)] = [
            (withVariant("model.safetensors", variant), .safetensors),
            (withVariant("model.safetensors.index.json", variant), .safetensorsIndex),
            (withVariant("pytorch_model.bin", variant), .pytorch),
            (withVariant("pytorch_model.bin.index.json", variant), .pytorchIndex),
        ]
        switch library {
        case "transformers": return transformers
        case "diffusers": return diffusers
        default: return diffusers + transformers
        }
    }

    /// `_add_variant`: the variant goes before the last extension.
    public static func withVariant(_ name: String, _ variant: String?) -> String {
        guard let variant, let dot = name.lastIndex(of: ".") else { return name }
        return "\(name[..<dot]).\(variant)\(name[dot...])"
    }

    /// The weights file to load from `directory`: the first candidate present for `variant`.
    /// When none is present the choice widens, and `variant` in the result says which files won:
    /// - a variant was asked but this component has none: the default files (diffusers does the
    ///   same per component, with a warning);
    /// - neither exists but exactly one other variant does (the tiny fixtures and some snapshots
    ///   ship the IF text encoder only as fp16 shards): that variant.
    public static func select(in directory: String, library: String?, variant: String?)
        -> (weights: WeightsFile, variant: String?)?
    {
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        func first(_ v: String?) -> WeightsFile? {
            for (name, kind) in candidates(library: library, variant: v) where isRegularFile(base + name) {
                return WeightsFile(kind: kind, path: base + name)
            }
            return nil
        }
        if let found = first(variant) { return (found, variant) }
        if variant != nil, let found = first(nil) { return (found, nil) }
        let present = availableVariants(in: directory, library: library)
        if present.count == 1, let only = present.first, let found = first(only) { return (found, only) }
        return nil
    }

    /// Variants that have weights in `directory` (names like `model.fp16.safetensors`,
    /// `model.safetensors.index.fp16.json`; shard names `model.fp16-00001-of-00002.safetensors` are
    /// not variants of their own), sorted.
    public static func availableVariants(in directory: String, library: String?) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var found = Set<String>()
        for (defaultName, _) in candidates(library: library, variant: nil) {
            guard let dot = defaultName.lastIndex(of: ".") else { continue }
            let prefix = defaultName[..<dot] + "."
            let suffix = defaultName[dot...]
            for name in names where name.hasPrefix(prefix) && name.hasSuffix(suffix) && name.count > prefix.count + suffix.count {
                let middle = name.dropFirst(prefix.count).dropLast(suffix.count)
                guard !middle.contains("."), !middle.contains("-of-") else { continue }
                found.insert(String(middle))
            }
        }
        return found.filter { first in candidates(library: library, variant: first).contains { isRegularFile(directory + "/" + $0.0) } }.sorted()
    }

    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func fileSize(_ path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : nil
    }
}
