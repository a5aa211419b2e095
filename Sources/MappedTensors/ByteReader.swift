/// A bounds-checked little-endian cursor over untrusted bytes. Reads are unaligned-safe and every
/// read past the end throws instead of trapping.
public struct ByteReader {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var offset: Int
    /// Used in error messages.
    public let path: String

    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0, path: String) {
        self.bytes = bytes
        self.offset = offset
        self.path = path
    }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset >= bytes.count }

    private func check(_ count: Int, _ what: String) throws(TensorIOError) {
        guard count >= 0, count <= remaining else {
            throw .malformed(path: path, message: "truncated: \(what) needs \(count) bytes at offset \(offset), only \(remaining) left")
        }
    }

    public mutating func readInteger<T: FixedWidthInteger>(_: T.Type = T.self, _ what: String = "integer") throws(TensorIOError) -> T {
        let size = MemoryLayout<T>.size
        try check(size, what)
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + size)])) }
        offset += size
        return T(littleEndian: value)
    }

    public mutating func readFloat32(_ what: String = "float") throws(TensorIOError) -> Float {
        Float(bitPattern: try readInteger(UInt32.self, what))
    }

    public mutating func readFloat64(_ what: String = "double") throws(TensorIOError) -> Double {
        Double(bitPattern: try readInteger(UInt64.self, what))
    }

    public mutating func readBytes(_ count: Int, _ what: String = "bytes") throws(TensorIOError) -> UnsafeRawBufferPointer {
        try check(count, what)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
        offset += count
        return slice
    }

    public mutating func readString(byteCount count: Int, _ what: String = "string") throws(TensorIOError) -> String {
        let raw = try readBytes(count, what)
        return String(decoding: raw, as: UTF8.self)
    }

    public mutating func skip(_ count: Int, _ what: String = "padding") throws(TensorIOError) {
        try check(count, what)
        offset += count
    }

    public mutating func seek(to position: Int) throws(TensorIOError) {
        guard position >= 0, position <= bytes.count else {
            throw .malformed(path: path, message: "seek to \(position) outside \(bytes.count) bytes")
        }
        offset = position
    }
}
