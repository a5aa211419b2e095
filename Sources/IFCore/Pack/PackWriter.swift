import Dispatch

/// Everything needed to write one pack: per-tensor plans plus what travels in the metadata.
public struct PackPlan: Sendable {
    public var outputPath: String
    public var component: String
    public var tensors: [PackTensorPlan]
    public var attachments: PackAttachments
    /// Provenance entries (path as recorded, size); `sha256` is filled in while writing.
    public var sourceFiles: [PackSourceFile]
    /// Where to read each source file for hashing (parallel to `sourceFiles`).
    public var sourceFileLocations: [String]
    public var requestedType: String
    /// `general.name`.
    public var name: String

    public init(outputPath: String, component: String, tensors: [PackTensorPlan], attachments: PackAttachments,
                sourceFiles: [PackSourceFile], sourceFileLocations: [String], requestedType: String, name: String) {
        self.outputPath = outputPath
        self.component = component
        self.tensors = tensors
        self.attachments = attachments
        self.sourceFiles = sourceFiles
        self.sourceFileLocations = sourceFileLocations
        self.requestedType = requestedType
        self.name = name
    }

    public var records: [PackRecord] { tensors.map(\.record) }
    public var declarations: [GGUFTensorDeclaration] { tensors.flatMap(\.outputs) }

    /// Sources without a digest or origin get a placeholder to be patched with the computed hash.
    public func metadata() -> GGUFMetadata {
        PackMetadataBuilder.metadata(records: records, tensorCount: declarations.count, attachments: attachments,
                                     sources: sourceFiles, requestedType: requestedType, name: name)
    }

    /// Header and sizes, without writing anything (dry runs use it too).
    public func layout() throws(TensorIOError) -> GGUFLayout {
        var seen: [String: String] = [:]
        for plan in tensors {
            for output in plan.outputs {
                if let other = seen[output.name] {
                    throw .unsupported(path: outputPath, message: "GGUF name '\(output.name)' would hold both '\(other)' and '\(plan.record.originalName)'")
                }
                seen[output.name] = plan.record.originalName
            }
        }
        return try GGUFLayout(metadata: metadata(), tensors: declarations, path: outputPath)
    }
}

public struct PackWriteOptions: Sendable {
    /// Replace an existing output.
    public var overwrite: Bool
    /// Also re-read every tensor of the finished temp file and compare its CRC32C before the
    /// rename (the header, records and tensor infos are always re-read and compared).
    public var verifyAfterWrite: Bool
    /// Hash the source files (SHA-256) for provenance.
    public var hashSources: Bool

    public init(overwrite: Bool = false, verifyAfterWrite: Bool = false, hashSources: Bool = true) {
        self.overwrite = overwrite
        self.verifyAfterWrite = verifyAfterWrite
        self.hashSources = hashSources
    }
}

/// Progress of one pack write (bytes of tensor data).
public struct PackProgress: Sendable {
    public var bytesDone: Int
    public var bytesTotal: Int
    public var tensorName: String
}

/// What was written for one tensor.
public struct PackTensorReport: Sendable, Codable, Equatable {
    public var name: String
    public var ggufName: String
    public var shape: [Int]
    public var sourceDType: String
    public var storedType: String
    public var encoding: String
    public var rule: String
    public var byteCount: Int
    public var crc32c: String
    public var overflowedToInfinity: Int
    public var flushedToZero: Int
    public var notes: [String]
}

/// What was written for one pack.
public struct PackWriteReport: Sendable, Codable, Equatable {
    public var path: String
    public var component: String
    public var fileByteCount: Int
    public var tensorCount: Int
    public var requestedType: String
    public var sources: [SourceEntry]
    public var tensors: [PackTensorReport]
    public var verified: Bool

    public struct SourceEntry: Sendable, Codable, Equatable {
        public var path: String
        public var byteCount: Int
        public var sha256: String
        public var sha256Origin: SourceDigestOrigin
    }
}

