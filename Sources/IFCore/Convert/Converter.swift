import Foundation

/// What `ifconvert convert` was asked to do.
public struct ConvertRequest: Sendable {
    public var sourcePath: String
    public var outputPath: String
    public var policy: any PackTypePolicy
    /// Weights variant to pick (`fp16`), as diffusers' `variant=`.
    public var variant: String?
    /// Convert only this component of a snapshot.
    public var component: String?
    public var overwrite: Bool
    public var verifyAfterWrite: Bool
    public var hashSources: Bool
    /// Read the UNet from the original root files (config.yml + pytorch_model.bin) instead of unet/.
    public var original: Bool

    public init(sourcePath: String, outputPath: String, policy: any PackTypePolicy, variant: String? = nil, component: String? = nil,
                overwrite: Bool = false, verifyAfterWrite: Bool = false, hashSources: Bool = true, original: Bool = false) {
        self.sourcePath = sourcePath
        self.outputPath = outputPath
        self.policy = policy
        self.variant = variant
        self.component = component
        self.overwrite = overwrite
        self.verifyAfterWrite = verifyAfterWrite
        self.hashSources = hashSources
        self.original = original
    }
}

/// Every pack a conversion will write, with the numbers `--dry-run` prints.
public struct ConversionPlan: Sendable {
    public var packs: [PackPlan]
    /// The opened source of each pack (parallel to `packs`).
    public var sources: [any TensorSource]
    /// OUT is a folder of `<component>.gguf` files (snapshot input).
    public var outputIsFolder: Bool
    /// Things not converted and why (weight-less components, the root original checkpoint).
    public var notes: [String]
    public var fileByteCounts: [Int]
    public var headerByteCounts: [Int]

    public var totalOutputByteCount: Int { fileByteCounts.reduce(0, +) }

    /// Free bytes on the output file system (nil when it cannot be asked).
    public var freeDiskByteCount: Int? {
        guard let first = packs.first else { return nil }
        return Converter.freeBytes(near: first.outputPath)
    }

    /// Peak resident memory expected while writing: a fixed process baseline, the largest header,
    /// one source window (16 MiB, released after use), the cast buffers (16 MiB f32 + 8 MiB 16-bit,
    /// only when casting), the hashing buffer (8 MiB) and the write buffer (4 MiB). Independent of
    /// the checkpoint size.
    public var estimatedPeakMemoryByteCount: Int {
        let mib = 1 << 20
        let casting = packs.contains { $0.tensors.contains { !($0.encoder is RawCopyEncoder) } }
        return 48 * mib + (headerByteCounts.max() ?? 0) + 16 * mib + (casting ? 24 * mib : 0) + 8 * mib + 4 * mib
    }
}

/// Everything `convert` wrote.
public struct ConversionReport: Sendable, Codable, Equatable {
    public var packs: [PackWriteReport]
    public var notes: [String]
}

