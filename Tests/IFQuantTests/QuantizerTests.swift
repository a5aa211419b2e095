import Testing
import IFCore
@testable import IFQuant

/// Bounds on quantization error for weights-like (normal) data, from the schemes' step sizes: q8_0
/// and int8 keep ~7 bits of a block's range, q4 ~3. Generous enough for any seed, tight enough to
/// catch a wrong scale or nibble order (those give relative errors near 1).
enum Tolerance {
    static let q8RelativeRMS = 0.01
    static let int8RelativeRMS = 0.02
    static let q4_0RelativeRMS = 0.15
    static let q4_kRelativeRMS = 0.12
}

struct Case: CustomStringConvertible, Sendable {
    let scheme: QuantScheme
    let rows: Int
    let rowLength: Int
    var description: String { "\(scheme.rawValue) [\(rows), \(rowLength)]" }
}

let shapeCases: [Case] =
    [(1, 32), (3, 64), (7, 96), (5, 288), (2, 1728)].flatMap { r, c in
        [Case(scheme: .q8_0, rows: r, rowLength: c), Case(scheme: .q4_0, rows: r, rowLength: c)]
    } + [(1, 256), (3, 512), (2, 6912)].map { Case(scheme: .q4_k, rows: $0, rowLength: $1) }
    + [(1, 1), (3, 17), (5, 100), (4, 1728), (2, 4099)].map { Case(scheme: .int8, rows: $0, rowLength: $1) }

@Suite("Quantizers: fast path vs reference")
struct QuantizerTests {
    @Test(arguments: shapeCases, Pattern.allCases)
    func fastMatchesReference(testCase: Case, pattern: Pattern) throws {
        let values = pattern.values(rows: testCase.rows, rowLength: testCase.rowLength)
        let v = view("w", values, shape: [testCase.rows, testCase.rowLength])
        let reference = try TensorQuantizer.quantize(v, as: testCase.scheme, implementation: .reference, measureError: true)
        let fast = try TensorQuantizer.quantize(v, as: testCase.scheme, implementation: .fast(threads: 3), measureError: true)
        #expect(fast.data == reference.data)
        #expect(fast.rowScales == reference.rowScales)
        #expect(fast.error == reference.error)
        let expectedBytes = testCase.scheme.byteCount(rows: testCase.rows, rowLength: testCase.rowLength)
        #expect(reference.byteCount == expectedBytes)

        // Dequantizing: SIMD and scalar agree bit for bit; the values are near the input.
        let fastValues = try fast.dequantized()
        let referenceValues = try referenceDequantized(reference)
        #expect(fastValues.map(\.bitPattern) == referenceValues.map(\.bitPattern))
        if pattern == .normal {
            let bound = switch testCase.scheme {
            case .q8_0: Tolerance.q8RelativeRMS
            case .int8: Tolerance.int8RelativeRMS
            case .q4_0: Tolerance.q4_0RelativeRMS
            case .q4_k: Tolerance.q4_kRelativeRMS
            }
            #expect(reference.error!.relativeRMSError < bound)
        }
        if pattern == .zeroRows {
            for r in stride(from: 0, to: testCase.rows, by: 2) {
                #expect(fastValues[(r * testCase.rowLength)..<((r + 1) * testCase.rowLength)].allSatisfy { $0 == 0 })
            }
        }
    }

    /// Without error measurement q8_0 and int8 are encoded straight from F32 and F16 source bytes
    /// (the AVX2 kernels of CQuantKernels where the CPU has them): same bytes and scales as the reference.
    @Test(arguments: shapeCases.filter { $0.scheme == .q8_0 || $0.scheme == .int8 }, Pattern.allCases)
    func sourceKernelsMatchReference(testCase: Case, pattern: Pattern) throws {
        let shape = [testCase.rows, testCase.rowLength]
        let values = pattern.values(rows: testCase.rows, rowLength: testCase.rowLength)
        let halves = values.map { Float16($0).bitPattern }
        let f16 = TensorView(name: "w", dtype: .f16, shape: shape, data: ByteSlice(bytes: halves.withUnsafeBytes { Array($0) }))
        for v in [view("w", values, shape: shape), f16] {
            let reference = try TensorQuantizer.quantize(v, as: testCase.scheme, implementation: .reference)
            let fast = try TensorQuantizer.quantize(v, as: testCase.scheme, implementation: .fast(threads: 2))
            #expect(fast.data == reference.data, "\(v.dtype)")
            #expect(fast.rowScales?.map(\.bitPattern) == reference.rowScales?.map(\.bitPattern), "\(v.dtype)")
        }
    }

