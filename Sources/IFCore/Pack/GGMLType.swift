/// Tensor storage types a pack can hold, with GGUF's numeric ids (ggml.h `enum ggml_type`). Only
/// the types ifconvert writes are listed; a pack holding another id is refused with its number.
public enum GGMLType: UInt32, Sendable, CaseIterable, Codable {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q8_0 = 8
    case q4_k = 12
    case i8 = 24
    case i16 = 25
    case i32 = 26
    case i64 = 27
    case f64 = 28
    case bf16 = 30

    /// Elements per block (1 for plain types).
    public var blockSize: Int {
        switch self {
        case .q4_0, .q8_0: 32
        case .q4_k: 256
        default: 1
        }
    }

    /// Bytes per block.
    public var blockByteCount: Int {
        switch self {
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .i8: 1
        case .i64, .f64: 8
        case .q4_0: 18
        case .q8_0: 34
        case .q4_k: 144
        }
    }

    public var isQuantized: Bool { blockSize > 1 }

    /// Lower-case name used on the command line and in reports ("q8_0", "f16").
    public var name: String {
        switch self {
        case .f32: "f32"
        case .f16: "f16"
        case .bf16: "bf16"
        case .f64: "f64"
        case .i8: "i8"
        case .i16: "i16"
        case .i32: "i32"
        case .i64: "i64"
        case .q4_0: "q4_0"
        case .q8_0: "q8_0"
        case .q4_k: "q4_k"
        }
    }

    /// Bytes for `elementCount` elements, or nil when the count is not a whole number of blocks
    /// or the product overflows.
    public func byteCount(elementCount: Int) -> Int? {
        guard elementCount >= 0, elementCount % blockSize == 0 else { return nil }
        return CheckedMath.multiply(elementCount / blockSize, blockByteCount)
    }
}
