import IFCore

/// A quantization scheme a user asks for with `--type`.
public enum QuantScheme: String, Sendable, CaseIterable, Codable {
    case q8_0
    case int8
    case q4_0
    case q4_k

    /// Elements per block along a row (int8 is row-wise: any row length fits).
    public var blockSize: Int {
        switch self {
        case .q8_0, .q4_0: 32
        case .q4_k: 256
        case .int8: 1
        }
    }

    /// The GGUF storage type of the quantized weight (int8's scales are a companion F32 tensor).
    public var storageType: GGMLType {
        switch self {
        case .q8_0: .q8_0
        case .q4_0: .q4_0
        case .q4_k: .q4_k
        case .int8: .i8
        }
    }

    /// Bytes for a [rows, rowLength] weight (int8 includes its F32 scales), nil if it does not fit.
    public func byteCount(rows: Int, rowLength: Int) -> Int? {
        guard rowLength % blockSize == 0 else { return nil }
        switch self {
        case .int8: return rows * rowLength + rows * 4
        default: return storageType.byteCount(elementCount: rows * rowLength)
        }
    }
}