    /// inf/NaN in an fp16 source is reported with its position by the source kernels' path too.
    @Test(arguments: [QuantScheme.q8_0, .int8])
    func nonFiniteHalfSourceIsAnError(scheme: QuantScheme) {
        var halves = Pattern.normal.values(rows: 3, rowLength: 96).map { Float16($0).bitPattern }
        halves[96 + 70] = Float16.infinity.bitPattern
        let v = TensorView(name: "h", dtype: .f16, shape: [3, 96], data: ByteSlice(bytes: halves.withUnsafeBytes { Array($0) }))
        #expect(throws: QuantError.nonFinite(tensor: "h", row: 1, column: 70, value: "inf")) {
            _ = try TensorQuantizer.quantize(v, as: scheme, implementation: .fast(threads: 1))
        }
    }

    /// Output is the same for any worker count (rows are encoded independently).
    @Test(arguments: QuantScheme.allCases)
    func threadCountDoesNotChangeBytes(scheme: QuantScheme) throws {
        let rows = 37, rowLength = 512
        let v = view("w", Pattern.normal.values(rows: rows, rowLength: rowLength, seed: 7), shape: [rows, rowLength])
        let one = try TensorQuantizer.quantize(v, as: scheme, implementation: .fast(threads: 1))
        let many = try TensorQuantizer.quantize(v, as: scheme, implementation: .fast(threads: 4))
        #expect(one.data == many.data)
        #expect(one.rowScales == many.rowScales)
    }

    /// A conv weight [out, in, kh, kw] is quantized as [out, in*kh*kw] rows.
    @Test func convolutionWeightsAreRowsOfInTimesKernel() throws {
        let values = Pattern.normal.values(rows: 4, rowLength: 32 * 9)
        let conv = try TensorQuantizer.quantize(view("conv", values, shape: [4, 32, 3, 3]), as: .q8_0)
        let flat = try TensorQuantizer.quantize(view("conv", values, shape: [4, 288]), as: .q8_0)
        #expect(conv.rows == 4 && conv.rowLength == 288)
        #expect(conv.data == flat.data)
    }

    @Test(arguments: [(Float.infinity, 1, 5), (-Float.infinity, 0, 0), (Float.nan, 2, 63)])
    func nonFiniteInputIsAnErrorWithItsPosition(value: Float, row: Int, column: Int) {
        for scheme in QuantScheme.allCases {
            let rowLength = scheme == .q4_k ? 256 : 64
            var values = Pattern.normal.values(rows: 3, rowLength: rowLength)
            values[row * rowLength + column] = value
            for implementation in [TensorQuantizer.Implementation.reference, .fast(threads: 2)] {
                #expect(throws: QuantError.nonFinite(tensor: "blk.w", row: row, column: column, value: "\(value)")) {
                    _ = try TensorQuantizer.quantize(view("blk.w", values, shape: [3, rowLength]), as: scheme, implementation: implementation)
                }
            }
        }
    }

    /// Values so large that a block's fp16 scale would be inf are refused (int8's F32 scales are fine).
    @Test(arguments: QuantScheme.allCases)
    func scaleBeyondHalfRangeIsAnError(scheme: QuantScheme) throws {
        let rowLength = scheme == .q4_k ? 256 : 64
        var values = Pattern.normal.values(rows: 2, rowLength: rowLength)
        values[rowLength + 40] = 1e30
        let v = view("big", values, shape: [2, rowLength])
        if scheme == .int8 {
            let q = try TensorQuantizer.quantize(v, as: scheme, measureError: true)
            #expect(q.error!.relativeRMSError < Tolerance.int8RelativeRMS)
        } else {
            let column = scheme == .q4_k ? 0 : 32
            #expect(throws: QuantError.scaleOverflow(tensor: "big", row: 1, column: column, scheme: scheme.rawValue)) {
                _ = try TensorQuantizer.quantize(v, as: scheme)
            }
        }
    }

    @Test func rowLengthThatDoesNotFitTheBlockIsAnError() {
        #expect(throws: QuantError.self) {
            _ = try TensorQuantizer.quantize(view("x", [Float](repeating: 1, count: 48), shape: [2, 24]), as: .q8_0)
        }
        #expect(throws: QuantError.self) {
            _ = try TensorQuantizer.quantize(view("x", [Float](repeating: 1, count: 512), shape: [4, 128]), as: .q4_k)
        }
    }

    /// fp16 sources widen exactly, so quantizing fp16 bits equals quantizing their fp32 values.
    @Test(arguments: QuantScheme.allCases)
    func halfSourceEqualsItsWidenedValues(scheme: QuantScheme) throws {
        let values = Pattern.normal.values(rows: 6, rowLength: 512, seed: 3).map { Float(Float16($0)) }
        let halves = values.map { Float16($0).bitPattern }
        let halfView = TensorView(name: "h", dtype: .f16, shape: [6, 512], data: ByteSlice(bytes: halves.withUnsafeBytes { Array($0) }))
        let a = try TensorQuantizer.quantize(halfView, as: scheme)
        let b = try TensorQuantizer.quantize(view("h", values, shape: [6, 512]), as: scheme)
        #expect(a.data == b.data)
        #expect(a.rowScales == b.rowScales)
    }

    /// Hand-worked q8_0 block: absmax 127 gives d = 1, and k + 0.5 rounds away from zero.
    @Test func q8_0RoundsHalfAwayFromZero() throws {
        var values = [Float](repeating: 0, count: 32)
        values[0] = 127; values[1] = 2.5; values[2] = -2.5; values[3] = 0.49999997; values[4] = -126.5
        let q = try TensorQuantizer.quantize(view("t", values, shape: [1, 32]), as: .q8_0, implementation: .fast(threads: 1))
        #expect(Array(q.data[0..<2]) == [0x00, 0x3C])   // fp16 1.0
        #expect(q.data[2...6].map { Int8(bitPattern: $0) } == [127, 3, -3, 0, -127])
    }

    private func referenceDequantized(_ q: QuantizedTensor) throws -> [Float] {
        var out = [Float](repeating: 0, count: q.rows * q.rowLength)
        try q.data.withUnsafeBytes { bytes in
            try out.withUnsafeMutableBufferPointer { dst in
                if let scales = q.rowScales {
                    try scales.withUnsafeBytes { s in
                        try Dequantizer.dequantizeInt8RowwiseRowsReference(weights: bytes, scales: s, rowLength: q.rowLength, rows: 0..<q.rows, into: dst)
                    }
                } else {
                    try Dequantizer.dequantizeRowsReference(of: bytes, type: q.storageType, rowLength: q.rowLength, rows: 0..<q.rows, into: dst)
                }
            }
        }
        return out
    }
}
