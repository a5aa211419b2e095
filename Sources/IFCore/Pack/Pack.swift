/// One GGUF tensor of a pack: storage type, storage shape and zero-copy bytes.
public struct PackStoredTensor: Sendable {
    public let ggufName: String
    public let type: GGMLType
    /// Shape as stored in GGUF, PyTorch order (`ne` reversed).
    public let storageShape: [Int]
    public let data: ByteSlice
    /// The CRC32C recorded at write time (nil for foreign GGUF files).
    public let checksum: UInt32?
}

/// A logical tensor of a pack: its record plus the GGUF tensor(s) that hold it.
public struct PackTensor: Sendable {
    public let record: PackRecord
    public let stored: PackStoredTensor
    /// The per-row F32 scales of an `int8_rowwise` tensor.
    public let scaleTensor: PackStoredTensor?

    public var originalName: String { record.originalName }
    public var ggufName: String { stored.ggufName }
    public var type: GGMLType { stored.type }
    /// Logical shape, PyTorch order.
    public var shape: [Int] { record.shape }
    public var data: ByteSlice { stored.data }
    public var encoding: PackEncoding { record.encoding }
    public var checksum: UInt32? { stored.checksum }

    /// The [rows, rowLength] view to dequantize or use this tensor as a weight with; every reader
    /// takes it from here. Quantized: the stored GGUF tensor's own 2-D shape, which is how its
    /// bytes are laid out (the reader checks it is `PackStorage.rowView` of the logical shape, or
    /// the [n, 1] of a 1-D int8_rowwise tensor from older writers, see docs/FORMAT.md). Plain: the
    /// row view of the logical shape (the stored shape of a scalar or of more than 4 dimensions
    /// differs, the elements do not).
    public var rowView: (rows: Int, rowLength: Int) {
        record.encoding.isQuantized ? PackStorage.rowView(of: stored.storageShape) : record.rowView
    }

    /// A zero-copy view for plain tensors; nil for quantized encodings (dequantize those).
    public var view: TensorView? {
        guard record.encoding == .plain else { return nil }
        return TensorView(name: record.originalName, dtype: record.dtype, shape: record.shape, data: stored.data)
    }
}

/// A pack opened for reading: a validated GGUF file plus its records. Also opens GGUF files that
/// ifconvert did not write (records are then synthesized from the tensor infos, without checksums).
public final class Pack: TensorSource, Sendable {
    public let gguf: GGUFFile
    /// Records in pack order.
    public let records: [PackRecord]
    /// Whether the file carries ifconvert's `if.*` records.
    public let hasRecords: Bool
    private let recordIndex: [String: Int]
    private let checksumByGGUFName: [String: UInt32]

    /// Opens a pack, or a compressed pack (`*.gguf.zst` from `ifconvert compress`), which is
    /// read in place: only the header's and the touched tensors' frames are decompressed.
    public convenience init(readingAt path: String) throws(TensorIOError) {
        guard path.hasSuffix(".zst") else {
            try self.init(gguf: GGUFFile(readingAt: path))
            return
        }
        let archive: SeekableArchive
        do { archive = try SeekableArchive(readingAt: path) } catch {
            if case let .reading(inner) = error { throw inner }
            throw .malformed(path: path, message: error.detail)
        }
        try self.init(gguf: GGUFFile(storage: archive, path: path))
    }

    public init(gguf: GGUFFile) throws(TensorIOError) {
        self.gguf = gguf
        let parsed = try PackMetadataParser(gguf: gguf).parse()
        records = parsed.records
        hasRecords = parsed.hasRecords
        checksumByGGUFName = parsed.checksums
        var index: [String: Int] = [:]
        for (position, record) in parsed.records.enumerated() { index[record.originalName] = position }
        recordIndex = index
    }

    public var path: String { gguf.path }
    public var ggufMetadata: GGUFMetadata { gguf.metadata }

    /// The component this pack holds ("unet", "text_encoder"), when recorded.
    public var component: String? { gguf.metadata[PackKeys.component]?.stringValue }

    public func record(named originalName: String) -> PackRecord? {
        recordIndex[originalName].map { records[$0] }
    }

    /// The logical tensor with checkpoint name `originalName`.
    public func packTensor(named originalName: String) throws(TensorIOError) -> PackTensor {
        guard let position = recordIndex[originalName] else { throw .missingTensor(path: path, name: originalName) }
        return try packTensor(for: records[position])
    }

    public func packTensor(for record: PackRecord) throws(TensorIOError) -> PackTensor {
        let stored = try storedTensor(named: record.ggufName)
        let scale = try record.scaleGGUFName.map { name throws(TensorIOError) in try storedTensor(named: name) }
        return PackTensor(record: record, stored: stored, scaleTensor: scale)
    }

    public func storedTensor(named ggufName: String) throws(TensorIOError) -> PackStoredTensor {
        guard let info = gguf.tensorInfo(named: ggufName) else {
            throw .malformed(path: path, message: "record names GGUF tensor '\(ggufName)', which the file does not have")
        }
        return PackStoredTensor(ggufName: info.name, type: info.type, storageShape: info.shape,
                                data: gguf.data(of: info), checksum: checksumByGGUFName[info.name])
    }

    /// The recorded checksum of each GGUF tensor, by GGUF name (empty for foreign files).
    public var checksums: [String: UInt32] { checksumByGGUFName }

    /// The original name a GGUF tensor belongs to (scale tensors: their weight's name + ":scale").
    public func originalName(ofGGUFTensor ggufName: String) -> String? {
        for record in records {
            if record.ggufName == ggufName { return record.originalName }
            if record.scaleGGUFName == ggufName { return record.originalName + PackNaming.scaleSuffix }
        }
        return nil
    }

    // MARK: TensorSource

    public var formatName: String { "gguf" }
    public var filePaths: [String] { [gguf.path] }
    public var tensorNames: [String] { records.map(\.originalName) }

    public func info(named name: String) throws(TensorIOError) -> TensorInfo {
        guard let record = record(named: name) else { throw .missingTensor(path: path, name: name) }
        let byteCount = record.encoding == .plain
            ? record.elementCount * record.dtype.byteSize
            : (gguf.tensorInfo(named: record.ggufName)?.byteCount ?? 0)
        return TensorInfo(name: name, dtype: record.dtype, shape: record.shape, byteCount: byteCount)
    }

    /// Plain tensors as zero-copy views in their stored dtype. Quantized tensors throw
    /// `.unsupported`: read them with `packTensor(named:)` and dequantize.
    public func tensor(named name: String) throws(TensorIOError) -> TensorView {
        let tensor = try packTensor(named: name)
        guard let view = tensor.view else {
            throw .unsupported(path: path, message: "tensor '\(name)' is stored as \(tensor.encoding.rawValue); dequantize it through packTensor(named:)")
        }
        return view
    }

    /// String-valued metadata (other value types are left out).
    public var metadata: [String: String] {
        var result: [String: String] = [:]
        for (key, value) in gguf.metadata.entries {
            if let string = value.stringValue { result[key] = string }
        }
        return result
    }
}
