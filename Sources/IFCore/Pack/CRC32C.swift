import CChecksum

/// CRC-32C (Castagnoli; iSCSI, ext4, GGUF-agnostic): the per-tensor checksum of a pack. Uses the
/// SSE4.2 `crc32` instruction when present, else the portable slicing-by-8 table below, which also
/// defines the meaning (tests compare both with the bitwise reference and known vectors).
public struct CRC32C: Sendable {
    public private(set) var value: UInt32 = 0

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        value = Self.checksum(bytes, continuing: value)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public static var usesHardware: Bool { ccs_has_crc32c() != 0 }

    /// CRC of `bytes` continuing `crc` (0 to start).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
        if usesHardware { return ccs_crc32c_hw(crc, base, bytes.count) }
        return portable(bytes, continuing: crc)
    }

    /// Slicing-by-8, no hardware.
    public static func portable(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        let table = tables
        var c = ~crc
        var i = 0
        let n = bytes.count
        table.withUnsafeBufferPointer { t in
            while n - i >= 8 {
                let low = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self)) ^ c
                let high = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
                c = t[7 * 256 + Int(low & 0xFF)] ^ t[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((low >> 16) & 0xFF)] ^ t[4 * 256 + Int(low >> 24)]
                    ^ t[3 * 256 + Int(high & 0xFF)] ^ t[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((high >> 16) & 0xFF)] ^ t[Int(high >> 24)]
                i += 8
            }
            while i < n {
                c = t[Int((c ^ UInt32(bytes[i])) & 0xFF)] ^ (c >> 8)
                i += 1
            }
        }
        return ~c
    }

    /// One bit at a time: the definition (reflected polynomial 0x82F63B78).
    public static func reference(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        var c = ~crc
        for byte in bytes {
            c ^= UInt32(byte)
            for _ in 0..<8 { c = (c >> 1) ^ (0x82F6_3B78 & (0 &- (c & 1))) }
        }
        return ~c
    }

    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c >> 1) ^ (0x82F6_3B78 & (0 &- (c & 1))) }
            t[i] = c
        }
        for i in 0..<256 {
            for k in 1..<8 { t[k * 256 + i] = (t[(k - 1) * 256 + i] >> 8) ^ t[Int(t[(k - 1) * 256 + i] & 0xFF)] }
        }
        return t
    }()
}

/// Lower-case hex, for checksums and digests in reports and metadata.
public enum Hex {
    public static func string<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Eight hex digits, big-endian (how CRCs are usually printed).
    public static func string(_ value: UInt32) -> String {
        string([UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)])
    }
}
