/// GGUF tensor names for pack tensors. ggml keeps at most 63 name bytes, real checkpoint names are
/// longer (`encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight` is 68), so:
/// - a name of at most 63 UTF-8 bytes is used verbatim;
/// - a longer one becomes its first 54 bytes (cut back to a whole UTF-8 character) + `~` + the first
///   8 hex digits of the SHA-256 of the full name: readable, deterministic, at most 63 bytes.
/// Companion tensors (the per-row scales of `int8_rowwise`) are named as if their original name
/// were `<original>:scale`. The exact original names are kept in the pack's metadata
/// (`if.tensor.names`), and every command speaks original names.
public enum PackNaming {
    public static let hashSeparator: Character = "~"
    static let hashDigits = 8
    public static let scaleSuffix = ":scale"

    public static func ggufName(for originalName: String) -> String {
        let utf8 = Array(originalName.utf8)
        guard utf8.count > GGUFLimits.maxNameByteCount else { return originalName }
        var keep = GGUFLimits.maxNameByteCount - 1 - hashDigits
        // Do not cut a multi-byte character: continuation bytes are 0b10xxxxxx.
        while keep > 0, utf8[keep] & 0xC0 == 0x80 { keep -= 1 }
        let digest = String(SHA256.hex(of: utf8).prefix(hashDigits))
        return String(decoding: utf8[0..<keep], as: UTF8.self) + String(hashSeparator) + digest
    }

    public static func scaleGGUFName(for originalName: String) -> String {
        ggufName(for: originalName + scaleSuffix)
    }
}
