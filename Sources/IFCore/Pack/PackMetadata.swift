/// Component files carried inside a pack so that it is self-contained for the runner.
public struct PackAttachments: Sendable, Equatable {
    public var component: String
    /// The component's config.json, verbatim.
    public var configJSON: String?
    public var modelIndexJSON: String?
    /// (folder name, scheduler_config.json text), e.g. ("scheduler", ...), ("image_noising_scheduler", ...).
    public var schedulers: [(name: String, json: String)]
    /// tokenizer/spiece.model bytes (text encoder packs).
    public var spieceModel: [UInt8]?
    public var tokenizerConfigJSON: String?
    public var specialTokensMapJSON: String?

    public init(component: String, configJSON: String? = nil, modelIndexJSON: String? = nil,
                schedulers: [(name: String, json: String)] = [], spieceModel: [UInt8]? = nil,
                tokenizerConfigJSON: String? = nil, specialTokensMapJSON: String? = nil) {
        self.component = component
        self.configJSON = configJSON
        self.modelIndexJSON = modelIndexJSON
        self.schedulers = schedulers
        self.spieceModel = spieceModel
        self.tokenizerConfigJSON = tokenizerConfigJSON
        self.specialTokensMapJSON = specialTokensMapJSON
    }

    public static func == (lhs: PackAttachments, rhs: PackAttachments) -> Bool {
        lhs.component == rhs.component && lhs.configJSON == rhs.configJSON && lhs.modelIndexJSON == rhs.modelIndexJSON
            && lhs.schedulers.map(\.name) == rhs.schedulers.map(\.name) && lhs.schedulers.map(\.json) == rhs.schedulers.map(\.json)
            && lhs.spieceModel == rhs.spieceModel && lhs.tokenizerConfigJSON == rhs.tokenizerConfigJSON
            && lhs.specialTokensMapJSON == rhs.specialTokensMapJSON
    }

    /// Reads the attachments back from pack metadata.
    public init(metadata: GGUFMetadata) {
        component = metadata[PackKeys.component]?.stringValue ?? ""
        configJSON = metadata[PackKeys.configJSON]?.stringValue
        modelIndexJSON = metadata[PackKeys.modelIndexJSON]?.stringValue
        if case let .string(names)? = metadata[PackKeys.schedulerNames]?.arrayValue,
           case let .string(jsons)? = metadata[PackKeys.schedulerConfigJSONs]?.arrayValue, names.count == jsons.count {
            schedulers = zip(names, jsons).map { ($0, $1) }
        } else {
            schedulers = []
        }
        if case let .uint8(bytes)? = metadata[PackKeys.spieceModel]?.arrayValue { spieceModel = bytes } else { spieceModel = nil }
        tokenizerConfigJSON = metadata[PackKeys.tokenizerConfigJSON]?.stringValue
        specialTokensMapJSON = metadata[PackKeys.specialTokensMapJSON]?.stringValue
    }
}

/// One source file of a conversion, for provenance.
public struct PackSourceFile: Sendable, Equatable {
    /// Path as given (relative to the converted folder when one was given).
    public var path: String
    public var byteCount: Int
    /// Lower-case hex SHA-256 ("" when not hashed).
    public var sha256: String
    /// Where `sha256` comes from (nil: to be computed while writing).
    public var sha256Origin: SourceDigestOrigin?

    public init(path: String, byteCount: Int, sha256: String, sha256Origin: SourceDigestOrigin? = nil) {
        self.path = path
        self.byteCount = byteCount
        self.sha256 = sha256
        self.sha256Origin = sha256Origin
    }
}

enum PackMetadataBuilder {
    /// A placeholder with the encoded size of a SHA-256 hex string.
    static let sha256Placeholder = String(repeating: "0", count: 64)

