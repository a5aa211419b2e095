import Foundation

/// A seekable zstd archive opened for random access: a `ByteStorage` whose bytes are the original
/// file's, decompressed frame by frame on demand. Readers (safetensors, GGUF) can parse it like a
/// mapped file; code that may receive one calls `ByteSlice.materialized()` to get errors reported.
public final class SeekableArchive: ByteStorage, @unchecked Sendable {
    // SAFETY: immutable after init except `cache`, which is guarded by `lock`.
    struct Frame {
        var compressedRange: Range<Int>
        var decompressedRange: Range<Int>
        var label: String
        var shuffled: Bool
    }

    public let path: String
    public let byteCount: Int
    /// The marker frame's contents; nil for seekable archives written by other tools.
    public let marker: ArchiveMarker?
    let frames: [Frame]
    private let file: MappedFile
    private let lock = NSLock()
    private var cache: (index: Int, bytes: [UInt8])?

    public var storageDescription: String { path }
    public var frameCount: Int { frames.count }

    public init(readingAt path: String) throws(TransportError) {
        self.path = path
        do { file = try MappedFile(readingAt: path) } catch { throw .reading(error) }
        let entries = try Self.readSeekTable(file, path: path)
        var frames: [Frame] = []
        var compressedOffset = 0
        var decompressedOffset = 0
        var marker: ArchiveMarker?
        for (index, entry) in entries.enumerated() {
            let compressedRange = compressedOffset..<(compressedOffset + entry.compressed)
            let magic = file.withUnsafeBytes(in: compressedRange.lowerBound..<min(compressedRange.upperBound, compressedRange.lowerBound + 4)) { raw in
                raw.count == 4 ? raw.loadUnaligned(as: UInt32.self).littleEndian : 0
            }
            if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
                // A skippable frame: ours carries the marker, others are ignored like zstd -d does.
                guard entry.decompressed == 0 else {
                    throw .malformed(path: path, message: "skippable frame \(index) claims \(entry.decompressed) decompressed bytes")
                }
                if magic == SeekableArchiveFormat.markerMagic, index == 0, entry.compressed >= 8 {
                    let payload = file.withUnsafeBytes(in: (compressedRange.lowerBound + 8)..<compressedRange.upperBound) { Data($0) }
                    marker = try? JSONDecoder().decode(ArchiveMarker.self, from: payload)
                }
            } else {
                frames.append(Frame(compressedRange: compressedRange,
                                    decompressedRange: decompressedOffset..<(decompressedOffset + entry.decompressed),
                                    label: "frame \(frames.count)", shuffled: false))
                decompressedOffset += entry.decompressed
            }
            compressedOffset += entry.compressed
        }
        if let marker {
            guard marker.format == SeekableArchiveFormat.markerFormatName else {
                throw .malformed(path: path, message: "marker frame names format '\(marker.format)'")
            }
            guard marker.version <= SeekableArchiveFormat.markerVersion else {
                throw .malformed(path: path, message: "archive version \(marker.version) is newer than this tool reads (\(SeekableArchiveFormat.markerVersion))")
            }
            guard marker.frameLabels.count == frames.count, marker.originalByteCount == decompressedOffset else {
                throw .malformed(path: path, message: "marker lists \(marker.frameLabels.count) frames / \(marker.originalByteCount) bytes, seek table has \(frames.count) / \(decompressedOffset)")
            }
            for index in frames.indices { frames[index].label = marker.frameLabels[index] }
            for index in marker.shuffledFrames {
                guard frames.indices.contains(index) else {
                    throw .malformed(path: path, message: "marker shuffles frame \(index) of \(frames.count)")
                }
                frames[index].shuffled = true
            }
        }
        self.frames = frames
        self.marker = marker
        self.byteCount = decompressedOffset
    }

    /// Seek-table entries, validated against the file size.
    static func readSeekTable(_ file: MappedFile, path: String) throws(TransportError) -> [(compressed: Int, decompressed: Int)] {
        let size = file.byteCount
        let footer = SeekableArchiveFormat.footerByteCount
        guard size >= 8 + footer else {
            throw .malformed(path: path, message: "\(size) bytes is too short for a seekable zstd archive")
        }
        let (frameCount, descriptor, magic) = file.withUnsafeBytes(in: (size - footer)..<size) { raw in
            (raw.loadUnaligned(as: UInt32.self).littleEndian, raw[4], raw.loadUnaligned(fromByteOffset: 5, as: UInt32.self).littleEndian)
        }
        guard magic == SeekableArchiveFormat.seekableFooterMagic else {
            throw .malformed(path: path, message: "no seek table (last 4 bytes are 0x\(String(magic, radix: 16)), expected 0x8f92eab1): not written by `ifconvert compress`; restore it with `zstd -d`")
        }
        guard descriptor & 0x7C == 0 else {
            throw .malformed(path: path, message: "seek table descriptor 0x\(String(descriptor, radix: 16)) has reserved bits set")
        }
        let entrySize = descriptor & 0x80 != 0 ? 12 : 8
        guard let tableBytes = CheckedMath.multiply(Int(frameCount), entrySize),
              let frameBytes = CheckedMath.add(tableBytes, footer + 8), frameBytes <= size else {
            throw .malformed(path: path, message: "seek table of \(frameCount) frames does not fit in \(size) bytes")
        }
        let tableStart = size - frameBytes
        let (skippableMagic, declaredSize) = file.withUnsafeBytes(in: tableStart..<(tableStart + 8)) { raw in
            (raw.loadUnaligned(as: UInt32.self).littleEndian, raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self).littleEndian)
        }
        guard skippableMagic == SeekableArchiveFormat.seekTableMagic, Int(declaredSize) == frameBytes - 8 else {
            throw .malformed(path: path, message: "seek table frame header at offset \(tableStart) is inconsistent (magic 0x\(String(skippableMagic, radix: 16)), size \(declaredSize), expected \(frameBytes - 8))")
        }
        var entries: [(Int, Int)] = []
        var total = 0
        file.withUnsafeBytes(in: (tableStart + 8)..<(tableStart + 8 + tableBytes)) { raw in
            for index in 0..<Int(frameCount) {
                let compressed = Int(raw.loadUnaligned(fromByteOffset: index * entrySize, as: UInt32.self).littleEndian)
                let decompressed = Int(raw.loadUnaligned(fromByteOffset: index * entrySize + 4, as: UInt32.self).littleEndian)
                entries.append((compressed, decompressed))
                total += compressed
            }
        }
        guard total == tableStart else {
            throw .malformed(path: path, message: "seek table frames add up to \(total) bytes, but the data ends at \(tableStart)")
        }
        return entries
    }

    /// The frames covering `range` of the original file.
    private func frameIndices(covering range: Range<Int>) -> Range<Int> {
        guard !range.isEmpty else { return 0..<0 }
        var low = 0, high = frames.count
        while low < high {
            let mid = (low + high) / 2
            if frames[mid].decompressedRange.upperBound <= range.lowerBound { low = mid + 1 } else { high = mid }
        }
        var end = low
        while end < frames.count, frames[end].decompressedRange.lowerBound < range.upperBound { end += 1 }
        return low..<end
    }

    /// Decompressed bytes of one frame (un-shuffled), cached for the next read of the same frame.
    func frameBytes(_ index: Int) throws(TransportError) -> [UInt8] {
        if let hit = lock.withLock({ cache?.index == index ? cache?.bytes : nil }) { return hit }
        let frame = frames[index]
        var output = [UInt8](repeating: 0, count: frame.decompressedRange.count)
        let outcome: Result<Void, TransportError> = file.withUnsafeBytes(in: frame.compressedRange) { compressed in
            output.withUnsafeMutableBytes { out in
                Result { () throws(TransportError) in try ZstdCodec.decompressFrame(compressed, into: out) }
            }
        }
        if case let .failure(error) = outcome {
            throw .corruptFrame(path: path, frame: index, holds: frame.label, message: error.description)
        }
        if frame.shuffled {
            let shuffled = output
            shuffled.withUnsafeBytes { source in output.withUnsafeMutableBytes { ByteShuffle.unshuffle16(source, into: $0) } }
        }
        lock.withLock { cache = (index, output) }
        return output
    }

    /// The original bytes of `range`.
    public func read(_ range: Range<Int>) throws(TransportError) -> [UInt8] {
        guard range.lowerBound >= 0, range.upperBound <= byteCount else {
            throw .malformed(path: path, message: "read of \(range) outside \(byteCount) bytes")
        }
        var result: [UInt8] = []
        result.reserveCapacity(range.count)
        for index in frameIndices(covering: range) {
            let frame = frames[index]
            let bytes = try frameBytes(index)
            let low = max(range.lowerBound, frame.decompressedRange.lowerBound) - frame.decompressedRange.lowerBound
            let high = min(range.upperBound, frame.decompressedRange.upperBound) - frame.decompressedRange.lowerBound
            result += bytes[low..<high]
        }
        return result
    }

    public func materialize(_ range: Range<Int>) throws(TensorIOError) -> ByteSlice {
        do {
            return ByteSlice(bytes: try read(range))
        } catch {
            throw .malformed(path: path, message: error.detail)
        }
    }

    /// Lazy access for readers. A corrupt frame here is a programmer error: callers that can meet
    /// corrupt archives go through `materialize` (or `read`) first, which reports it.
    public func withUnsafeBytes<R>(in range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let bytes: [UInt8]
        do { bytes = try read(range) } catch { preconditionFailure("\(error)") }
        return try bytes.withUnsafeBytes(body)
    }

    /// One tensor's bytes (a pack's or a safetensors file's), decoding only the frames of the
    /// header and of that tensor.
    public func tensorBytes(named name: String) throws(TensorIOError) -> [UInt8] {
        try ArchiveSegments.openArchivedSource(self).tensor(named: name).data.materialized().copyBytes()
    }

    /// Writes the original file to `destination` (temp file + rename), frame by frame.
    public func restore(to destination: String, overwrite: Bool, progress: (Int, Int) -> Void = { _, _ in }) throws {
        let writer = try AtomicFileWriter(destination: destination, overwrite: overwrite)
        for index in frames.indices {
            try writer.write(try frameBytes(index))
            progress(frames[index].decompressedRange.upperBound, byteCount)
        }
        try writer.commit()
    }
}
