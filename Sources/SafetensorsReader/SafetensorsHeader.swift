/// The parsed and validated header of a safetensors file:
/// `u64 little-endian N | N bytes of JSON | data section`.
///
/// Validation follows the reference implementation (huggingface/safetensors `tensor.rs`): header length
/// at most 100 MB and inside the file, JSON that parses (duplicate names rejected here, where serde
/// silently keeps one), every tensor's byte count equal to shape x dtype size (overflow-checked),
/// and offsets that, sorted, are contiguous from 0 and cover the data section exactly.
public struct SafetensorsHeader: Sendable {
    /// The reference implementation's cap (`MAX_HEADER_SIZE`).
    public static let maximumHeaderByteCount = 100_000_000

    public struct Entry: Sendable, Equatable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Byte range relative to the start of the data section.
        public let dataOffsets: Range<Int>
    }

    /// N, the JSON length (including any padding).
    public let headerByteCount: Int
    /// Entries in data order (sorted by offset): the file order.
    public let entries: [Entry]
    /// `__metadata__`, empty when absent.
    public let metadata: [String: String]

    /// File offset of the data section.
    public var dataStart: Int { 8 + headerByteCount }

    /// Parses the header at the start of `file` (the whole file's bytes) and validates it against
    /// the file size. Every failure is a one-line `.malformed` naming what and where.
    public static func parse(_ file: UnsafeRawBufferPointer, path: String) throws(TensorIOError) -> SafetensorsHeader {
        try parse(prefix: file, fileByteCount: file.count, path: path)
    }

    /// Parses the header from the first bytes of a file of `fileByteCount` bytes (a compressed
    /// archive decodes only this prefix). `prefix` must hold at least the 8-byte length and the
    /// JSON header; `headerByteCount(ofPrefix:)` says how much that is.
    public static func parse(prefix file: UnsafeRawBufferPointer, fileByteCount: Int, path: String) throws(TensorIOError) -> SafetensorsHeader {
        func fail(_ message: String) -> TensorIOError { .malformed(path: path, message: message) }

        guard file.count >= 8, fileByteCount >= 8 else {
            throw fail("file is \(fileByteCount) bytes, too short for the 8-byte header length (truncated?)")
        }
        var reader = ByteReader(file, path: path)
        let claimed = try reader.readInteger(UInt64.self, "header length")
        guard claimed <= UInt64(maximumHeaderByteCount) else {
            throw fail("header length \(claimed) exceeds the limit of \(maximumHeaderByteCount) bytes")
        }
        let headerByteCount = Int(claimed)
        guard headerByteCount <= fileByteCount - 8 else {
            throw fail("header length \(headerByteCount) runs past the end of the file: needs \(8 + headerByteCount) bytes, file has \(fileByteCount) (truncated?)")
        }
        guard headerByteCount <= file.count - 8 else {
            throw fail("header needs \(8 + headerByteCount) bytes, only \(file.count) given")
        }
        let json = try JSONParser.parse(
            UnsafeRawBufferPointer(rebasing: file[8..<(8 + headerByteCount)]), path: path, positionBase: 8)
        guard case let .object(root) = json else {
            throw fail("header must be a JSON object, found \(json.kindName)")
        }

        var metadata: [String: String] = [:]
        var entries: [(entry: Entry, order: Int)] = []
        entries.reserveCapacity(root.count)
        for (order, (name, value)) in root.members.enumerated() {
            if name == "__metadata__" {
                metadata = try parseMetadata(value, fail: fail)
                continue
            }
            entries.append((try parseEntry(name: name, value, fail: fail), order))
        }

        // Sorted by offsets (ties, i.e. zero-size tensors, keep header order); then each must start
        // where the previous one ended.
        entries.sort { a, b in
            let (x, y) = (a.entry.dataOffsets, b.entry.dataOffsets)
            if x.lowerBound != y.lowerBound { return x.lowerBound < y.lowerBound }
            if x.upperBound != y.upperBound { return x.upperBound < y.upperBound }
            return a.order < b.order
        }
        let dataByteCount = fileByteCount - 8 - headerByteCount
        var end = 0
        var previous: Entry?
        for (entry, _) in entries {
            let range = entry.dataOffsets
            if range.lowerBound < end, let previous {
                throw fail("tensor '\(entry.name)': data_offsets \(describe(range)) overlap tensor '\(previous.name)' \(describe(previous.dataOffsets))")
            }
            if range.lowerBound > end {
                if let previous {
                    throw fail("tensor '\(entry.name)': data_offsets \(describe(range)) leave a gap of \(range.lowerBound - end) bytes after tensor '\(previous.name)' \(describe(previous.dataOffsets))")
                }
                throw fail("tensor '\(entry.name)': data_offsets \(describe(range)) leave a gap of \(range.lowerBound) bytes at the start of the data section (expected offset 0)")
            }
            if range.upperBound > dataByteCount {
                throw fail("tensor '\(entry.name)': data_offsets \(describe(range)) run past the end of the data section (\(dataByteCount) bytes; file truncated?)")
            }
            end = range.upperBound
            previous = entry
        }
        if end != dataByteCount {
            throw fail("data section has \(dataByteCount) bytes but the tensors cover \(end): \(dataByteCount - end) trailing bytes")
        }
        return SafetensorsHeader(headerByteCount: headerByteCount, entries: entries.map(\.entry), metadata: metadata)
    }

    private static func parseMetadata(_ value: JSONValue, fail: (String) -> TensorIOError) throws(TensorIOError) -> [String: String] {
        guard case let .object(object) = value else {
            throw fail("__metadata__ must be an object of strings, found \(value.kindName)")
        }
        var result: [String: String] = [:]
        for (key, item) in object.members {
            guard case let .string(text) = item else {
                throw fail("__metadata__ key '\(key)' must be a string, found \(item.kindName)")
            }
            result[key] = text
        }
        return result
    }

    private static func parseEntry(name: String, _ value: JSONValue, fail: (String) -> TensorIOError) throws(TensorIOError) -> Entry {
        let what = "tensor '\(name)'"
        guard case let .object(object) = value else {
            throw fail("\(what): entry must be an object with dtype, shape and data_offsets, found \(value.kindName)")
        }
        guard let dtypeValue = object["dtype"] else { throw fail("\(what): missing \"dtype\"") }
        guard let dtypeName = dtypeValue.stringValue else { throw fail("\(what): dtype must be a string, found \(dtypeValue.kindName)") }
        guard let dtype = DType(safetensorsName: dtypeName) else {
            throw fail("\(what): unknown dtype '\(dtypeName)' (expected one of \(DType.allCases.map(\.rawValue).joined(separator: " ")))")
        }
        guard let shapeValue = object["shape"] else { throw fail("\(what): missing \"shape\"") }
        guard let dims = shapeValue.arrayValue else { throw fail("\(what): shape must be an array, found \(shapeValue.kindName)") }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        for (i, dim) in dims.enumerated() {
            guard let size = dim.nonNegativeIntValue else {
                throw fail("\(what): shape[\(i)] is \(dim.serialized()), expected a non-negative integer below 2^63")
            }
            shape.append(size)
        }
        guard let offsetsValue = object["data_offsets"] else { throw fail("\(what): missing \"data_offsets\"") }
        guard let offsets = offsetsValue.arrayValue, offsets.count == 2 else {
            throw fail("\(what): data_offsets must be [begin, end], found \(offsetsValue.serialized())")
        }
        guard let begin = offsets[0].nonNegativeIntValue, let end = offsets[1].nonNegativeIntValue else {
            throw fail("\(what): data_offsets \(offsetsValue.serialized()) must be non-negative integers below 2^63")
        }
        guard begin <= end else {
            throw fail("\(what): data_offsets [\(begin), \(end)) end before they begin")
        }
        guard let needed = CheckedMath.byteCount(shape: shape, dtype: dtype) else {
            throw fail("\(what): shape \(shape) x \(dtype.rawValue) overflows a 64-bit byte count")
        }
        guard end - begin == needed else {
            throw fail("\(what): data_offsets [\(begin), \(end)) hold \(end - begin) bytes but shape \(shape) x \(dtype.rawValue) needs \(needed) bytes")
        }
        return Entry(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    private static func describe(_ range: Range<Int>) -> String { "[\(range.lowerBound), \(range.upperBound))" }
}
