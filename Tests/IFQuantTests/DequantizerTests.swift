import Testing
import IFCore

/// Plain (block size 1) types through `Dequantizer`, including unaligned source bytes.
@Suite("Dequantizer: plain types and bounds")
struct DequantizerTests {
    static let values: [Float] = [0, 1, -2.5, 65504, -0.000061035156, 3.140625, 1e-7, -7]

    static func bytes(_ type: GGMLType, _ values: [Float]) -> [UInt8] {
        switch type {
        case .f32: values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        case .f16: values.flatMap { withUnsafeBytes(of: Float16($0).bitPattern.littleEndian, Array.init) }
        case .bf16: values.flatMap { withUnsafeBytes(of: UInt16($0.bitPattern >> 16).littleEndian, Array.init) }
        case .f64: values.flatMap { withUnsafeBytes(of: Double($0).bitPattern.littleEndian, Array.init) }
        case .i8: values.map { UInt8(bitPattern: Int8(clamping: Int($0))) }
        case .i16: values.flatMap { withUnsafeBytes(of: Int16(clamping: Int($0)).littleEndian, Array.init) }
        case .i32: values.flatMap { withUnsafeBytes(of: Int32(clamping: Int($0)).littleEndian, Array.init) }
        case .i64: values.flatMap { withUnsafeBytes(of: Int64($0).littleEndian, Array.init) }
        default: []
        }
    }

    static func expected(_ type: GGMLType, _ v: Float) -> Float {
        switch type {
        case .f32, .f64: v
        case .f16: Float(Float16(v))
        case .bf16: Float(bitPattern: v.bitPattern & 0xffff_0000)
        case .i8: Float(Int8(clamping: Int(v)))
        case .i16: Float(Int16(clamping: Int(v)))
        case .i32, .i64: Float(Int(v))
        default: .nan
        }
    }

    @Test(arguments: [GGMLType.f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64])
    func plainTypesWidenFromUnalignedBytes(type: GGMLType) throws {
        let raw = [0xAB] + Self.bytes(type, Self.values)   // one byte of padding: unaligned data
        var out = [Float](repeating: .nan, count: 4)
        try raw.withUnsafeBytes { all in
            let data = UnsafeRawBufferPointer(rebasing: all[1...])
            try out.withUnsafeMutableBufferPointer { dst in
                try Dequantizer.dequantizeRows(of: data, type: type, rowLength: 4, rows: 1..<2, into: dst)
            }
        }
        #expect(out.map(\.bitPattern) == Self.values[4..<8].map { Self.expected(type, $0).bitPattern })
    }

    @Test func badRangesThrowInsteadOfReading() {
        let raw = [UInt8](repeating: 0, count: 34 * 2)
        var out = [Float](repeating: 0, count: 64)
        raw.withUnsafeBytes { bytes in
            out.withUnsafeMutableBufferPointer { dst in
                #expect(throws: TensorIOError.self) { try Dequantizer.dequantizeRows(of: bytes, type: .q8_0, rowLength: 48, rows: 0..<1, into: dst) }
                #expect(throws: TensorIOError.self) { try Dequantizer.dequantizeRows(of: bytes, type: .q8_0, rowLength: 32, rows: 1..<3, into: dst) }
                let small = UnsafeMutableBufferPointer(rebasing: dst[0..<16])
                #expect(throws: TensorIOError.self) { try Dequantizer.dequantizeRows(of: bytes, type: .q8_0, rowLength: 32, rows: 0..<1, into: small) }
                #expect(throws: TensorIOError.self) {
                    try Dequantizer.dequantizeInt8RowwiseRows(weights: bytes, scales: UnsafeRawBufferPointer(rebasing: bytes[0..<4]),
                                                              rowLength: 8, rows: 0..<2, into: dst)
                }
            }
        }
    }
}
