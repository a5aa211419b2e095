/// Byte layouts of the quantized blocks a pack holds. They are ggml's (`ggml-common.h`) bit for bit,
/// so GGUF tools read our tensors; all multi-byte fields are little-endian and may be unaligned in a
/// file, so they are always read with `loadUnaligned`. See docs/FORMAT.md, "Quantized encodings".
public enum BlockLayout {
    /// q8_0: `d` (fp16) then 32 signed bytes; value = d * q.
    public enum Q8_0 {
        public static let elementCount = 32
        public static let byteCount = 34
        public static let scaleOffset = 0
        public static let quantsOffset = 2
    }

    /// q4_0: `d` (fp16) then 16 bytes; byte j holds element j in its low nibble and element j + 16
    /// in its high nibble; value = d * (nibble - 8).
    public enum Q4_0 {
        public static let elementCount = 32
        public static let byteCount = 18
        public static let scaleOffset = 0
        public static let quantsOffset = 2
    }

    /// q4_k: a 256-element super-block of 8 sub-blocks of 32. `d` (fp16), `dmin` (fp16), 12 bytes of
    /// 6-bit sub-block scales and mins (packed as `scaleAndMin(at:)` unpacks them), 128 bytes of
    /// nibbles: each 32-byte group g holds sub-block 2g in its low nibbles and 2g + 1 in its high
    /// nibbles. value = d * scale_j * q - dmin * min_j.
    public enum Q4_K {
        public static let elementCount = 256
        public static let byteCount = 144
        public static let subBlockCount = 8
        public static let subBlockLength = 32
        public static let scaleOffset = 0
        public static let minScaleOffset = 2
        public static let scalesOffset = 4
        public static let scalesByteCount = 12
        public static let quantsOffset = 16

        /// The 6-bit scale and min of sub-block `j` (0..<8) from the 12 packed bytes `s`: sub-blocks
        /// 0-3 use the low 6 bits of s[j] and s[j+4]; sub-blocks 4-7 take their low 4 bits from s[j+4]
        /// (scale: low nibble, min: high nibble) and their high 2 bits from the top bits of s[j-4]
        /// (scale) and s[j] (min).
        @inlinable
        public static func scaleAndMin(at j: Int, in s: UnsafeRawPointer) -> (scale: UInt8, min: UInt8) {
            let b = { (i: Int) -> UInt8 in s.load(fromByteOffset: i, as: UInt8.self) }
            if j < 4 {
                return (b(j) & 63, b(j + 4) & 63)
            }
            return ((b(j + 4) & 0x0F) | ((b(j - 4) >> 6) << 4), (b(j + 4) >> 4) | ((b(j) >> 6) << 4))
        }
    }

    // int8_rowwise (an I8 weight plus a companion F32 tensor of per-row scales, value = q * scale[row])
    // has no blocks; its naming lives with the pack (PackNaming), its dequantization in Dequantizer.

    /// fp16 bits -> Float (exact).
    @inlinable
    public static func half(_ bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }
}