public enum PackWriter {
    /// Writes `plan` from `source` to `plan.outputPath` atomically: a temp file beside it, fsynced,
    /// re-opened and checked, then renamed. On any error (or Ctrl-C with
    /// `TemporaryFiles.removeOnInterrupt()` installed) the temp file is removed and an existing
    /// output is left untouched.
    public static func write(
        _ plan: PackPlan, from source: any TensorSource, options: PackWriteOptions = PackWriteOptions(),
        progress: ((PackProgress) -> Void)? = nil
    ) throws(TensorIOError) -> PackWriteReport {
        // Digests the hub recorded are taken as they are (also with hashing off: they cost nothing);
        // the rest are computed while writing (origin nil until then) or, with hashing off, "none".
        var plan = plan
        for i in plan.sourceFiles.indices where plan.sourceFiles[i].sha256.isEmpty {
            if let known = KnownSourceDigest.lookup(plan.sourceFileLocations[i]) {
                plan.sourceFiles[i].sha256 = known.digest
                plan.sourceFiles[i].sha256Origin = known.origin
            } else if !options.hashSources {
                plan.sourceFiles[i].sha256Origin = SourceDigestOrigin.none
            }
        }
        let layout = try plan.layout()
        let output = try AtomicFileWriter(destination: plan.outputPath, overwrite: options.overwrite)
        let known = Dictionary(zip(plan.sourceFileLocations, plan.sourceFiles).filter { $0.1.sha256Origin != nil }.map { ($0.0, $0.1.sha256) },
                               uniquingKeysWith: { first, _ in first })
        let hasher = options.hashSources ? StreamingSourceHasher(paths: plan.sourceFileLocations, known: known) : nil

        let writer = try GGUFStreamWriter(output: output, metadata: plan.metadata(), tensors: plan.declarations)
        let sink = ChecksummingSink(writer: writer, byteCounts: layout.byteCounts)
        let total = layout.byteCounts.reduce(0, +)
        sink.onProgress = { done, name in progress?(PackProgress(bytesDone: done, bytesTotal: total, tensorName: name)) }

        let outcome: Result<[PackTensorReport], TensorIOError> = StreamingSourceHasher.$current.withValue(hasher) {
            do throws(TensorIOError) { return .success(try writeTensors(plan, from: source, into: sink)) } catch { return .failure(error) }
        }
        let reports = try outcome.get()
        try writer.finish()
        try writer.patch(PackKeys.checksums, .array(.uint32(sink.checksums)))

        var sources = plan.sourceFiles
        if let hasher {
            let digests = try hasher.finish()
            for i in sources.indices where sources[i].sha256Origin == nil {
                sources[i].sha256 = digests[i]
                sources[i].sha256Origin = .computed
            }
            try writer.patch(PackKeys.sourceSHA256, .array(.string(sources.map(\.sha256))))
        }
        try output.synchronize()
        try check(output.temporaryPath, against: plan, checksums: sink.checksums, verifyData: options.verifyAfterWrite)
        try output.commit()
        return PackWriteReport(
            path: plan.outputPath, component: plan.component, fileByteCount: layout.fileByteCount, tensorCount: plan.tensors.count,
            requestedType: plan.requestedType,
            sources: sources.map { .init(path: $0.path, byteCount: $0.byteCount, sha256: $0.sha256, sha256Origin: $0.sha256Origin ?? .none) },
            tensors: reports, verified: options.verifyAfterWrite)
    }

