/// One file in a zip archive, as its central directory describes it.
struct ZipEntry: Sendable, Equatable {
    let name: String
    /// 0 = stored, 8 = deflated; anything else is refused when read.
    let method: UInt16
    let flags: UInt16
    let crc32: UInt32
    let compressedByteCount: Int
    let uncompressedByteCount: Int
    let localHeaderOffset: Int
}

/// A read-only zip archive over a mapping (APPNOTE 6.3: end of central directory, ZIP64 records,
/// central directory, local headers). Stored entries are handed out as slices of the mapping
/// (zero copy); deflated ones are inflated with a size cap. No entry is ever written to disk, but
/// names that would escape a folder are refused anyway: such an archive is not one torch wrote.
struct ZipArchive: Sendable {
    let storage: any ByteStorage
    let path: String
    let entries: [ZipEntry]
    private let indexByName: [String: Int]
    /// Start of the central directory: entry data must end before it.
    private let centralDirectoryOffset: Int

    private static let endOfCentralDirectorySignature: UInt32 = 0x0605_4b50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4b50
    private static let zip64EndSignature: UInt32 = 0x0606_4b50
    private static let centralHeaderSignature: UInt32 = 0x0201_4b50
    private static let localHeaderSignature: UInt32 = 0x0403_4b50
    private static let minimumCentralHeaderSize = 46

    /// True when `storage` starts like a zip archive (a local header or an empty archive).
    static func looksLikeZip(_ storage: any ByteStorage) -> Bool {
        guard storage.byteCount >= 4 else { return false }
        let magic = storage.withUnsafeBytes(in: 0..<4) { $0.loadUnaligned(as: UInt32.self) }
        return UInt32(littleEndian: magic) == localHeaderSignature
            || UInt32(littleEndian: magic) == endOfCentralDirectorySignature
    }

    init(storage: any ByteStorage, path: String) throws(TensorIOError) {
        self.storage = storage
        self.path = path
        let directory = try storage.withBytes(in: 0..<storage.byteCount) { bytes throws(TensorIOError) in
            try Self.readDirectory(bytes, path: path)
        }
        entries = directory.entries
        centralDirectoryOffset = directory.offset
        var index: [String: Int] = [:]
        for (position, entry) in entries.enumerated() {
            guard index.updateValue(position, forKey: entry.name) == nil else {
                throw .malformed(path: path, message: "zip entry '\(entry.name)' appears twice in the central directory")
            }
        }
        indexByName = index
    }

    func entry(named name: String) -> ZipEntry? {
        indexByName[name].map { entries[$0] }
    }

    // MARK: Central directory

    private static func readDirectory(_ bytes: UnsafeRawBufferPointer, path: String) throws(TensorIOError) -> (entries: [ZipEntry], offset: Int) {
        let eocd = try findEndOfCentralDirectory(bytes, path: path)
        var reader = ByteReader(bytes, offset: eocd + 4, path: path)
        let diskNumber = try reader.readInteger(UInt16.self, "disk number")
        let directoryDisk = try reader.readInteger(UInt16.self, "central directory disk")
        _ = try reader.readInteger(UInt16.self, "entries on this disk")
        var entryCount = Int(try reader.readInteger(UInt16.self, "entry count"))
        var directorySize = Int(try reader.readInteger(UInt32.self, "central directory size"))
        var directoryOffset = Int(try reader.readInteger(UInt32.self, "central directory offset"))

        // A ZIP64 locator sits right before the classic record when the archive needs 64-bit fields.
        if eocd >= 20, bytes.loadUnaligned(fromByteOffset: eocd - 20, as: UInt32.self).littleEndian == zip64LocatorSignature {
            var locator = ByteReader(bytes, offset: eocd - 16, path: path)
            _ = try locator.readInteger(UInt32.self, "ZIP64 locator disk")
            let recordOffset = try checkedOffset(try locator.readInteger(UInt64.self, "ZIP64 record offset"), "ZIP64 record offset", path)
            guard let recordEnd = CheckedMath.add(recordOffset, 56), recordEnd <= eocd - 20 else {
                throw .malformed(path: path, message: "ZIP64 end record offset \(recordOffset) is not before its locator at \(eocd - 20)")
            }
            var record = ByteReader(bytes, offset: recordOffset, path: path)
            guard try record.readInteger(UInt32.self, "ZIP64 end signature") == zip64EndSignature else {
                throw .malformed(path: path, message: "no ZIP64 end of central directory record at offset \(recordOffset)")
            }
            try record.skip(8 + 2 + 2 + 4 + 4 + 8, "ZIP64 end record header")
            entryCount = try checkedOffset(try record.readInteger(UInt64.self, "ZIP64 entry count"), "ZIP64 entry count", path)
            directorySize = try checkedOffset(try record.readInteger(UInt64.self, "ZIP64 directory size"), "ZIP64 directory size", path)
            directoryOffset = try checkedOffset(try record.readInteger(UInt64.self, "ZIP64 directory offset"), "ZIP64 directory offset", path)
        } else if diskNumber != 0 || directoryDisk != 0 {
            throw .unsupported(path: path, message: "multi-disk (spanned) zip archive (disk \(diskNumber))")
        }

        guard let directoryEnd = CheckedMath.add(directoryOffset, directorySize), directoryEnd <= eocd else {
            throw .malformed(path: path, message: "central directory [\(directoryOffset), +\(directorySize)) runs past its end record at \(eocd) (truncated archive?)")
        }
        guard entryCount <= directorySize / minimumCentralHeaderSize else {
            throw .malformed(path: path, message: "zip declares \(entryCount) entries but its \(directorySize)-byte central directory holds at most \(directorySize / minimumCentralHeaderSize)")
        }
        let directory = UnsafeRawBufferPointer(rebasing: bytes[directoryOffset..<directoryEnd])
        var cursor = ByteReader(directory, path: path)
        var entries: [ZipEntry] = []
        entries.reserveCapacity(entryCount)
        for ordinal in 0..<entryCount {
            entries.append(try readCentralHeader(&cursor, ordinal: ordinal, path: path))
        }
        return (entries, directoryOffset)
    }

