/// A PyTorch checkpoint (`torch.save`: `.bin`, `.pt`, `.pth`, `.ckpt`) read without Python.
///
/// Both the zip format (torch >= 1.6) and the legacy stream format are read; nothing in the file
/// is executed or imported. Globals outside the allowlist are reported in `skippedObjects`; the
/// state dict is found under well-known keys and reported in `stateDictPrefix`.
public struct PyTorchCheckpoint: TensorSource {
    public struct Options: Sendable {
        /// The most one deflated zip entry may inflate to (stored entries are mapped, not copied).
        public var maximumInflatedByteCount: Int = 4 << 30
        /// The most bytes the object pickle may have.
        public var maximumPickleByteCount: Int = 1 << 30

        public init() {}
    }

    public let path: String
    public let formatName: String
    public var filePaths: [String] { [path] }
    public let tensorNames: [String]
    public let metadata: [String: String]
    /// Objects built from globals outside the allowlist, with their path in the pickle tree
    /// (`<root>` for the top level). They are never constructed.
    public let skippedObjects: [(path: String, global: String)]
    /// Where the state dict was found (`state_dict`, `model.module`, ...); nil at the top level.
    public let stateDictPrefix: String?

    private let entries: [String: Entry]
    private let storages: StorageTable

    struct Entry: Sendable {
        let view: StridedView
        let storage: StorageRecord
    }

    public init(readingAt path: String, options: Options = Options()) throws(TensorIOError) {
        try self.init(storage: try MappedFile(readingAt: path), path: path, options: options)
    }

    /// Reads a checkpoint held in any storage (tests and fuzzing use heap bytes).
    public init(storage: any ByteStorage, path: String, options: Options = Options()) throws(TensorIOError) {
        self.path = path
        let opened: (document: PickleDocument, storages: StorageTable, metadata: [String: String])
        if ZipArchive.looksLikeZip(storage) {
            opened = try Self.openZip(storage: storage, path: path, options: options)
            formatName = "pytorch-zip"
        } else if LegacyFormat.looksLikeTar(storage) {
            throw .unsupported(path: path, message: "this is the tar-based checkpoint format of torch < 0.4 (entries 'storages', 'tensors', 'pickle'); load and re-save it with a newer torch")
        } else if LegacyFormat.looksLikeLegacy(storage) {
            opened = try LegacyFormat.open(storage: storage, path: path, options: options)
            formatName = "pytorch-legacy"
        } else {
            throw .malformed(path: path, message: "not a PyTorch checkpoint: neither a zip archive nor a torch.save pickle stream")
        }
        let layout = try StateDictLayout(opened.document, path: path)
        let selected = try layout.stateDict(path: path)
        var entries: [String: Entry] = [:]
        for (name, record) in selected.tensors {
            let view = try StridedView(record, name: name, path: path)
            let available = try opened.storages.byteCount(of: record.storage, forTensor: name)
            let needed = try view.requiredStorageBytes(name: name, path: path)
            guard needed <= available else {
                throw .malformed(path: path, message: "tensor '\(name)': size \(record.shape) stride \(record.strides) offset \(record.storageOffset) x \(record.dtype.rawValue) needs \(needed) bytes of storage '\(record.storage.key)', which has \(available)")
            }
            entries[name] = Entry(view: view, storage: record.storage)
        }
        self.entries = entries
        storages = opened.storages
        tensorNames = selected.tensors.map(\.name)
        skippedObjects = layout.skipped
        stateDictPrefix = selected.prefix
        var metadata = opened.metadata
        metadata["format"] = formatName
        if let prefix = selected.prefix { metadata["state_dict_prefix"] = prefix }
        self.metadata = metadata
    }

    public func info(named name: String) throws(TensorIOError) -> TensorInfo {
        guard let entry = entries[name] else { throw .missingTensor(path: path, name: name) }
        return TensorInfo(name: name, dtype: entry.view.dtype, shape: entry.view.shape, byteCount: entry.view.byteCount)
    }

