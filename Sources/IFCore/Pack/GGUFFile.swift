/// A GGUF tensor as the container describes it: name, storage type, `ne` in ggml order
/// (innermost first) and where its bytes lie.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    public let type: GGMLType
    /// ggml order: `ne[0]` is the innermost (contiguous) dimension.
    public let ne: [Int]
    /// Offset relative to the start of the data section.
    public let dataOffset: Int
    public let byteCount: Int

    /// Row-major shape, outermost first (PyTorch order): `ne` reversed.
    public var shape: [Int] { ne.reversed() }
    public var elementCount: Int { ne.reduce(1, *) }
}

/// Limits shared by reader and writer (ggml's `GGML_MAX_NAME` and `GGML_MAX_DIMS`).
public enum GGUFLimits {
    /// ggml stores names in a 64-byte buffer with a terminator.
    public static let maxNameByteCount = 63
    public static let maxDimensions = 4
    public static let defaultAlignment = 32
    static let magic: [UInt8] = Array("GGUF".utf8)
    /// Nesting depth of arrays the reader accepts (guards recursion on hostile input).
    static let maxArrayDepth = 4
}

/// A memory-mapped GGUF v2/v3 file: validated header, metadata and tensor infos; tensor bytes are
/// zero-copy slices of the mapping.
public final class GGUFFile: Sendable {
    public let path: String
    public let version: UInt32
    public let metadata: GGUFMetadata
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Absolute file offset of the data section.
    public let dataSectionOffset: Int
    /// The file's bytes: a mapping, or a lazily decoded archive (`SeekableArchive`).
    public let file: any ByteStorage
    private let indexByName: [String: Int]

    public convenience init(readingAt path: String) throws(TensorIOError) {
        try self.init(file: MappedFile(readingAt: path))
    }

    public convenience init(file: MappedFile) throws(TensorIOError) {
        try self.init(storage: file, path: file.path)
    }

    /// Parses the header of `storage`. A mapping is parsed in place; a lazy storage decodes a
    /// prefix that grows until the header fits, so a compressed pack decodes only its header.
    public init(storage: any ByteStorage, path: String) throws(TensorIOError) {
        self.file = storage
        self.path = path
        var prefixCount = storage is MappedFile ? storage.byteCount : min(storage.byteCount, 64 << 10)
        var parsed: GGUFParser.Result?
        while parsed == nil {
            let prefix = try storage.materialize(0..<prefixCount)
            var failure: TensorIOError?
            prefix.withUnsafeBytes { raw in
                do throws(TensorIOError) {
                    var parser = GGUFParser(reader: ByteReader(raw, path: path), fileByteCount: storage.byteCount)
                    parsed = try parser.parse()
                } catch { failure = error }
            }
            if let failure {
                // A prefix too short for the header fails somewhere inside it: retry with more.
                guard prefixCount < storage.byteCount else { throw failure }
                prefixCount = min(storage.byteCount, prefixCount * 4)
            }
        }
        guard let parsed else { throw .malformed(path: path, message: "could not parse GGUF header") }
        version = parsed.version
        metadata = parsed.metadata
        tensors = parsed.tensors
        alignment = parsed.alignment
        dataSectionOffset = parsed.dataSectionOffset
        var index: [String: Int] = [:]
        for (position, info) in parsed.tensors.enumerated() { index[info.name] = position }
        indexByName = index
    }

    public func tensorInfo(named name: String) -> GGUFTensorInfo? {
        indexByName[name].map { tensors[$0] }
    }

    /// The bytes of `info` inside the mapping (zero-copy).
    public func data(of info: GGUFTensorInfo) -> ByteSlice {
        let start = dataSectionOffset + info.dataOffset
        return ByteSlice(storage: file, range: start..<(start + info.byteCount))
    }
}

/// Strict, overflow-checked parser of the GGUF header (what ggml's gguf.cpp checks, plus bounds).
struct GGUFParser {
    struct Result {
        var version: UInt32
        var metadata: GGUFMetadata
        var tensors: [GGUFTensorInfo]
        var alignment: Int
        var dataSectionOffset: Int
    }

    var reader: ByteReader
    /// The whole file's size (the reader may hold only a prefix of it).
    var fileByteCount: Int
    var path: String { reader.path }

    init(reader: ByteReader, fileByteCount: Int? = nil) {
        self.reader = reader
        self.fileByteCount = fileByteCount ?? reader.bytes.count
    }

    private func fail(_ message: String) -> TensorIOError { .malformed(path: path, message: message) }

