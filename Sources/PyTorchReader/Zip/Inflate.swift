import CZlib

/// Raw-deflate decompression with a hard output cap. The only Swift file that imports CZlib.
///
/// A zip entry declares its uncompressed size; we allocate exactly that (after the caller has
/// checked it against its own limit) and fail as soon as the stream wants to write one byte more,
/// so a deflate bomb costs at most the declared size, never more.
enum Inflate {
    /// Largest ratio honest deflate reaches (258-byte matches coded in ~2 bits): about 1032:1.
    static let maximumRatio = 1032

    static func inflateRaw(
        _ compressed: UnsafeRawBufferPointer, expectedByteCount: Int, expectedCRC32: UInt32?,
        describing what: String, path: String
    ) throws(TensorIOError) -> [UInt8] {
        var failure: String?
        // Uninitialized: pages are touched only as the stream fills them (a refused bomb costs little).
        let output = [UInt8](unsafeUninitializedCapacity: expectedByteCount) { buffer, count in
            failure = run(compressed, into: UnsafeMutableRawBufferPointer(buffer))
            count = failure == nil ? expectedByteCount : 0
        }
        if let failure { throw .malformed(path: path, message: "\(what): \(failure)") }
        if let expectedCRC32 {
            let crc = output.withUnsafeBytes { crc32Checksum($0) }
            guard crc == expectedCRC32 else {
                throw .malformed(path: path, message: "\(what): CRC-32 \(hex(crc)) but the zip directory says \(hex(expectedCRC32))")
            }
        }
        return output
    }

    /// Inflates into `out`, requiring the stream to end exactly at `out.count` bytes.
    private static func run(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> String? {
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            return "zlib could not start inflating"
        }
        defer { inflateEnd(&stream) }
        let chunk = Int(Int32.max)
        var consumed = 0
        var produced = 0
        var overflowByte: UInt8 = 0
        while true {
            let inCount = min(chunk, input.count - consumed)
            // SAFETY: zlib reads at most avail_in bytes from next_in and never writes through it.
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress.map { $0.assumingMemoryBound(to: Bytef.self) + consumed })
            stream.avail_in = uInt(inCount)
            let outCount = min(chunk, out.count - produced)
            let rc: Int32
            if outCount > 0 {
                stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self) + produced
                stream.avail_out = uInt(outCount)
                rc = inflate(&stream, Z_NO_FLUSH)
            } else {
                // Output is full: offer one spare byte to learn whether the stream wants more.
                rc = withUnsafeMutablePointer(to: &overflowByte) { spare in
                    stream.next_out = spare
                    stream.avail_out = 1
                    return inflate(&stream, Z_NO_FLUSH)
                }
                if stream.avail_out == 0 {
                    return "inflates to more than the declared \(out.count) bytes (deflate bomb or corrupt directory)"
                }
            }
            let usedIn = inCount - Int(stream.avail_in)
            let usedOut = outCount > 0 ? outCount - Int(stream.avail_out) : 0
            consumed += usedIn
            produced += usedOut
            switch rc {
            case Z_STREAM_END:
                guard produced == out.count else {
                    return "inflates to \(produced) bytes but the zip directory declares \(out.count)"
                }
                return nil
            case Z_OK, Z_BUF_ERROR:
                if usedIn == 0 && usedOut == 0 && consumed == input.count {
                    return "compressed data ends before the deflate stream does (truncated)"
                }
                if usedIn == 0 && usedOut == 0 && rc == Z_BUF_ERROR {
                    return "deflate stream makes no progress"
                }
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "error \(rc)"
                return "corrupt deflate data (\(message))"
            }
        }
    }

    static func crc32Checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = crc32(0, nil, 0)
        var offset = 0
        while offset < bytes.count {
            let count = min(Int(Int32.max), bytes.count - offset)
            crc = crc32(crc, bytes.baseAddress!.assumingMemoryBound(to: Bytef.self) + offset, uInt(count))
            offset += count
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    private static func hex(_ value: UInt32) -> String {
        "0x" + String(value, radix: 16, uppercase: false)
    }
}
