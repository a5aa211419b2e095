/// Where each storage's bytes live: zip entries `<archive>/data/<key>`, or byte ranges of the
/// legacy format's storage section.
enum StorageTable: Sendable {
    case zip(archive: ZipArchive, dataFolder: String, maximumInflatedByteCount: Int)
    case legacy(file: any ByteStorage, path: String, ranges: [String: Range<Int>])

    private func zipEntry(_ archive: ZipArchive, _ folder: String, _ storage: StorageRecord, _ tensor: String) throws(TensorIOError) -> ZipEntry {
        guard let entry = archive.entry(named: folder + storage.key) else {
            throw .malformed(path: archive.path, message: "tensor '\(tensor)' uses storage '\(storage.key.debugDescriptionTrimmed)' but the archive has no entry '\((folder + storage.key).debugDescriptionTrimmed)'")
        }
        return entry
    }

    /// The root range of a legacy storage, then the window a legacy storage view selects.
    private func legacyRange(_ ranges: [String: Range<Int>], _ path: String, _ storage: StorageRecord, _ tensor: String) throws(TensorIOError) -> Range<Int> {
        guard let root = ranges[storage.key] else {
            throw .malformed(path: path, message: "tensor '\(tensor)' uses storage '\(storage.key.debugDescriptionTrimmed)', which the storage section does not hold")
        }
        guard let view = storage.legacyView else { return root }
        let size = storage.elementSize ?? 1
        guard let start = CheckedMath.multiply(view.elementOffset, size), let count = CheckedMath.multiply(view.elementCount, size),
              let end = CheckedMath.add(start, count), end <= root.count else {
            throw .malformed(path: path, message: "tensor '\(tensor)': storage view \(view.viewKey) [\(view.elementOffset), +\(view.elementCount)) lies outside storage '\(storage.key)' of \(root.count / size) elements")
        }
        return (root.lowerBound + start)..<(root.lowerBound + end)
    }

    func byteCount(of storage: StorageRecord, forTensor tensor: String) throws(TensorIOError) -> Int {
        switch self {
        case let .zip(archive, folder, _):
            return try zipEntry(archive, folder, storage, tensor).uncompressedByteCount
        case let .legacy(_, path, ranges):
            return try legacyRange(ranges, path, storage, tensor).count
        }
    }

    func bytes(of storage: StorageRecord, forTensor tensor: String) throws(TensorIOError) -> ByteSlice {
        switch self {
        case let .zip(archive, folder, limit):
            return try archive.contents(of: try zipEntry(archive, folder, storage, tensor), maximumInflatedByteCount: limit)
        case let .legacy(file, path, ranges):
            return ByteSlice(storage: file, range: try legacyRange(ranges, path, storage, tensor))
        }
    }

    func isMapped(_ storage: StorageRecord) -> Bool {
        switch self {
        case let .zip(archive, folder, _): archive.entry(named: folder + storage.key)?.method == 0
        case .legacy: true
        }
    }
}