    /// The full metadata of a pack. Checksums and the hashes of sources without a digest or origin are
    /// placeholders of final size; the writer patches them when the data is written.
    static func metadata(
        records: [PackRecord], tensorCount: Int, attachments: PackAttachments, sources: [PackSourceFile],
        requestedType: String, name: String
    ) -> GGUFMetadata {
        var m = GGUFMetadata()
        m.set(PackKeys.architecture, .string(PackKeys.architectureValue))
        m.set(PackKeys.name, .string(name))
        m.set(PackKeys.alignment, .uint32(UInt32(GGUFLimits.defaultAlignment)))
        m.set(PackKeys.packVersion, .uint32(PackKeys.currentPackVersion))
        m.set(PackKeys.component, .string(attachments.component))
        if let json = attachments.configJSON { m.set(PackKeys.configJSON, .string(json)) }
        if let json = attachments.modelIndexJSON { m.set(PackKeys.modelIndexJSON, .string(json)) }
        if !attachments.schedulers.isEmpty {
            m.set(PackKeys.schedulerNames, .array(.string(attachments.schedulers.map(\.name))))
            m.set(PackKeys.schedulerConfigJSONs, .array(.string(attachments.schedulers.map(\.json))))
        }
        if let bytes = attachments.spieceModel { m.set(PackKeys.spieceModel, .array(.uint8(bytes))) }
        if let json = attachments.tokenizerConfigJSON { m.set(PackKeys.tokenizerConfigJSON, .string(json)) }
        if let json = attachments.specialTokensMapJSON { m.set(PackKeys.specialTokensMapJSON, .string(json)) }

        m.set(PackKeys.tool, .string("ifconvert \(IFConvertVersion.string)"))
        m.set(PackKeys.requestedType, .string(requestedType))
        m.set(PackKeys.sourceFiles, .array(.string(sources.map(\.path))))
        m.set(PackKeys.sourceByteCounts, .array(.uint64(sources.map { UInt64($0.byteCount) })))
        m.set(PackKeys.sourceSHA256, .array(.string(sources.map { $0.sha256.isEmpty && $0.sha256Origin == nil ? sha256Placeholder : $0.sha256 })))
        m.set(PackKeys.sourceSHA256Origins, .array(.string(sources.map {
            ($0.sha256Origin ?? .computed).rawValue
        })))

        m.set(PackKeys.tensorNames, .array(.string(records.map(\.originalName))))
        m.set(PackKeys.tensorGGUFNames, .array(.string(records.map(\.ggufName))))
        m.set(PackKeys.tensorShapes, .array(.string(records.map { PackStorage.shapeString($0.shape) })))
        m.set(PackKeys.tensorDTypes, .array(.string(records.map(\.dtype.rawValue))))
        m.set(PackKeys.tensorSourceDTypes, .array(.string(records.map(\.sourceDType.rawValue))))
        m.set(PackKeys.tensorEncodings, .array(.string(records.map(\.encoding.rawValue))))
        m.set(PackKeys.tensorRules, .array(.string(records.map(\.rule))))
        m.set(PackKeys.tensorScaleGGUFNames, .array(.string(records.map { $0.scaleGGUFName ?? "" })))
        m.set(PackKeys.checksumAlgorithm, .string(PackKeys.checksumAlgorithmValue))
        m.set(PackKeys.checksums, .array(.uint32([UInt32](repeating: 0, count: tensorCount))))
        return m
    }
}

/// Reads and cross-checks the `if.tensor.*` records against the GGUF tensor infos.
struct PackMetadataParser {
    let gguf: GGUFFile

    struct Result {
        var records: [PackRecord]
        var hasRecords: Bool
        var checksums: [String: UInt32]
    }

    private func fail(_ message: String) -> TensorIOError { .malformed(path: gguf.path, message: message) }

    private func strings(_ key: String, count: Int?) throws(TensorIOError) -> [String] {
        guard let value = gguf.metadata[key] else { throw fail("pack metadata lacks '\(key)'") }
        guard case let .string(values)? = value.arrayValue else { throw fail("'\(key)' is \(value.type), expected an array of strings") }
        if let count, values.count != count { throw fail("'\(key)' has \(values.count) entries, expected \(count) (one per record)") }
        return values
    }

