/// Element types, spelled as the safetensors format spells them (this spelling is also what
/// `inspect --json` prints). Sub-byte and exotic types newer writers emit are included so that
/// files holding them open; conversion code says clearly when it cannot handle one.
public enum DType: String, Sendable, CaseIterable, Codable {
    case f64 = "F64"
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case i64 = "I64"
    case i32 = "I32"
    case i16 = "I16"
    case i8 = "I8"
    case u64 = "U64"
    case u32 = "U32"
    case u16 = "U16"
    case u8 = "U8"
    case bool = "BOOL"
    case f8e4m3 = "F8_E4M3"
    case f8e5m2 = "F8_E5M2"
    case f8e8m0 = "F8_E8M0"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2, .f8e8m0: 1
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16, .f8e4m3, .f8e5m2, .f8e8m0: true
        default: false
        }
    }

    /// Parses the safetensors spelling; nil for an unknown name.
    public init?(safetensorsName: String) {
        self.init(rawValue: safetensorsName)
    }
}