    private static func findEndOfCentralDirectory(_ bytes: UnsafeRawBufferPointer, path: String) throws(TensorIOError) -> Int {
        let fixedSize = 22
        guard bytes.count >= fixedSize else {
            throw .malformed(path: path, message: "\(bytes.count) bytes is too short for a zip archive (truncated?)")
        }
        let lowest = max(0, bytes.count - fixedSize - 0xFFFF)
        var offset = bytes.count - fixedSize
        while offset >= lowest {
            if bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian == endOfCentralDirectorySignature {
                let commentLength = Int(bytes.loadUnaligned(fromByteOffset: offset + 20, as: UInt16.self).littleEndian)
                if offset + fixedSize + commentLength <= bytes.count { return offset }
            }
            offset -= 1
        }
        throw .malformed(path: path, message: "no zip end-of-central-directory record in the last \(bytes.count - lowest) bytes (truncated archive?)")
    }

    private static func readCentralHeader(_ reader: inout ByteReader, ordinal: Int, path: String) throws(TensorIOError) -> ZipEntry {
        let start = reader.offset
        guard try reader.readInteger(UInt32.self, "central header signature") == centralHeaderSignature else {
            throw .malformed(path: path, message: "central directory entry \(ordinal) at directory offset \(start) has a bad signature")
        }
        try reader.skip(4, "versions")
        let flags = try reader.readInteger(UInt16.self, "flags")
        let method = try reader.readInteger(UInt16.self, "compression method")
        try reader.skip(4, "modification time")
        let crc = try reader.readInteger(UInt32.self, "CRC-32")
        var compressed = UInt64(try reader.readInteger(UInt32.self, "compressed size"))
        var uncompressed = UInt64(try reader.readInteger(UInt32.self, "uncompressed size"))
        let nameLength = Int(try reader.readInteger(UInt16.self, "name length"))
        let extraLength = Int(try reader.readInteger(UInt16.self, "extra length"))
        let commentLength = Int(try reader.readInteger(UInt16.self, "comment length"))
        try reader.skip(2 + 2 + 4, "disk and attributes")
        var localOffset = UInt64(try reader.readInteger(UInt32.self, "local header offset"))
        let nameBytes = try reader.readBytes(nameLength, "entry name")
        let name = try validatedName(nameBytes, path: path)
        let extra = try reader.readBytes(extraLength, "extra field")
        try reader.skip(commentLength, "entry comment")

        // ZIP64 extended information: only the fields saturated in the header are present, in this order.
        var fields = ByteReader(extra, path: path)
        while fields.remaining >= 4 {
            let id = try fields.readInteger(UInt16.self, "extra field id")
            let size = Int(try fields.readInteger(UInt16.self, "extra field size"))
            var field = ByteReader(try fields.readBytes(size, "extra field of '\(name)'"), path: path)
            guard id == 0x0001 else { continue }
            if uncompressed == 0xFFFF_FFFF { uncompressed = try field.readInteger(UInt64.self, "ZIP64 uncompressed size of '\(name)'") }
            if compressed == 0xFFFF_FFFF { compressed = try field.readInteger(UInt64.self, "ZIP64 compressed size of '\(name)'") }
            if localOffset == 0xFFFF_FFFF { localOffset = try field.readInteger(UInt64.self, "ZIP64 local header offset of '\(name)'") }
        }
        return ZipEntry(
            name: name, method: method, flags: flags, crc32: crc,
            compressedByteCount: try checkedOffset(compressed, "compressed size of '\(name)'", path),
            uncompressedByteCount: try checkedOffset(uncompressed, "uncompressed size of '\(name)'", path),
            localHeaderOffset: try checkedOffset(localOffset, "local header offset of '\(name)'", path))
    }