    mutating func parse() throws(TensorIOError) -> Result {
        guard reader.bytes.count >= 4 else { throw fail("not a GGUF file: \(reader.bytes.count) bytes, too short for the magic") }
        let magic = Array(try reader.readBytes(4, "magic"))
        guard magic == GGUFLimits.magic else {
            throw fail("not a GGUF file: magic \(Hex.string(magic)) (expected 47475546 'GGUF')")
        }
        let version = try reader.readInteger(UInt32.self, "version")
        if version & 0xFFFF == 0, version != 0 {
            throw .unsupported(path: path, message: "big-endian GGUF (version field \(version.byteSwapped) byte-swapped)")
        }
        guard version == 2 || version == 3 else {
            throw .unsupported(path: path, message: "GGUF version \(version) (expected 2 or 3)")
        }
        let tensorCount = try count(reader.readInteger(UInt64.self, "tensor count"), minimumBytesEach: 8 + 4 + 4 + 8, "tensor count")
        let kvCount = try count(reader.readInteger(UInt64.self, "metadata count"), minimumBytesEach: 8 + 4, "metadata key/value count")

        var metadata = GGUFMetadata()
        for entry in 0..<kvCount {
            let key = try readString("key of metadata entry \(entry)")
            guard !key.isEmpty else { throw fail("metadata entry \(entry) has an empty key") }
            guard !metadata.contains(key) else { throw fail("duplicate metadata key '\(key)'") }
            let rawType = try reader.readInteger(UInt32.self, "type of '\(key)'")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw fail("metadata '\(key)' has value type \(rawType) (expected 0...12)")
            }
            metadata.set(key, try readValue(type, key: key, depth: 0))
        }

        var alignment = GGUFLimits.defaultAlignment
        if let value = metadata["general.alignment"] {
            guard case let .uint32(raw) = value else {
                throw fail("general.alignment has type \(value.type) (expected uint32)")
            }
            guard raw > 0, raw & (raw - 1) == 0 else { throw fail("general.alignment \(raw) is not a power of two") }
            alignment = Int(raw)
        }

        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(tensorCount)
        var names = Set<String>()
        for position in 0..<tensorCount {
            let name = try readString("name of tensor \(position)")
            guard name.utf8.count <= GGUFLimits.maxNameByteCount else {
                throw fail("tensor \(position) name is \(name.utf8.count) bytes (ggml allows at most \(GGUFLimits.maxNameByteCount))")
            }
            guard names.insert(name).inserted else { throw fail("duplicate tensor name '\(name)'") }
            let dimensionCount = try reader.readInteger(UInt32.self, "n_dims of '\(name)'")
            guard dimensionCount <= GGUFLimits.maxDimensions else {
                throw fail("tensor '\(name)' has \(dimensionCount) dimensions (at most \(GGUFLimits.maxDimensions))")
            }
            var ne: [Int] = []
            for axis in 0..<Int(dimensionCount) {
                let raw = try reader.readInteger(UInt64.self, "ne[\(axis)] of '\(name)'")
                guard let value = Int(exactly: raw), value <= Int(Int64.max) else {
                    throw fail("tensor '\(name)' ne[\(axis)] = \(raw) is out of range")
                }
                ne.append(value)
            }
            let rawType = try reader.readInteger(UInt32.self, "type of '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else {
                throw .unsupported(path: path, message: "tensor '\(name)' has ggml type \(rawType) (ifconvert reads \(GGMLType.allCases.map { "\($0.name)=\($0.rawValue)" }.joined(separator: ", ")))")
            }
            let offset = try reader.readInteger(UInt64.self, "offset of '\(name)'")
            guard let elements = CheckedMath.product(ne) else {
                throw fail("tensor '\(name)' shape \(ne.reversed()) overflows")
            }
            guard (ne.first ?? 1) % type.blockSize == 0, let byteCount = type.byteCount(elementCount: elements) else {
                throw fail("tensor '\(name)' innermost dimension \(ne.first ?? 1) is not a multiple of the \(type.name) block size \(type.blockSize)")
            }
            guard let dataOffset = Int(exactly: offset), dataOffset % alignment == 0 else {
                throw fail("tensor '\(name)' offset \(offset) is not a multiple of the alignment \(alignment)")
            }
            tensors.append(GGUFTensorInfo(name: name, type: type, ne: ne, dataOffset: dataOffset, byteCount: byteCount))
        }

