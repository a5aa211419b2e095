/// One safetensors file, memory-mapped. Opening reads and validates only the header; tensors are
/// zero-copy views into the mapping, so opening a 10 GB file costs one `mmap` and a JSON parse.
public struct SafetensorsFile: TensorSource {
    public let path: String
    public let header: SafetensorsHeader
    private let storage: any ByteStorage
    private let indexByName: [String: Int]

    /// Maps `path` and validates its header.
    public init(readingAt path: String) throws(TensorIOError) {
        try self.init(storage: try MappedFile(readingAt: path), path: path)
    }

    /// Validates a storage's header. Only the header's bytes are read (materialized first, so a
    /// lazily decoded archive decodes just that prefix).
    public init(storage: any ByteStorage, path: String) throws(TensorIOError) {
        let lengthBytes = try storage.materialize(0..<min(8, storage.byteCount))
        let claimed = lengthBytes.withUnsafeBytes { $0.count == 8 ? $0.loadUnaligned(as: UInt64.self).littleEndian : 0 }
        let prefixCount = claimed <= UInt64(SafetensorsHeader.maximumHeaderByteCount)
            ? min(storage.byteCount, 8 + Int(claimed)) : min(storage.byteCount, 8)
        let prefix = try storage.materialize(0..<prefixCount)
        let header = try prefix.withBytes { bytes throws(TensorIOError) in
            try SafetensorsHeader.parse(prefix: bytes, fileByteCount: storage.byteCount, path: path)
        }
        self.path = path
        self.storage = storage
        self.header = header
        var index: [String: Int] = [:]
        index.reserveCapacity(header.entries.count)
        for (i, entry) in header.entries.enumerated() { index[entry.name] = i }
        self.indexByName = index
    }

    // MARK: TensorSource

    public var formatName: String { "safetensors" }
    public var filePaths: [String] { [path] }
    public var tensorNames: [String] { header.entries.map(\.name) }
    public var metadata: [String: String] { header.metadata }

    public func contains(_ name: String) -> Bool { indexByName[name] != nil }

    public func info(named name: String) throws(TensorIOError) -> TensorInfo {
        let entry = try entry(named: name)
        return TensorInfo(name: entry.name, dtype: entry.dtype, shape: entry.shape, byteCount: entry.dataOffsets.count)
    }

    public func tensor(named name: String) throws(TensorIOError) -> TensorView {
        let entry = try entry(named: name)
        let start = header.dataStart
        // In bounds: the header validation proved dataOffsets lie inside the data section.
        let range = (start + entry.dataOffsets.lowerBound)..<(start + entry.dataOffsets.upperBound)
        return TensorView(name: entry.name, dtype: entry.dtype, shape: entry.shape,
                          data: ByteSlice(storage: storage, range: range))
    }

    /// Header entries in file order (dtype, shape and offsets, no data access).
    public var entries: [SafetensorsHeader.Entry] { header.entries }

    /// The mapping's byte range holding all tensor data (for sequential read-ahead hints).
    public var dataRange: Range<Int> { header.dataStart..<storage.byteCount }

    public var fileByteCount: Int { storage.byteCount }

    private func entry(named name: String) throws(TensorIOError) -> SafetensorsHeader.Entry {
        guard let index = indexByName[name] else { throw .missingTensor(path: path, name: name) }
        return header.entries[index]
    }
}