    /// The tensor's contiguous little-endian bytes: a slice of the file mapping for contiguous
    /// tensors in stored entries, a heap copy for strided views and deflated entries.
    public func tensor(named name: String) throws(TensorIOError) -> TensorView {
        guard let entry = entries[name] else { throw .missingTensor(path: path, name: name) }
        let storage = try storages.bytes(of: entry.storage, forTensor: name)
        return TensorView(name: name, dtype: entry.view.dtype, shape: entry.view.shape, data: entry.view.bytes(from: storage))
    }

    /// True when the tensor's bytes are a view of the file (no copy).
    public func isZeroCopy(named name: String) throws(TensorIOError) -> Bool {
        guard let entry = entries[name] else { throw .missingTensor(path: path, name: name) }
        return entry.view.isContiguous && storages.isMapped(entry.storage)
    }

    // MARK: Zip format

    private static func openZip(storage: any ByteStorage, path: String, options: Options) throws(TensorIOError)
        -> (document: PickleDocument, storages: StorageTable, metadata: [String: String])
    {
        let archive = try ZipArchive(storage: storage, path: path)
        // torch writes `<archive>/data.pkl`; the folder name is the file's stem or "archive".
        let candidates = archive.entries.filter {
            $0.name.hasSuffix("data.pkl") && ($0.name == "data.pkl" || $0.name.split(separator: "/").count == 2 && $0.name.hasSuffix("/data.pkl"))
        }
        guard let pickleEntry = candidates.first else {
            let isTorchScript = archive.entries.contains { $0.name.hasSuffix("/constants.pkl") }
            throw .malformed(path: path, message: isTorchScript
                ? "a TorchScript archive (constants.pkl, no data.pkl); export its state_dict with torch.save instead"
                : "zip archive has no '<folder>/data.pkl' entry; not a torch.save checkpoint")
        }
        guard candidates.count == 1 else {
            throw .malformed(path: path, message: "zip archive has \(candidates.count) data.pkl entries (\(candidates.map(\.name).joined(separator: ", "))); expected one")
        }
        let prefix = String(pickleEntry.name.dropLast("data.pkl".count))
        var metadata: [String: String] = ["archive": prefix.isEmpty ? "" : String(prefix.dropLast())]
        for record in ["byteorder", "version", ".data/version"] {
            guard let entry = archive.entry(named: prefix + record), entry.uncompressedByteCount <= 64 else { continue }
            let text = try archive.contents(of: entry, maximumInflatedByteCount: 64).copyBytes()
            metadata[record == ".data/version" ? "version" : record] = String(decoding: text, as: UTF8.self)
                .trimmed(of: " \n\r\t")
        }
        if let order = metadata["byteorder"], order != "little" {
            throw .unsupported(path: path, message: "byteorder record says '\(order.debugDescriptionTrimmed)'; only little-endian checkpoints are read")
        }
        guard pickleEntry.uncompressedByteCount <= options.maximumPickleByteCount else {
            throw .malformed(path: path, message: "'\(pickleEntry.name)' is \(pickleEntry.uncompressedByteCount) bytes, over the \(options.maximumPickleByteCount)-byte pickle limit")
        }
        let pickle = try archive.contents(of: pickleEntry, maximumInflatedByteCount: options.maximumPickleByteCount)
        let document = try Unpickler.load(pickle, name: pickleEntry.name, path: path, persistentIDStyle: .zip)
        let table = StorageTable.zip(archive: archive, dataFolder: prefix + "data/", maximumInflatedByteCount: options.maximumInflatedByteCount)
        return (document, table, metadata)
    }
}

extension String {
    func trimmed(of set: String) -> String {
        let characters = Set(set)
        return String(drop(while: characters.contains).reversed().drop(while: characters.contains).reversed())
    }
}