    func parse() throws(TensorIOError) -> Result {
        guard gguf.metadata.contains(PackKeys.tensorNames) else { return try synthesized() }
        if let version = gguf.metadata[PackKeys.packVersion]?.intValue, version > Int(PackKeys.currentPackVersion) {
            throw .unsupported(path: gguf.path, message: "pack version \(version) (this ifconvert reads up to \(PackKeys.currentPackVersion))")
        }
        let names = try strings(PackKeys.tensorNames, count: nil)
        let n = names.count
        let ggufNames = try strings(PackKeys.tensorGGUFNames, count: n)
        let shapes = try strings(PackKeys.tensorShapes, count: n)
        let dtypes = try strings(PackKeys.tensorDTypes, count: n)
        let sourceDTypes = try strings(PackKeys.tensorSourceDTypes, count: n)
        let encodings = try strings(PackKeys.tensorEncodings, count: n)
        let rules = try strings(PackKeys.tensorRules, count: n)
        let scales = try strings(PackKeys.tensorScaleGGUFNames, count: n)

        var records: [PackRecord] = []
        var seen = Set<String>()
        var claimed = Set<String>()
        for i in 0..<n {
            let name = names[i]
            guard seen.insert(name).inserted else { throw fail("record \(i): duplicate tensor name '\(name)'") }
            guard let shape = PackStorage.parseShape(shapes[i]) else { throw fail("tensor '\(name)': shape '\(shapes[i])' is not [d0,d1,...]") }
            guard let dtype = DType(rawValue: dtypes[i]), let sourceDType = DType(rawValue: sourceDTypes[i]) else {
                throw fail("tensor '\(name)': unknown dtype '\(dtypes[i])' or source dtype '\(sourceDTypes[i])'")
            }
            guard let encoding = PackEncoding(rawValue: encodings[i]) else {
                throw .unsupported(path: gguf.path, message: "tensor '\(name)' has encoding '\(encodings[i])' (known: \(PackEncoding.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            let record = PackRecord(originalName: name, ggufName: ggufNames[i], shape: shape, dtype: dtype, sourceDType: sourceDType,
                                    encoding: encoding, rule: rules[i], scaleGGUFName: scales[i].isEmpty ? nil : scales[i])
            try validate(record)
            for claimedName in [record.ggufName] + (record.scaleGGUFName.map { [$0] } ?? []) {
                guard claimed.insert(claimedName).inserted else { throw fail("GGUF tensor '\(claimedName)' is claimed by two records") }
            }
            records.append(record)
        }
        for info in gguf.tensors where !claimed.contains(info.name) {
            throw fail("GGUF tensor '\(info.name)' has no record in '\(PackKeys.tensorNames)'")
        }

        var checksums: [String: UInt32] = [:]
        if let value = gguf.metadata[PackKeys.checksums] {
            guard case let .uint32(values)? = value.arrayValue, values.count == gguf.tensors.count else {
                throw fail("'\(PackKeys.checksums)' must be an array of \(gguf.tensors.count) uint32 (one per GGUF tensor)")
            }
            for (info, value) in zip(gguf.tensors, values) { checksums[info.name] = value }
        }
        return Result(records: records, hasRecords: true, checksums: checksums)
    }

    private func validate(_ record: PackRecord) throws(TensorIOError) {
        let name = record.originalName
        guard let info = gguf.tensorInfo(named: record.ggufName) else {
            throw fail("tensor '\(name)': GGUF tensor '\(record.ggufName)' is missing")
        }
        guard let elements = CheckedMath.product(record.shape), elements == info.elementCount else {
            throw fail("tensor '\(name)': shape \(record.shape) does not match GGUF tensor '\(info.name)' \(info.shape)")
        }
        if record.encoding.isQuantized {
            // Readers take the row view from the stored shape (`PackTensor.rowView`), so it must be
            // the one quantization used: the canonical view, or the [n, 1] (n rows of one, n scales)
            // that `PackTensorPlan.quantized` gave a 1-D int8_rowwise tensor before the row view was
            // unified (docs/FORMAT.md).
            let canonical = PackStorage.storageShape(for: record.shape, encoding: record.encoding)
            let legacy = record.encoding == .int8Rowwise && record.shape.count == 1 && info.shape == [record.shape[0], 1]
            guard info.shape == canonical || legacy else {
                throw fail("tensor '\(name)': \(record.encoding.rawValue) GGUF tensor '\(info.name)' is stored as \(info.shape), expected the row view \(canonical) of shape \(record.shape)")
            }
        }
        switch record.encoding {
        case .plain:
            guard PackStorage.ggmlType(holding: record.dtype) == info.type else {
                throw fail("tensor '\(name)': dtype \(record.dtype.rawValue) cannot be stored as GGUF \(info.type.name)")
            }
            guard record.scaleGGUFName == nil else { throw fail("tensor '\(name)': plain tensor with a scale tensor") }
        case .int8Rowwise:
            guard info.type == .i8, info.shape.count == 2 else { throw fail("tensor '\(name)': int8_rowwise needs a 2-D GGUF I8 tensor, found \(info.type.name) \(info.shape)") }
            guard let scaleName = record.scaleGGUFName, let scale = gguf.tensorInfo(named: scaleName) else {
                throw fail("tensor '\(name)': int8_rowwise without its scale tensor")
            }
            guard scale.type == .f32, scale.elementCount == info.shape[0] else {
                throw fail("tensor '\(name)': scale tensor '\(scaleName)' is \(scale.type.name) \(scale.shape), expected f32 [\(info.shape[0])]")
            }
        case .q8_0, .q4_0, .q4_k:
            let expected: GGMLType = record.encoding == .q8_0 ? .q8_0 : record.encoding == .q4_0 ? .q4_0 : .q4_k
            guard info.type == expected else { throw fail("tensor '\(name)': encoding \(record.encoding.rawValue) stored as GGUF \(info.type.name)") }
        }
    }

    /// Records for a GGUF file ifconvert did not write: names and shapes as stored.
    private func synthesized() throws(TensorIOError) -> Result {
        var records: [PackRecord] = []
        for info in gguf.tensors {
            let dtype = PackStorage.dtype(of: info.type)
            let encoding: PackEncoding = switch info.type {
            case .q8_0: .q8_0
            case .q4_0: .q4_0
            case .q4_k: .q4_k
            default: .plain
            }
            records.append(PackRecord(originalName: info.name, ggufName: info.name, shape: info.shape, dtype: dtype ?? .f32,
                                      sourceDType: dtype ?? .f32, encoding: encoding, rule: "as stored (foreign GGUF)"))
        }
        return Result(records: records, hasRecords: false, checksums: [:])
    }
}
