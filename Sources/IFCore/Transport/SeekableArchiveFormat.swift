/// Layout of a compressed pack (`.gguf.zst`, `.safetensors.zst`): standard zstd frames that plain
/// `zstd -d` turns back into the original file, plus two skippable frames that `zstd -d` ignores:
///
///   [marker frame] [data frame 0] [data frame 1] ... [seek table frame]
///
/// - Data frames split the original file at tensor boundaries (a large tensor spans several
///   frames of at most `maximumFrameByteCount`; runs of small tensors share one frame), so one
///   tensor is read by decompressing only its frames.
/// - The seek table is the zstd seekable format (contrib/seekable_format): 8-byte entries
///   (compressed size, decompressed size) without per-entry checksums, because every data frame
///   carries zstd's own content checksum.
/// - The marker frame (skippable magic 0x184D2A5B) holds JSON: format name, version, what each
///   frame holds (for error messages), and which frames are byte-shuffled. Its seek-table entry
///   has decompressed size 0.
enum SeekableArchiveFormat {
    static let seekTableMagic: UInt32 = 0x184D_2A5E
    static let seekableFooterMagic: UInt32 = 0x8F92_EAB1
    static let markerMagic: UInt32 = 0x184D_2A5B
    static let footerByteCount = 9
    static let markerFormatName = "ifconvert-seekable-zstd"
    static let markerVersion = 1
    /// The seekable format stores sizes in 32 bits and its reference code caps frames at 1 GiB.
    static let maximumFrameByteCount = 32 << 20
    /// Consecutive small tensors are grouped up to this size: fewer frames, better ratio.
    static let groupingByteCount = 1 << 20
}

/// Contents of the marker frame.
public struct ArchiveMarker: Codable, Equatable, Sendable {
    public var format: String
    public var version: Int
    /// The original file's size in bytes.
    public var originalByteCount: Int
    /// A label per data frame ("header", "tensor 'x'", "tensors 'a' .. 'b'").
    public var frameLabels: [String]
    /// Indices of data frames stored byte-shuffled (16-bit planes).
    public var shuffledFrames: [Int]
}
