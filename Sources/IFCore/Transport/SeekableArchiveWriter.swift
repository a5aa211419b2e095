import Foundation

/// Compresses a file into a seekable archive (see `SeekableArchiveFormat`).
public enum SeekableArchiveWriter {
    public struct Options: Sendable {
        public var level: Int
        public var threads: Int
        /// Byte-shuffle 16-bit segments. Only ifconvert can restore such archives.
        public var shuffle: Bool
        public var overwrite: Bool

        public init(level: Int = 3, threads: Int = 2, shuffle: Bool = false, overwrite: Bool = false) {
            self.level = level
            self.threads = max(1, threads)
            self.shuffle = shuffle
            self.overwrite = overwrite
        }
    }

    public struct Summary: Sendable, Codable, Equatable {
        public var originalByteCount: Int
        public var compressedByteCount: Int
        public var frameCount: Int
        public var shuffledFrameCount: Int
        /// original / compressed.
        public var ratio: Double

        init(originalByteCount: Int, compressedByteCount: Int, frameCount: Int, shuffledFrameCount: Int) {
            self.originalByteCount = originalByteCount
            self.compressedByteCount = compressedByteCount
            self.frameCount = frameCount
            self.shuffledFrameCount = shuffledFrameCount
            ratio = compressedByteCount == 0 ? 0 : Double(originalByteCount) / Double(compressedByteCount)
        }
    }

    /// Compresses the file at `path` (a pack, a safetensors file, or any file) into `destination`,
    /// with frames split at its tensor boundaries.
    public static func compressFile(
        at path: String, to destination: String, options: Options, progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> Summary {
        let file = try MappedFile(readingAt: path)
        let segments = try ArchiveSegments.forFile(at: path, storage: file)
        return try write(source: file, segments: segments, to: destination, options: options, progress: progress)
    }

    /// Compresses `source` (the whole storage) split at `segments` into `destination`.
    /// `progress` is called with (bytes done, bytes total) from the writing thread.
    public static func write(
        source: any ByteStorage, segments: [ArchiveSegment], to destination: String, options: Options,
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> Summary {
        guard (ZstdCodec.minLevel...ZstdCodec.maxLevel).contains(options.level) else {
            throw TransportError.codec("level \(options.level) outside \(ZstdCodec.minLevel)...\(ZstdCodec.maxLevel)")
        }
        let frames = try FramePlanner.plan(segments: segments, fileByteCount: source.byteCount, shuffle: options.shuffle)
        let marker = ArchiveMarker(
            format: SeekableArchiveFormat.markerFormatName, version: SeekableArchiveFormat.markerVersion,
            originalByteCount: source.byteCount, frameLabels: frames.map(\.label),
            shuffledFrames: frames.indices.filter { frames[$0].shuffled })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let markerPayload = [UInt8](try encoder.encode(marker))

        let writer = try AtomicFileWriter(destination: destination, overwrite: options.overwrite)
        var entries: [(compressed: UInt32, decompressed: UInt32)] = []
        let markerFrame = skippableFrame(magic: SeekableArchiveFormat.markerMagic, payload: markerPayload)
        try writer.write(markerFrame)
        entries.append((UInt32(markerFrame.count), 0))

        // Worker threads compress frames in order of index, at most `aheadLimit` frames ahead of the
        // writer, while this thread writes finished frames in order: memory stays bounded, writing
        // overlaps compression, and the bytes do not depend on the thread count.
        let pipeline = FramePipeline(frameCount: frames.count, aheadLimit: options.threads * 2)
        for _ in 0..<min(options.threads, max(frames.count, 1)) {
            Thread.detachNewThread {
                while let index = pipeline.claim() {
                    pipeline.finish(index, compress(frames[index], from: source, level: options.level))
                }
            }
        }
        var done = 0
        defer { pipeline.cancel() }
        for (index, frame) in frames.enumerated() {
            let compressed = try pipeline.take(index).get()
            try writer.write(compressed)
            entries.append((UInt32(compressed.count), UInt32(frame.range.count)))
            done += frame.range.count
            progress(done, source.byteCount)
            if let mapped = source as? MappedFile { mapped.releasePages(in: frame.range) }
        }
        try writer.write(seekTable(entries))
        try writer.commit()
        return Summary(originalByteCount: source.byteCount, compressedByteCount: writer.bytesWritten,
                       frameCount: frames.count, shuffledFrameCount: marker.shuffledFrames.count)
    }

    private static func compress(_ frame: PlannedFrame, from source: any ByteStorage, level: Int) -> Result<[UInt8], TransportError> {
        // Ask the kernel to read the frame's pages ahead instead of faulting them in one by one.
        (source as? MappedFile)?.adviseSequential(in: frame.range)
        (source as? MappedFile)?.populate(in: frame.range)
        return source.withUnsafeBytes(in: frame.range) { raw in
            do throws(TransportError) {
                guard frame.shuffled else { return .success(try ZstdCodec.compressFrame(raw, level: level)) }
                var shuffled = [UInt8](repeating: 0, count: raw.count)
                shuffled.withUnsafeMutableBytes { ByteShuffle.shuffle16(raw, into: $0) }
                return shuffled.withUnsafeBytes { bytes in
                    Result { () throws(TransportError) in try ZstdCodec.compressFrame(bytes, level: level) }
                }
            } catch {
                return .failure(error)
            }
        }
    }

    static func skippableFrame(magic: UInt32, payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + payload.count)
        appendLE(magic, to: &bytes)
        appendLE(UInt32(payload.count), to: &bytes)
        bytes += payload
        return bytes
    }

    static func seekTable(_ entries: [(compressed: UInt32, decompressed: UInt32)]) -> [UInt8] {
        var payload: [UInt8] = []
        for entry in entries {
            appendLE(entry.compressed, to: &payload)
            appendLE(entry.decompressed, to: &payload)
        }
        appendLE(UInt32(entries.count), to: &payload)
        payload.append(0)  // descriptor: no per-entry checksums
        appendLE(SeekableArchiveFormat.seekableFooterMagic, to: &payload)
        return skippableFrame(magic: SeekableArchiveFormat.seekTableMagic, payload: payload)
    }

    static func appendLE(_ value: UInt32, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}

/// Hands frame indices to worker threads and finished frames back to the writer, in order.
private final class FramePipeline: @unchecked Sendable {
    // SAFETY: all state is guarded by `condition`.
    private let condition = NSCondition()
    private var results: [Int: Result<[UInt8], TransportError>] = [:]
    private var nextIndex = 0
    private var written = 0
    private var cancelled = false
    private let frameCount: Int
    private let aheadLimit: Int

    init(frameCount: Int, aheadLimit: Int) {
        self.frameCount = frameCount
        self.aheadLimit = max(1, aheadLimit)
    }

    /// The next frame to compress, or nil when all are claimed (or the writer gave up).
    func claim() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled, nextIndex < frameCount, nextIndex - written >= aheadLimit { condition.wait() }
        guard !cancelled, nextIndex < frameCount else { return nil }
        nextIndex += 1
        return nextIndex - 1
    }

    func finish(_ index: Int, _ result: Result<[UInt8], TransportError>) {
        condition.lock()
        results[index] = result
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for frame `index` and releases its slot.
    func take(_ index: Int) -> Result<[UInt8], TransportError> {
        condition.lock()
        defer { condition.unlock() }
        while results[index] == nil { condition.wait() }
        let result = results.removeValue(forKey: index)!
        written = index + 1
        condition.broadcast()
        return result
    }

    /// Stops workers from claiming more frames (after an error or at the end).
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}
