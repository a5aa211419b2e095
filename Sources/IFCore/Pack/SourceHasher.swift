#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SHA-256 of a whole file with `read(2)` into one reused buffer (no mapped pages): for source
/// files the streaming hasher could not cover (shard indexes, files read out of order).
enum SourceHasher {
    static let chunkByteCount = 8 << 20

    /// SHA-256 hex of the file at `path`.
    static func hash(_ path: String) throws(TensorIOError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, message: "cannot open for hashing: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: chunkByteCount)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, message: "read failed while hashing: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return Hex.string(hasher.finalize())
    }
}
