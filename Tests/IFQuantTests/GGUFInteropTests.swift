import Foundation
import Testing
import IFCore
@testable import IFQuant

/// Our bytes and values against gguf-py's (fixtures/quant, made by
/// scripts/fixturegen/quant_reference.py with gguf 0.19.0 / numpy 2.4.6; see its manifest.json).
@Suite("GGUF interop (gguf-py fixtures)")
struct GGUFInteropTests {
    static let root = repositoryRoot().appendingPathComponent("fixtures/quant")

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(name)))
    }

    static func floats(_ name: String) throws -> [Float] {
        let raw = try bytes(name)
        return (0..<(raw.count / 4)).map { i in
            Float(bitPattern: UInt32(raw[4 * i]) | UInt32(raw[4 * i + 1]) << 8 | UInt32(raw[4 * i + 2]) << 16 | UInt32(raw[4 * i + 3]) << 24)
        }
    }

    static let rows = 12, cols = 512

    /// gguf.quants.quantize's bytes equal ours, on both our paths.
    @Test(arguments: [QuantScheme.q8_0, .q4_0])
    func quantizedBytesEqualGGUFPy(scheme: QuantScheme) throws {
        let matrix = try Self.floats("matrix.f32")
        let expected = try Self.bytes("\(scheme.rawValue).bin")
        let v = view("matrix", matrix, shape: [Self.rows, Self.cols])
        for implementation in [TensorQuantizer.Implementation.reference, .fast(threads: 2)] {
            let ours = try TensorQuantizer.quantize(v, as: scheme, implementation: implementation)
            #expect(ours.data.count == expected.count)
            let firstDifference = zip(ours.data, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            #expect(firstDifference == nil, "first differing byte \(firstDifference ?? -1) (block \((firstDifference ?? 0) / scheme.storageType.blockByteCount))")
        }
    }

    /// gguf.quants.dequantize's floats equal our dequantizer's, for gguf-py's own blocks and random ones.
    @Test(arguments: ["q8_0", "q4_0", "random_q8_0", "random_q4_0", "random_q4_k"])
    func dequantizedValuesEqualGGUFPy(name: String) throws {
        let type: GGMLType = name.hasSuffix("q8_0") ? .q8_0 : (name.hasSuffix("q4_0") ? .q4_0 : .q4_k)
        let blocks = try Self.bytes("\(name).bin")
        let expected = try Self.floats("\(name).dequant.f32")
        let rows = name.hasPrefix("random") ? 1 : Self.rows
        let rowLength = expected.count / rows
        for reference in [false, true] {
            var ours = [Float](repeating: .nan, count: expected.count)
            try blocks.withUnsafeBytes { raw in
                try ours.withUnsafeMutableBufferPointer { out in
                    if reference {
                        try Dequantizer.dequantizeRowsReference(of: raw, type: type, rowLength: rowLength, rows: 0..<rows, into: out)
                    } else {
                        try Dequantizer.dequantizeRows(of: raw, type: type, rowLength: rowLength, rows: 0..<rows, into: out)
                    }
                }
            }
            let mismatch = ours.indices.first { ours[$0].bitPattern != expected[$0].bitPattern }
            #expect(mismatch == nil, "element \(mismatch ?? -1): ours \(mismatch.map { ours[$0] } ?? 0), gguf-py \(mismatch.map { expected[$0] } ?? 0)")
        }
    }

    /// Dequantizing a middle range of rows gives exactly those rows of the whole tensor.
    @Test func rowRangesMatchTheWholeTensor() throws {
        let blocks = try Self.bytes("q4_0.bin")
        let expected = try Self.floats("q4_0.dequant.f32")
        var part = [Float](repeating: 0, count: 3 * Self.cols)
        try blocks.withUnsafeBytes { raw in
            try part.withUnsafeMutableBufferPointer { out in
                try Dequantizer.dequantizeRows(of: raw, type: .q4_0, rowLength: Self.cols, rows: 4..<7, into: out)
            }
        }
        #expect(part.map(\.bitPattern) == expected[(4 * Self.cols)..<(7 * Self.cols)].map(\.bitPattern))
        // Asking for rows past the end throws instead of reading out of bounds.
        #expect(throws: TensorIOError.self) {
            try blocks.withUnsafeBytes { raw in
                try part.withUnsafeMutableBufferPointer { out in
                    try Dequantizer.dequantizeRows(of: raw, type: .q4_0, rowLength: Self.cols, rows: 10..<13, into: out)
                }
            }
        }
    }
}