    /// Streams every tensor of `plan` through its encoder into `sink`.
    static func writeTensors(_ plan: PackPlan, from source: any TensorSource, into sink: ChecksummingSink) throws(TensorIOError) -> [PackTensorReport] {
        var reports: [PackTensorReport] = []
        var firstOutput = 0
        for tensorPlan in plan.tensors {
            let view = try source.tensor(named: tensorPlan.record.originalName)
            guard view.shape == tensorPlan.record.shape, view.dtype == tensorPlan.record.sourceDType else {
                throw .malformed(path: plan.outputPath, message: "tensor '\(view.name)' is \(view.dtype.rawValue) \(view.shape), planned as \(tensorPlan.record.sourceDType.rawValue) \(tensorPlan.record.shape)")
            }
            sink.currentName = view.name
            let before = sink.bytesDone
            let stats = try tensorPlan.encoder.encode(view, plan: tensorPlan, into: sink)
            let expected = tensorPlan.outputByteCount
            guard sink.bytesDone - before == expected else {
                throw .malformed(path: plan.outputPath, message: "encoder for '\(view.name)' wrote \(sink.bytesDone - before) bytes, expected \(expected)")
            }
            reports.append(PackTensorReport(
                name: tensorPlan.record.originalName, ggufName: tensorPlan.record.ggufName, shape: tensorPlan.record.shape,
                sourceDType: tensorPlan.record.sourceDType.rawValue, storedType: tensorPlan.outputs[0].type.name,
                encoding: tensorPlan.record.encoding.rawValue, rule: tensorPlan.record.rule, byteCount: expected,
                crc32c: Hex.string(sink.checksums[firstOutput]), overflowedToInfinity: stats.overflowedToInfinity,
                flushedToZero: stats.flushedToZero, notes: tensorPlan.notes))
            firstOutput += tensorPlan.outputs.count
        }
        return reports
    }

    /// Re-opens the written file and checks that it is what was planned.
    static func check(_ path: String, against plan: PackPlan, checksums: [UInt32], verifyData: Bool) throws(TensorIOError) {
        let pack = try Pack(readingAt: path)
        guard pack.records == plan.records else {
            throw .malformed(path: path, message: "re-read records differ from the plan")
        }
        let declared = plan.declarations
        guard pack.gguf.tensors.count == declared.count else {
            throw .malformed(path: path, message: "re-read \(pack.gguf.tensors.count) tensors, planned \(declared.count)")
        }
        for (info, declaration) in zip(pack.gguf.tensors, declared) where info.name != declaration.name || info.type != declaration.type
            || info.shape != (declaration.shape.isEmpty ? [1] : declaration.shape) {
            throw .malformed(path: path, message: "re-read tensor '\(info.name)' \(info.type.name) \(info.shape) differs from the plan")
        }
        guard verifyData else { return }
        for (info, expected) in zip(pack.gguf.tensors, checksums) {
            let actual = PackChecker.crc(of: pack.gguf.data(of: info))
            guard actual == expected else {
                throw .io(path: path, message: "tensor '\(info.name)' reads back with CRC32C \(Hex.string(actual)), wrote \(Hex.string(expected))")
            }
        }
    }
}

/// Forwards encoder bytes to the GGUF writer, computing each GGUF tensor's CRC32C on the way.
final class ChecksummingSink: PackByteSink {
    let writer: GGUFStreamWriter
    let byteCounts: [Int]
    private(set) var checksums: [UInt32]
    private var index = 0
    private var remaining: Int
    private(set) var bytesDone = 0
    var currentName = ""
    var onProgress: ((Int, String) -> Void)?

    init(writer: GGUFStreamWriter, byteCounts: [Int]) {
        self.writer = writer
        self.byteCounts = byteCounts
        checksums = [UInt32](repeating: 0, count: byteCounts.count)
        remaining = byteCounts.first ?? 0
        skipEmpty()
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(TensorIOError) {
        var rest = bytes
        while !rest.isEmpty {
            guard index < byteCounts.count else { break }  // the writer reports the overrun
            let take = min(remaining, rest.count)
            checksums[index] = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: rest[0..<take]), continuing: checksums[index])
            remaining -= take
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            if remaining == 0 {
                index += 1
                remaining = index < byteCounts.count ? byteCounts[index] : 0
                skipEmpty()
            }
        }
        try writer.append(bytes)
        bytesDone += bytes.count
        onProgress?(bytesDone, currentName)
    }

    private func skipEmpty() {
        while index < byteCounts.count, byteCounts[index] == 0 {
            index += 1
            remaining = index < byteCounts.count ? byteCounts[index] : 0
        }
    }
}