        let headerEnd = reader.offset
        guard let dataStart = Self.align(headerEnd, to: alignment), dataStart <= fileByteCount else {
            throw fail("truncated: header ends at \(headerEnd), data section would start past the end of the \(fileByteCount)-byte file")
        }
        let dataSize = fileByteCount - dataStart
        // Tensor ranges must lie inside the data section and must not overlap.
        for info in tensors {
            guard let end = CheckedMath.add(info.dataOffset, info.byteCount), end <= dataSize else {
                throw fail("tensor '\(info.name)' data [\(info.dataOffset), \(info.dataOffset &+ info.byteCount)) lies outside the \(dataSize)-byte data section (file truncated?)")
            }
        }
        let sorted = tensors.sorted { $0.dataOffset < $1.dataOffset }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.dataOffset + a.byteCount > b.dataOffset {
            throw fail("tensors '\(a.name)' and '\(b.name)' overlap at data offset \(b.dataOffset)")
        }
        return Result(version: version, metadata: metadata, tensors: tensors, alignment: alignment, dataSectionOffset: dataStart)
    }

    static func align(_ value: Int, to alignment: Int) -> Int? {
        guard let padded = CheckedMath.add(value, alignment - 1) else { return nil }
        return padded / alignment * alignment
    }

    /// A count from the file, refused when even its smallest encoding cannot fit in the bytes left.
    private func count(_ raw: UInt64, minimumBytesEach: Int, _ what: String) throws(TensorIOError) -> Int {
        guard let value = Int(exactly: raw), value <= reader.remaining / minimumBytesEach else {
            throw fail("\(what) \(raw) cannot fit in the \(reader.remaining) bytes left")
        }
        return value
    }

    private mutating func readString(_ what: String) throws(TensorIOError) -> String {
        let length = try reader.readInteger(UInt64.self, "length of \(what)")
        guard let count = Int(exactly: length), count <= reader.remaining else {
            throw fail("truncated: \(what) claims \(length) bytes at offset \(reader.offset), only \(reader.remaining) left")
        }
        let raw = try reader.readBytes(count, what)
        guard let string = String(validating: raw, as: UTF8.self) else { throw fail("\(what) is not valid UTF-8") }
        return string
    }

    private mutating func readValue(_ type: GGUFValueType, key: String, depth: Int) throws(TensorIOError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try reader.readInteger(UInt8.self, key))
        case .int8: return .int8(try reader.readInteger(Int8.self, key))
        case .uint16: return .uint16(try reader.readInteger(UInt16.self, key))
        case .int16: return .int16(try reader.readInteger(Int16.self, key))
        case .uint32: return .uint32(try reader.readInteger(UInt32.self, key))
        case .int32: return .int32(try reader.readInteger(Int32.self, key))
        case .uint64: return .uint64(try reader.readInteger(UInt64.self, key))
        case .int64: return .int64(try reader.readInteger(Int64.self, key))
        case .float32: return .float32(try reader.readFloat32(key))
        case .float64: return .float64(try reader.readFloat64(key))
        case .bool: return .bool(try readBool(key))
        case .string: return .string(try readString("value of '\(key)'"))
        case .array: return .array(try readArray(key: key, depth: depth))
        }
    }

    private mutating func readBool(_ key: String) throws(TensorIOError) -> Bool {
        let raw = try reader.readInteger(UInt8.self, key)
        guard raw <= 1 else { throw fail("metadata '\(key)' has bool byte \(raw) (expected 0 or 1)") }
        return raw == 1
    }

    private mutating func readArray(key: String, depth: Int) throws(TensorIOError) -> GGUFArray {
        guard depth < GGUFLimits.maxArrayDepth else { throw fail("metadata '\(key)' nests arrays deeper than \(GGUFLimits.maxArrayDepth)") }
        let rawType = try reader.readInteger(UInt32.self, "array type of '\(key)'")
        guard let type = GGUFValueType(rawValue: rawType) else {
            throw fail("metadata '\(key)' is an array of type \(rawType) (expected 0...12)")
        }
        let length = try reader.readInteger(UInt64.self, "array length of '\(key)'")
        // Strings need at least their 8-byte length, nested arrays 12 bytes.
        let minimum = type.fixedByteCount ?? (type == .string ? 8 : 12)
        let n = try count(length, minimumBytesEach: minimum, "array length of '\(key)'")
        func fixed<T: FixedWidthInteger>(_: T.Type) throws(TensorIOError) -> [T] {
            let raw = try reader.readBytes(n * MemoryLayout<T>.size, "array '\(key)'")
            return (0..<n).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
        }
        switch type {
        case .uint8: return .uint8(Array(try reader.readBytes(n, "array '\(key)'")))
        case .int8: return .int8(try fixed(Int8.self))
        case .uint16: return .uint16(try fixed(UInt16.self))
        case .int16: return .int16(try fixed(Int16.self))
        case .uint32: return .uint32(try fixed(UInt32.self))
        case .int32: return .int32(try fixed(Int32.self))
        case .uint64: return .uint64(try fixed(UInt64.self))
        case .int64: return .int64(try fixed(Int64.self))
        case .float32: return .float32(try fixed(UInt32.self).map(Float.init(bitPattern:)))
        case .float64: return .float64(try fixed(UInt64.self).map(Double.init(bitPattern:)))
        case .bool:
            var values: [Bool] = []
            values.reserveCapacity(n)
            for _ in 0..<n { values.append(try readBool(key)) }
            return .bool(values)
        case .string:
            var values: [String] = []
            values.reserveCapacity(n)
            for element in 0..<n { values.append(try readString("element \(element) of '\(key)'")) }
            return .string(values)
        case .array:
            var values: [GGUFArray] = []
            for _ in 0..<n { values.append(try readArray(key: key, depth: depth + 1)) }
            return .nested(values)
        }
    }
}
