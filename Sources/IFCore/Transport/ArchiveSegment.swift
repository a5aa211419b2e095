/// A piece of the original file the archive writer keeps intact inside frames: the header, or
/// one tensor's bytes (alignment padding belongs to the segment before it).
public struct ArchiveSegment: Sendable, Equatable {
    public var range: Range<Int>
    public var label: String
    /// 2 for fp16/bf16/int16 data: such segments may be byte-shuffled. 0 otherwise.
    public var shuffleWidth: Int

    public init(range: Range<Int>, label: String, shuffleWidth: Int = 0) {
        self.range = range
        self.label = label
        self.shuffleWidth = shuffleWidth
    }
}

/// One planned data frame: a byte range of the original file.
struct PlannedFrame: Equatable {
    var range: Range<Int>
    var label: String
    var shuffled: Bool
}

enum FramePlanner {
    /// Frames for `segments` (which must tile 0..<fileByteCount in order): large segments split at
    /// `maximumFrameByteCount` (even sizes, so 16-bit planes stay aligned), small consecutive ones
    /// grouped up to `groupingByteCount` when they agree on shuffling.
    static func plan(
        segments: [ArchiveSegment], fileByteCount: Int, shuffle: Bool,
        maximumFrameByteCount: Int = SeekableArchiveFormat.maximumFrameByteCount,
        groupingByteCount: Int = SeekableArchiveFormat.groupingByteCount
    ) throws(TransportError) -> [PlannedFrame] {
        var expectedStart = 0
        for segment in segments {
            guard segment.range.lowerBound == expectedStart else {
                throw .malformed(path: "", message: "segment '\(segment.label)' starts at \(segment.range.lowerBound), expected \(expectedStart)")
            }
            expectedStart = segment.range.upperBound
        }
        guard expectedStart == fileByteCount else {
            throw .malformed(path: "", message: "segments end at \(expectedStart), file has \(fileByteCount) bytes")
        }
        var frames: [PlannedFrame] = []
        var pending: PlannedFrame?
        var pendingFirst = ""
        var pendingLast = ""
        func flush() {
            guard var frame = pending else { return }
            frame.label = pendingFirst == pendingLast ? pendingFirst : "\(pendingFirst) .. \(pendingLast)"
            frames.append(frame)
            pending = nil
        }
        for segment in segments where !segment.range.isEmpty {
            let shuffled = shuffle && segment.shuffleWidth == 2
            if segment.range.count > groupingByteCount {
                flush()
                var start = segment.range.lowerBound
                let step = maximumFrameByteCount & ~1
                var part = 0
                let parts = (segment.range.count + step - 1) / step
                while start < segment.range.upperBound {
                    let end = min(start + step, segment.range.upperBound)
                    let label = parts == 1 ? segment.label : "\(segment.label) [part \(part + 1)/\(parts)]"
                    frames.append(PlannedFrame(range: start..<end, label: label, shuffled: shuffled))
                    start = end
                    part += 1
                }
                continue
            }
            if let current = pending, current.shuffled == shuffled,
               current.range.count + segment.range.count <= groupingByteCount {
                pending = PlannedFrame(range: current.range.lowerBound..<segment.range.upperBound, label: "", shuffled: shuffled)
                pendingLast = segment.label
            } else {
                flush()
                pending = PlannedFrame(range: segment.range, label: "", shuffled: shuffled)
                pendingFirst = segment.label
                pendingLast = segment.label
            }
        }
        flush()
        return frames
    }
}
