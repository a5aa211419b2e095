import Dispatch
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

        // Compress a window of frames at a time in parallel, then write them in order: memory stays
        // bounded by the window and the output does not depend on the thread count.
        let window = options.threads * 2
        var done = 0
        var start = 0
        while start < frames.count {
            let batch = Array(frames[start..<min(start + window, frames.count)])
            let results = ResultBox(count: batch.count)
            DispatchQueue.concurrentPerform(iterations: batch.count) { index in
                let frame = batch[index]
                results.set(index, compress(frame, from: source, level: options.level))
            }
            for (index, frame) in batch.enumerated() {
                let compressed = try results.get(index).get()
                try writer.write(compressed)
                entries.append((UInt32(compressed.count), UInt32(frame.range.count)))
                done += frame.range.count
                progress(done, source.byteCount)
            }
            if let mapped = source as? MappedFile, let last = batch.last {
                mapped.releasePages(in: 0..<last.range.upperBound)
            }
            start += window
        }
        try writer.write(seekTable(entries))
        try writer.commit()
        return Summary(originalByteCount: source.byteCount, compressedByteCount: writer.bytesWritten,
                       frameCount: frames.count, shuffledFrameCount: marker.shuffledFrames.count)
    }

    private static func compress(_ frame: PlannedFrame, from source: any ByteStorage, level: Int) -> Result<[UInt8], TransportError> {
        source.withUnsafeBytes(in: frame.range) { raw in
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

/// Results of one parallel batch, filled from several threads at distinct indices.
private final class ResultBox: @unchecked Sendable {
    // SAFETY: each index is written by exactly one iteration, and read after concurrentPerform returns.
    private var results: [Result<[UInt8], TransportError>?]
    init(count: Int) { results = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ result: Result<[UInt8], TransportError>) {
        results.withUnsafeMutableBufferPointer { $0[index] = result }
    }
    func get(_ index: Int) -> Result<[UInt8], TransportError> { results[index]! }
}
