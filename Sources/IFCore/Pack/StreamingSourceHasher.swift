import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// SHA-256 of the source files computed from the very windows the conversion reads, on a second
/// thread that hashes window *n* while the main thread checksums and writes it: one pass over
/// the source, no second reader competing for the page cache. Tensors are converted in file
/// order, so each file is hashed front to back; bytes between tensors (headers, padding, tensors
/// not converted) are hashed from the mapping when the next window arrives, the tail at the end.
/// A file read out of order, or never mapped (a shard index), is hashed separately at the end.
final class StreamingSourceHasher: @unchecked Sendable {
    // SAFETY: `files` is touched only by the one window job in flight or, between jobs, by the
    // thread that waited for it (DispatchGroup.wait orders the accesses).
    private struct FileState {
        var hasher = SHA256()
        var position = 0
        var mapping: MappedFile?
        var outOfOrder = false
    }

    private let paths: [String]
    private var files: [String: FileState] = [:]
    private let group = DispatchGroup()
    private let queue = DispatchQueue(label: "ifconvert.source-hash", qos: .userInitiated)

    /// The hasher windows report to (set by `PackWriter` around a pack's conversion).
    @TaskLocal static var current: StreamingSourceHasher?

    private let known: [String: String]
    /// Files found out of order are hashed whole by `SourceHasher` on this queue, started as soon
    /// as the disorder shows (not after the conversion), so hashing still overlaps the copy.
    private let fallbackQueue = DispatchQueue(label: "ifconvert.source-hash.fallback", qos: .userInitiated)
    private let fallbackGroup = DispatchGroup()
    private let fallbackLock = NSLock()
    private var fallbackDigests: [String: Result<String, TensorIOError>] = [:]

    private func startFallbackHash(_ path: String) {
        fallbackQueue.async(group: fallbackGroup) { [self] in
            let result = Result { () throws(TensorIOError) in try SourceHasher.hash(path) }
            fallbackLock.withLock { fallbackDigests[path] = result }
        }
    }

    /// `known`: digests already established by path (`KnownSourceDigest`, looked up once by the
    /// caller); those files are not hashed and `finish` returns them as given.
    init(paths: [String], known: [String: String] = [:]) {
        self.paths = paths
        self.known = known
        for path in paths where known[path] == nil { files[path] = FileState() }
    }

    /// Starts hashing `raw` (bytes `range` of `mapping`) in the background. The caller must call
    /// `waitForWindow()` before `raw` goes out of scope.
    func beginWindow(_ raw: UnsafeRawBufferPointer, mapping: MappedFile, range: Range<Int>) {
        guard files[mapping.path] != nil else { return }
        nonisolated(unsafe) let window = raw
        queue.async(group: group) { [self] in
            var state = files[mapping.path]!
            defer { files[mapping.path] = state }
            guard !state.outOfOrder else { return }
            guard state.position <= range.lowerBound else {
                state.outOfOrder = true
                startFallbackHash(mapping.path)
                return
            }
            state.mapping = mapping
            if state.position < range.lowerBound {
                Self.hash(mapping, state.position..<range.lowerBound, into: &state.hasher)
            }
            state.hasher.update(window)
            state.position = range.upperBound
        }
    }

    func waitForWindow() {
        group.wait()
    }

    /// Hex digests in `paths` order, finishing tails and hashing what windows did not cover.
    func finish() throws(TensorIOError) -> [String] {
        group.wait()
        fallbackGroup.wait()
        var digests: [String] = []
        for path in paths {
            if let digest = known[path] {
                digests.append(digest)
                continue
            }
            var state = files[path]!
            if let mapping = state.mapping, !state.outOfOrder {
                if state.position < mapping.byteCount {
                    Self.hash(mapping, state.position..<mapping.byteCount, into: &state.hasher)
                }
                digests.append(Hex.string(state.hasher.finalize()))
            } else {
                let started = fallbackLock.withLock { fallbackDigests[path] }
                if let started { digests.append(try started.get()) } else { digests.append(try SourceHasher.hash(path)) }
            }
        }
        return digests
    }

    /// Hashes a range of a mapping in bounded windows, releasing pages after each.
    private static func hash(_ mapping: MappedFile, _ range: Range<Int>, into hasher: inout SHA256) {
        var start = range.lowerBound
        let step = SourceWindows.defaultByteCount
        while start < range.upperBound {
            let end = min(range.upperBound, start + step)
            mapping.withUnsafeBytes(in: start..<end) { hasher.update($0) }
            mapping.releasePages(in: start..<end)
            start = end
        }
    }
}