public enum Converter {
    /// Discovers the source, opens it and plans every pack. Touches no tensor data and writes nothing.
    public static func plan(_ request: ConvertRequest) throws(TensorIOError) -> ConversionPlan {
        let snapshot = try Snapshot.discover(at: request.sourcePath, variant: request.variant)
        var notes: [String] = []
        var components = snapshot.weightBearingComponents
        let root = snapshotRoot(snapshot) ?? (snapshot.layout == .original ? snapshot.path : nil)
        if snapshot.layout == .original || request.original {
            OriginalConversion.addUNet(for: snapshot, to: &components)
        }
        if let wanted = request.component {
            guard let match = components.first(where: { $0.name == wanted }) else {
                throw .unsupported(path: request.sourcePath, message: "no component '\(wanted)' with weights (have: \(components.map(\.name).joined(separator: ", ")))")
            }
            components = [match]
        }
        for component in snapshot.components where component.weights == nil {
            notes.append("\(component.name): no weights, nothing to convert")
        }
        let unetChoice = try OriginalConversion.choose(for: snapshot, request: request, components: components, notes: &notes)
        guard !components.isEmpty else {
            throw .unsupported(path: request.sourcePath, message: "nothing to convert: no component with weights found")
        }
        let outputIsFolder = snapshot.layout == .pipeline && request.component == nil
        var packs: [PackPlan] = []
        var sources: [any TensorSource] = []
        var sizes: [Int] = []
        var headers: [Int] = []
        for component in components {
            guard let weights = component.weights else { continue }
            let name = componentName(component, snapshot: snapshot)
            let original = try OriginalConversion.input(for: component, choice: unetChoice, snapshot: snapshot)
            let source: any TensorSource = if let original { original.source } else { try openSource(weights) }
            let outputPath = outputIsFolder ? join(request.outputPath, name + ".gguf") : outputFile(request.outputPath, component: name)
            var tensors: [PackTensorPlan] = []
            for tensorName in try storageOrder(source) {
                tensors.append(try request.policy.plan(for: try source.info(named: tensorName), component: name))
            }
            let files = source.filePaths
            let plan = PackPlan(
                outputPath: outputPath, component: name, tensors: tensors,
                attachments: OriginalConversion.attachments(try attachments(for: component, name: name, root: root), original: original),
                sourceFiles: try files.map { path throws(TensorIOError) in
                    PackSourceFile(path: relative(path, to: root), byteCount: try fileSize(path), sha256: "")
                },
                sourceFileLocations: files, requestedType: request.policy.requestedType, name: name)
            let layout = try plan.layout()
            packs.append(plan)
            sources.append(source)
            sizes.append(layout.fileByteCount)
            headers.append(layout.header.count)
            if !request.overwrite, FileManager.default.fileExists(atPath: outputPath) {
                throw .io(path: outputPath, message: "already exists (use --force to overwrite)")
            }
        }
        return ConversionPlan(packs: packs, sources: sources, outputIsFolder: outputIsFolder, notes: notes,
                              fileByteCounts: sizes, headerByteCounts: headers)
    }

    /// Writes every planned pack, one after the other (each one atomically).
    public static func run(
        _ plan: ConversionPlan, request: ConvertRequest, progress: ((Int, PackProgress) -> Void)? = nil
    ) throws(TensorIOError) -> ConversionReport {
        if plan.outputIsFolder {
            do {
                try FileManager.default.createDirectory(atPath: request.outputPath, withIntermediateDirectories: true)
            } catch {
                throw .io(path: request.outputPath, message: "cannot create output folder: \(error.localizedDescription)")
            }
        }
        let options = PackWriteOptions(overwrite: request.overwrite, verifyAfterWrite: request.verifyAfterWrite, hashSources: request.hashSources)
        var reports: [PackWriteReport] = []
        for (index, (pack, source)) in zip(plan.packs, plan.sources).enumerated() {
            removeStaleTemporaryFiles(for: pack.outputPath)
            reports.append(try PackWriter.write(pack, from: source, options: options) { progress?(index, $0) })
        }
        return ConversionReport(packs: reports, notes: plan.notes)
    }

    /// Tensor names in the order their bytes lie on disk (file, then offset), so that reading is
    /// one sequential pass per file (kernel read-ahead works, the hashing thread reads the same
    /// pages at about the same time). safetensors headers list names alphabetically, which is
    /// not the data order.
    static func storageOrder(_ source: any TensorSource) throws(TensorIOError) -> [String] {
        let files = source.filePaths
        var keyed: [(file: Int, offset: Int, position: Int, name: String)] = []
        for (position, name) in source.tensorNames.enumerated() {
            let view = try source.tensor(named: name)
            let file = files.firstIndex(of: view.data.storage.storageDescription) ?? files.count
            keyed.append((file, view.data.range.lowerBound, position, name))
        }
        keyed.sort { ($0.file, $0.offset, $0.position) < ($1.file, $1.offset, $1.position) }
        return keyed.map(\.name)
    }

    // MARK: Attachments and paths