    /// Entry names are relative paths with no `..`, no leading `/`, no backslashes or NULs.
    private static func validatedName(_ raw: UnsafeRawBufferPointer, path: String) throws(TensorIOError) -> String {
        let name = String(decoding: raw, as: UTF8.self)
        let components = name.split(separator: "/", omittingEmptySubsequences: false)
        let escapes = name.isEmpty || name.hasPrefix("/") || name.contains("\\") || name.contains("\0")
            || components.contains("..") || (name.count >= 2 && name.dropFirst().first == ":")
        if escapes {
            throw .malformed(path: path, message: "zip entry name '\(name.debugDescriptionTrimmed)' escapes the archive folder (path traversal); refusing the file")
        }
        return name
    }

    private static func checkedOffset(_ value: UInt64, _ what: String, _ path: String) throws(TensorIOError) -> Int {
        guard value <= UInt64(Int.max / 2) else {
            throw .malformed(path: path, message: "\(what) is \(value), absurdly large")
        }
        return Int(value)
    }

    // MARK: Entry data

    /// Byte range of the entry's (possibly compressed) data, found through its local header.
    func dataRange(of entry: ZipEntry) throws(TensorIOError) -> Range<Int> {
        let start = try storage.withBytes(in: 0..<storage.byteCount) { bytes throws(TensorIOError) -> Int in
            var reader = ByteReader(bytes, offset: 0, path: path)
            try reader.seek(to: min(entry.localHeaderOffset, bytes.count))
            guard try reader.readInteger(UInt32.self, "local header of '\(entry.name)'") == Self.localHeaderSignature else {
                throw .malformed(path: path, message: "zip entry '\(entry.name)': no local header at offset \(entry.localHeaderOffset)")
            }
            try reader.skip(22, "local header of '\(entry.name)'")
            let nameLength = Int(try reader.readInteger(UInt16.self, "local name length"))
            let extraLength = Int(try reader.readInteger(UInt16.self, "local extra length"))
            let localName = try reader.readBytes(nameLength, "local name of '\(entry.name)'")
            guard localName.elementsEqual(entry.name.utf8) else {
                throw .malformed(path: path, message: "zip entry '\(entry.name)': local header names it '\(String(decoding: localName, as: UTF8.self))'")
            }
            try reader.skip(extraLength, "local extra field of '\(entry.name)'")
            return reader.offset
        }
        guard let end = CheckedMath.add(start, entry.compressedByteCount), end <= centralDirectoryOffset else {
            throw .malformed(path: path, message: "zip entry '\(entry.name)': \(entry.compressedByteCount) bytes from offset \(start) run past the data area (ends at \(centralDirectoryOffset)); truncated archive?")
        }
        return start..<end
    }

    /// The entry's uncompressed bytes: a slice of the mapping when stored, a heap buffer when deflated.
    /// `maximumInflatedByteCount` caps what a deflated entry may expand to.
    func contents(of entry: ZipEntry, maximumInflatedByteCount: Int) throws(TensorIOError) -> ByteSlice {
        if entry.flags & 1 != 0 {
            throw .unsupported(path: path, message: "zip entry '\(entry.name)' is encrypted")
        }
        let range = try dataRange(of: entry)
        switch entry.method {
        case 0:
            guard entry.compressedByteCount == entry.uncompressedByteCount else {
                throw .malformed(path: path, message: "stored zip entry '\(entry.name)' has compressed size \(entry.compressedByteCount) but uncompressed size \(entry.uncompressedByteCount)")
            }
            return ByteSlice(storage: storage, range: range)
        case 8:
            guard entry.uncompressedByteCount <= maximumInflatedByteCount else {
                throw .malformed(path: path, message: "deflated zip entry '\(entry.name)' declares \(entry.uncompressedByteCount) bytes, over the \(maximumInflatedByteCount)-byte limit for inflating")
            }
            guard entry.uncompressedByteCount / Inflate.maximumRatio <= entry.compressedByteCount + 1 else {
                throw .malformed(path: path, message: "deflated zip entry '\(entry.name)' declares \(entry.uncompressedByteCount) bytes from \(entry.compressedByteCount) compressed, beyond what deflate can encode (deflate bomb?)")
            }
            let inflated = try storage.withBytes(in: range) { compressed throws(TensorIOError) in
                try Inflate.inflateRaw(compressed, expectedByteCount: entry.uncompressedByteCount, expectedCRC32: entry.crc32,
                                       describing: "zip entry '\(entry.name)'", path: path)
            }
            return ByteSlice(storage: HeapStorage(inflated, description: "\(path):\(entry.name) (inflated)"), range: 0..<inflated.count)
        default:
            throw .unsupported(path: path, message: "zip entry '\(entry.name)' uses compression method \(entry.method); only stored (0) and deflate (8) are read")
        }
    }
}

extension String {
    /// For error messages: control characters escaped, at most 120 characters.
    var debugDescriptionTrimmed: String {
        let escaped = unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
        return escaped.count > 120 ? String(escaped.prefix(120)) + "..." : escaped
    }
}
