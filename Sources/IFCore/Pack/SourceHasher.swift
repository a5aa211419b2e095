#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// SHA-256 of source files on a background thread, while the main thread converts: provenance
/// costs no extra wall time when a second core is free. Reads with `read(2)` into one reused
/// buffer, so it adds no resident mapped pages.
final class SourceHasher: @unchecked Sendable {
    // SAFETY: `digests`, `failure` and `cancelled` are guarded by `lock`; `group` is thread-safe.
    private let paths: [String]
    private var digests: [String] = []
    private var failure: TensorIOError?
    private var cancelled = false
    private let lock = NSLockLite()
    private let group = DispatchGroup()
    static let chunkByteCount = 8 << 20

    init(paths: [String]) {
        self.paths = paths
    }

    func start() {
        guard !paths.isEmpty else { return }
        group.enter()
        DispatchQueue.global(qos: .utility).async { [self] in
            defer { group.leave() }
            var results: [String] = []
            for path in paths {
                do throws(TensorIOError) {
                    guard let digest = try Self.hash(path, isCancelled: { self.lock.locked { self.cancelled } }) else { return }
                    results.append(digest)
                } catch {
                    lock.locked { failure = error }
                    return
                }
            }
            lock.locked { digests = results }
        }
    }

    /// Waits for the digests (hex), in path order.
    func wait() throws(TensorIOError) -> [String] {
        group.wait()
        let (digests, failure) = lock.locked { (self.digests, self.failure) }
        if let failure { throw failure }
        guard digests.count == paths.count else {
            throw .io(path: paths.first ?? "", message: "source hashing was cancelled")
        }
        return digests
    }

    func cancel() {
        lock.locked { cancelled = true }
        group.wait()
    }

    /// SHA-256 hex of the file at `path`, or nil when cancelled.
    static func hash(_ path: String, isCancelled: () -> Bool = { false }) throws(TensorIOError) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, message: "cannot open for hashing: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: chunkByteCount)
        while true {
            if isCancelled() { return nil }
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

/// A small pthread mutex.
final class NSLockLite: @unchecked Sendable {
    // SAFETY: the mutex is only touched through `locked`.
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func locked<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}
