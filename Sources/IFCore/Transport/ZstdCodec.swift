import CZstd

/// The only Swift file that imports CZstd: one-shot compression and decompression of single
/// zstd frames. Each frame carries its content size and zstd's own content checksum, so a
/// corrupted frame is detected when it is decompressed.
enum ZstdCodec {
    static var libraryVersion: String { String(cString: ZSTD_versionString()) }

    static var maxLevel: Int { Int(ZSTD_maxCLevel()) }
    static var minLevel: Int { Int(ZSTD_minCLevel()) }

    /// Compresses `source` into one frame at `level`. Single-threaded on purpose: parallelism comes
    /// from compressing independent frames at once, which keeps the output identical for any
    /// thread count.
    static func compressFrame(_ source: UnsafeRawBufferPointer, level: Int) throws(TransportError) -> [UInt8] {
        guard let context = ZSTD_createCCtx() else { throw .codec("cannot create a zstd compression context") }
        defer { ZSTD_freeCCtx(context) }
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(level)), "set level \(level)")
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1), "enable checksums")
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1), "enable content size")
        let bound = ZSTD_compressBound(source.count)
        try check(bound, "bound for \(source.count) bytes")
        // Uninitialized: zero-filling a 32 MiB frame buffer costs as much as compressing at level 1.
        var failure: Int?
        let output = [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            let written = ZSTD_compress2(context, buffer.baseAddress, buffer.count, source.baseAddress, source.count)
            if ZSTD_isError(written) != 0 { failure = written; count = 0 } else { count = written }
        }
        if let failure { try check(failure, "compress \(source.count) bytes") }
        return output
    }

    /// Decompresses exactly one frame into `destination`, which must have the frame's content size.
    static func decompressFrame(_ frame: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws(TransportError) {
        let declared = ZSTD_getFrameContentSize(frame.baseAddress, frame.count)
        if declared == ZSTD_CONTENTSIZE_ERROR { throw .codec("not a zstd frame") }
        if declared != ZSTD_CONTENTSIZE_UNKNOWN, declared != UInt64(destination.count) {
            throw .codec("frame declares \(declared) bytes, seek table says \(destination.count)")
        }
        guard let context = ZSTD_createDCtx() else { throw .codec("cannot create a zstd decompression context") }
        defer { ZSTD_freeDCtx(context) }
        let written = ZSTD_decompressDCtx(context, destination.baseAddress, destination.count, frame.baseAddress, frame.count)
        try check(written, "decompress")
        guard written == destination.count else {
            throw .codec("frame gave \(written) bytes, expected \(destination.count)")
        }
    }

    private static func check(_ code: Int, _ what: String) throws(TransportError) {
        if ZSTD_isError(code) != 0 { throw .codec("\(what): \(String(cString: ZSTD_getErrorName(code)))") }
    }

    private static func check(_ code: Int32, _ what: String) throws(TransportError) {
        try check(Int(code), what)
    }
}
