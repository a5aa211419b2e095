/// The stream format torch.save wrote before 1.6 (and still writes with
/// `_use_new_zipfile_serialization=False`), as torch/serialization.py `_legacy_save` lays it out:
/// five pickles in a row (magic number, protocol version 1001, sys_info, the object, the list of
/// storage keys), then for each key in that list an int64 element count and the storage's raw bytes.
enum LegacyFormat {
    /// 0x1950a86a20f9469cfc6c as pickle's LONG1 bytes (little-endian two's complement).
    static let magicNumber: [UInt8] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]
    /// The same number as protocol 0/1 write it (text LONG), kept as its decimal digits.
    static let magicNumberDigits = Array("119547037146038801333356".utf8)
    static let protocolVersion = 1001

    /// Protocol 2+ starts with PROTO; protocol 1 writes the magic number as a text LONG.
    static func looksLikeLegacy(_ storage: any ByteStorage) -> Bool {
        guard storage.byteCount >= 2 else { return false }
        let first = storage.withUnsafeBytes(in: 0..<1) { $0[0] }
        return first == PickleOpcode.proto || first == PickleOpcode.long
    }

    /// torch < 0.4 wrote a tar archive; its header says "ustar" at offset 257.
    static func looksLikeTar(_ storage: any ByteStorage) -> Bool {
        storage.byteCount >= 512 && storage.withUnsafeBytes(in: 257..<262) { Array($0) } == Array("ustar".utf8)
    }

    static func open(storage: any ByteStorage, path: String, options: PyTorchCheckpoint.Options) throws(TensorIOError)
        -> (document: PickleDocument, storages: StorageTable, metadata: [String: String])
    {
        let whole = ByteSlice(storage: storage, range: 0..<storage.byteCount)
        let magic = try Unpickler.load(whole, name: "magic number pickle", path: path)
        guard magic.root == .bigInt(magicNumber) || magic.root == .bigInt(magicNumberDigits) else {
            throw .malformed(path: path, message: "starts with a pickle but not with torch.save's magic number (got \(magic.root.shortDescription)); not a PyTorch checkpoint")
        }
        let version = try Unpickler.load(whole, startingAt: magic.endOffset, name: "protocol version pickle", path: path)
        guard version.root == .int(protocolVersion) else {
            throw .unsupported(path: path, message: "legacy protocol version \(version.root.shortDescription); expected \(protocolVersion)")
        }
        let systemInfo = try Unpickler.load(whole, startingAt: version.endOffset, name: "sys_info pickle", path: path)
        if let info = systemInfo.dict(systemInfo.root), info.value(for: .string("little_endian")) == .bool(false) {
            throw .unsupported(path: path, message: "written on a big-endian machine (sys_info little_endian = False)")
        }
        let document = try Unpickler.load(whole, startingAt: systemInfo.endOffset, name: "object pickle", path: path,
                                          persistentIDStyle: .legacy)
        guard document.endOffset - systemInfo.endOffset <= options.maximumPickleByteCount else {
            throw .malformed(path: path, message: "object pickle is \(document.endOffset - systemInfo.endOffset) bytes, over the \(options.maximumPickleByteCount)-byte limit")
        }
        let keyList = try Unpickler.load(whole, startingAt: document.endOffset, name: "storage key pickle", path: path)
        guard let keyValues = keyList.items(keyList.root) else {
            throw .malformed(path: path, message: "storage key pickle holds \(keyList.root.shortDescription), not a list of keys")
        }

        // Element sizes come from the storage records of the object pickle.
        var records: [String: StorageRecord] = [:]
        for object in document.objects {
            if case .storage(let record) = object { records[record.key] = record }
        }
        var ranges: [String: Range<Int>] = [:]
        var offset = keyList.endOffset
        for value in keyValues {
            guard case .string(let key) = value else {
                throw .malformed(path: path, message: "storage key \(value.shortDescription) is not a string")
            }
            guard let record = records[key] else {
                throw .malformed(path: path, message: "storage section lists key '\(key.debugDescriptionTrimmed)', which no tensor in the object pickle uses")
            }
            guard let elementSize = record.elementSize else {
                throw .unsupported(path: path, message: "storage '\(key)' has type \(record.typeName), whose element size is unknown")
            }
            let range = try storage.withBytes(in: 0..<storage.byteCount) { bytes throws(TensorIOError) -> Range<Int> in
                var reader = ByteReader(bytes, offset: offset, path: path)
                let count = try reader.readInteger(Int64.self, "element count of storage '\(key)'")
                guard count >= 0, let byteCount = CheckedMath.multiply(Int(count), elementSize), byteCount <= reader.remaining else {
                    throw .malformed(path: path, message: "storage '\(key)' at offset \(offset) declares \(count) elements of \(elementSize) bytes, but only \(reader.remaining) bytes follow (truncated?)")
                }
                return reader.offset..<(reader.offset + byteCount)
            }
            guard ranges.updateValue(range, forKey: key) == nil else {
                throw .malformed(path: path, message: "storage key '\(key)' is listed twice")
            }
            offset = range.upperBound
        }
        return (document, .legacy(file: storage, path: path, ranges: ranges), ["protocol_version": String(protocolVersion)])
    }
}
