#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SafetensorsReader

/// Measurements behind `ifconvert bench-read` (scripts/bench/open_sharded.sh): how long opening and
/// indexing a checkpoint takes, and how fast every tensor's bytes can be read through the views.
public enum ReadBenchmark {
    public struct Result: Sendable {
        public let tensorCount: Int
        public let byteCount: Int
        /// Seconds per open (`openSource`: mmap + header parse + index), one per repeat.
        public let openSeconds: [Double]
        /// Seconds per full read of every tensor's bytes, one per repeat.
        public let readSeconds: [Double]
        /// Sum of all 8-byte words (wrapping): proves the bytes were read.
        public let checksum: UInt64
    }

    public static func run(path: String, openRepeats: Int, readRepeats: Int, populate: Bool = false) throws(TensorIOError) -> Result {
        var openSeconds: [Double] = []
        var source: (any TensorSource)?
        for _ in 0..<max(1, openRepeats) {
            let start = now()
            let opened = try openSource(atPath: path)
            _ = opened.tensorNames.count
            openSeconds.append(now() - start)
            source = opened
        }
        guard let source else { throw .io(path: path, message: "nothing opened") }
        var readSeconds: [Double] = []
        var checksum: UInt64 = 0
        var byteCount = 0
        for _ in 0..<max(0, readRepeats) {
            let start = now()
            (byteCount, checksum) = try readAll(source, populate: populate)
            readSeconds.append(now() - start)
        }
        return Result(tensorCount: source.tensorNames.count, byteCount: byteCount, openSeconds: openSeconds,
                      readSeconds: readSeconds, checksum: checksum)
    }

    /// Reads every byte of every tensor, in file order, through the zero-copy views.
    /// `populate` maps each tensor's pages in one `madvise(MADV_POPULATE_READ)` call first instead
    /// of one page fault per 64 KiB (Linux 5.14+; ignored where unsupported).
    public static func readAll(_ source: any TensorSource, populate: Bool = false) throws(TensorIOError) -> (byteCount: Int, checksum: UInt64) {
        var total = 0
        var checksum: UInt64 = 0
        for name in source.tensorNames {
            let view = try source.tensor(named: name)
            total += view.byteCount
            if populate, let file = view.data.storage as? MappedFile { file.populate(in: view.data.range) }
            checksum &+= view.data.withUnsafeBytes { wordSum($0) }
        }
        return (total, checksum)
    }

    /// Wrapping sum of the little-endian 8-byte words (a trailing partial word zero-padded). Four
    /// independent accumulators keep the loop bandwidth-bound.
    static func wordSum(_ raw: UnsafeRawBufferPointer) -> UInt64 {
        let words = raw.count / 8
        var a: SIMD4<UInt64> = .zero
        var i = 0
        while i + 4 <= words {
            a &+= raw.loadUnaligned(fromByteOffset: i * 8, as: SIMD4<UInt64>.self)
            i += 4
        }
        var sum = a[0] &+ a[1] &+ a[2] &+ a[3]
        while i < words {
            sum &+= raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
            i += 1
        }
        var tail: UInt64 = 0
        for j in (words * 8)..<raw.count { tail |= UInt64(raw[j]) << (8 * UInt64(j - words * 8)) }
        return sum &+ tail
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