    /// The folder that holds the pipeline (model_index.json, scheduler/, tokenizer/) the
    /// component belongs to, when there is one.
    static func snapshotRoot(_ snapshot: Snapshot) -> String? {
        if snapshot.layout == .pipeline { return snapshot.path }
        guard let component = snapshot.components.first else { return nil }
        let parent = directory(of: component.directory)
        return parent
    }

    static func componentName(_ component: SnapshotComponent, snapshot: Snapshot) -> String {
        if snapshot.layout == .file {
            // A weights file inside a component folder takes the folder's name (unet, text_encoder).
            let folder = component.directory
            if FileManager.default.fileExists(atPath: join(folder, "config.json")) { return fileName(of: folder) }
            let base = component.name
            return String(base.prefix(while: { $0 != "." }))
        }
        return component.name
    }

    static func attachments(for component: SnapshotComponent, name: String, root: String?) throws(TensorIOError) -> PackAttachments {
        var result = PackAttachments(component: name)
        let configPath = component.configPath ?? join(component.directory, "config.json")
        result.configJSON = try readText(configPath)
        guard let root else { return result }
        result.modelIndexJSON = try readText(join(root, "model_index.json"))
        // Siblings (schedulers, tokenizer) only count inside a pipeline folder.
        guard result.modelIndexJSON != nil else { return result }
        let folders = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted()
        for folder in folders {
            if let json = try readText(join(join(root, folder), "scheduler_config.json")) {
                result.schedulers.append((folder, json))
            }
        }
        let isTextEncoder = name == "text_encoder" || component.className == "T5EncoderModel"
        if isTextEncoder {
            let tokenizer = join(root, "tokenizer")
            if let bytes = FileManager.default.contents(atPath: join(tokenizer, "spiece.model")) {
                result.spieceModel = [UInt8](bytes)
            }
            result.tokenizerConfigJSON = try readText(join(tokenizer, "tokenizer_config.json"))
            result.specialTokensMapJSON = try readText(join(tokenizer, "special_tokens_map.json"))
        }
        return result
    }

    /// The file's text, nil when it does not exist.
    static func readText(_ path: String) throws(TensorIOError) -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { throw .io(path: path, message: "cannot read") }
        guard let text = String(data: data, encoding: .utf8) else { throw .malformed(path: path, message: "not UTF-8 text") }
        return text
    }

    static func fileSize(_ path: String) throws(TensorIOError) -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .io(path: path, message: "cannot stat: \(String(cString: strerror(errno)))") }
        return Int(info.st_size)
    }

    static func freeBytes(near path: String) -> Int? {
        var folder = directory(of: path)
        while !FileManager.default.fileExists(atPath: folder), folder != "/", folder != "." { folder = directory(of: folder) }
        var info = statvfs()
        guard statvfs(folder, &info) == 0 else { return nil }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    /// Removes `.<name>.partial-<pid>-*` files left by an earlier run that was killed (`kill -9`
    /// cannot be caught), when that process no longer exists.
    static func removeStaleTemporaryFiles(for output: String) {
        let folder = directory(of: output)
        let prefix = ".\(fileName(of: output)).partial-"
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where entry.hasPrefix(prefix) {
            let rest = entry.dropFirst(prefix.count)
            guard let pid = Int32(rest.prefix(while: { $0 != "-" })), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink(join(folder, entry)) }
        }
    }

    static func outputFile(_ output: String, component: String) -> String {
        var isFolder: ObjCBool = false
        if output.hasSuffix("/") || (FileManager.default.fileExists(atPath: output, isDirectory: &isFolder) && isFolder.boolValue) {
            return join(output, component + ".gguf")
        }
        return output
    }

    static func relative(_ path: String, to root: String?) -> String {
        guard let root else { return fileName(of: path) }
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : fileName(of: path)
    }

    static func join(_ a: String, _ b: String) -> String { a.hasSuffix("/") ? a + b : a + "/" + b }

    static func directory(of path: String) -> String {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    static func fileName(of path: String) -> String {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        guard let slash = trimmed.lastIndex(of: "/") else { return trimmed }
        return String(trimmed[trimmed.index(after: slash)...])
    }
}
