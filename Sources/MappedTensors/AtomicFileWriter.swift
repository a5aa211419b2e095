#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that the destination is either absent/unchanged or complete: bytes go to a
/// temporary file beside the destination (same file system, so the final rename is atomic),
/// which is fsynced and renamed into place by `commit()`. Dropping the writer without committing
/// deletes the temporary file; `TemporaryFiles.removeAll()` (called from a SIGINT handler) does
/// the same for writers still open when the user presses Ctrl-C.
public final class AtomicFileWriter {
    public let destination: String
    public let temporaryPath: String
    public private(set) var bytesWritten = 0
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    private let bufferCapacity = 4 << 20
    private var finished = false

    /// Refuses an existing destination unless `overwrite`.
    public init(destination: String, overwrite: Bool) throws(TensorIOError) {
        self.destination = destination
        if !overwrite, access(destination, F_OK) == 0 {
            throw .io(path: destination, message: "already exists (use --force to overwrite)")
        }
        let slash = destination.lastIndex(of: "/")
        let directory = slash.map { String(destination[..<$0]) } ?? "."
        let name = slash.map { String(destination[destination.index(after: $0)...]) } ?? destination
        temporaryPath = "\(directory.isEmpty ? "/" : directory)/.\(name).partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw .io(path: temporaryPath, message: "cannot create: \(String(cString: strerror(errno)))")
        }
        TemporaryFiles.register(temporaryPath)
        buffer.reserveCapacity(bufferCapacity)
    }

    deinit {
        if !finished { abandon() }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(TensorIOError) {
        if buffer.count + bytes.count > bufferCapacity { try flush() }
        if bytes.count >= bufferCapacity {
            try writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
        bytesWritten += bytes.count
    }

    public func write(_ bytes: [UInt8]) throws(TensorIOError) {
        var failure: TensorIOError?
        bytes.withUnsafeBytes { raw in
            do throws(TensorIOError) { try write(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Writes `count` zero bytes (alignment padding).
    public func writeZeros(_ count: Int) throws(TensorIOError) {
        guard count > 0 else { return }
        try write([UInt8](repeating: 0, count: count))
    }

    /// Replaces already-written bytes at `offset` (placeholders whose value is known only at the
    /// end, e.g. checksums in a file header). `offset + bytes.count` must not pass `bytesWritten`.
    public func overwrite(at offset: Int, with bytes: [UInt8]) throws(TensorIOError) {
        precondition(!finished && offset >= 0 && offset + bytes.count <= bytesWritten, "overwrite outside written bytes")
        try flush()
        var failure: TensorIOError?
        bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = pwrite(descriptor, raw.baseAddress! + done, raw.count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = .io(path: temporaryPath, message: "write failed: \(String(cString: strerror(errno)))")
                    return
                }
                done += n
            }
        }
        if let failure { throw failure }
    }

    /// Flushes buffered bytes and fsyncs the temporary file, so it can be re-read and checked
    /// before `commit()`.
    public func synchronize() throws(TensorIOError) {
        precondition(!finished, "synchronize after finish")
        try flush()
        guard fsync(descriptor) == 0 else {
            throw .io(path: temporaryPath, message: "fsync failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Flushes, fsyncs and renames the temporary file onto the destination.
    public func commit() throws(TensorIOError) {
        precondition(!finished, "commit after finish")
        try flush()
        guard fsync(descriptor) == 0 else {
            let message = String(cString: strerror(errno))
            abandon()
            throw .io(path: temporaryPath, message: "fsync failed: \(message)")
        }
        close(descriptor)
        guard rename(temporaryPath, destination) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporaryPath)
            finished = true
            TemporaryFiles.unregister(temporaryPath)
            throw .io(path: destination, message: "cannot rename temporary file into place: \(message)")
        }
        finished = true
        TemporaryFiles.unregister(temporaryPath)
        // Make the rename itself durable.
        let slash = destination.lastIndex(of: "/")
        let directory = slash.map { String(destination[..<$0]) } ?? "."
        let directoryDescriptor = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 { _ = fsync(directoryDescriptor); close(directoryDescriptor) }
    }

    /// Closes and deletes the temporary file; the destination is untouched.
    public func abandon() {
        guard !finished else { return }
        finished = true
        close(descriptor)
        unlink(temporaryPath)
        TemporaryFiles.unregister(temporaryPath)
    }

    private func flush() throws(TensorIOError) {
        guard !buffer.isEmpty else { return }
        var failure: TensorIOError?
        buffer.withUnsafeBytes { raw in
            do throws(TensorIOError) { try writeAll(raw) } catch { failure = error }
        }
        buffer.removeAll(keepingCapacity: true)
        if let failure { throw failure }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(TensorIOError) {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw .io(path: temporaryPath, message: "write failed: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }
}

/// Temporary files of writers still open, so an interrupt can remove them.
public enum TemporaryFiles {
    nonisolated(unsafe) private static var paths: Set<String> = []
    private static let lock = Mutex()

    static func register(_ path: String) { lock.locked { _ = paths.insert(path) } }
    static func unregister(_ path: String) { lock.locked { _ = paths.remove(path) } }

    /// Deletes every registered temporary file (for signal handlers and fatal-error paths).
    public static func removeAll() {
        lock.locked {
            for path in paths { unlink(path) }
            paths.removeAll()
        }
    }

    /// Installs SIGINT/SIGTERM handlers that remove temporary files, then exit with 130/143.
    public static func removeOnInterrupt() {
        signal(SIGINT) { _ in TemporaryFiles.removeAll(); _exit(130) }
        signal(SIGTERM) { _ in TemporaryFiles.removeAll(); _exit(143) }
    }
}

/// A minimal pthread mutex (Synchronization's Mutex needs newer deployment targets on Darwin).
final class Mutex: @unchecked Sendable {
    // SAFETY: the pthread mutex is only touched through lock/unlock.
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func locked<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}
