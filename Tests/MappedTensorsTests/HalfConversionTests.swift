import Testing
@testable import MappedTensors

@Suite("fp16/bf16 conversion")
struct HalfConversionTests {
    /// Every one of the 65536 fp16 bit patterns widens identically on the F16C and the scalar path,
    /// and narrowing back gives the same bits (NaNs stay NaN).
    @Test func everyHalfRoundTrips() {
        let all = (0...UInt16.max).map { $0 }
        var fast = [Float](repeating: 0, count: all.count)
        var reference = [Float](repeating: 0, count: all.count)
        all.withUnsafeBufferPointer { s in
            fast.withUnsafeMutableBufferPointer { Float32Conversion.widenHalf(s, into: $0) }
            reference.withUnsafeMutableBufferPointer { Float32Conversion.widenHalfReference(s, into: $0) }
        }
        for i in all.indices {
            #expect(fast[i].bitPattern == reference[i].bitPattern || (fast[i].isNaN && reference[i].isNaN))
            if !reference[i].isNaN { #expect(Float(Float16(bitPattern: all[i])) == reference[i]) }
        }
        var back = [UInt16](repeating: 0, count: all.count)
        fast.withUnsafeBufferPointer { s in back.withUnsafeMutableBufferPointer { Float32Conversion.narrowToHalf(s, into: $0) } }
        for i in all.indices where !fast[i].isNaN { #expect(back[i] == all[i]) }
    }

    /// Narrowing: the F16C path, the scalar reference and Swift's own Float16 init (round to
    /// nearest even) agree, including ties, overflow to inf and subnormals.
    @Test(arguments: [Float(65504), 65519.99, 65520, 1e-8, 2.9802322e-8, 5.9604645e-8, 6.1e-5, -3.14159, 1.0009766, 1.00048828125, .infinity, 0x1p-25, 0x1.8p-25])
    func narrowingMatchesSwift(value: Float) {
        let input = [value, -value] + Array(repeating: value, count: 8)
        var fast = [UInt16](repeating: 0, count: input.count)
        var reference = [UInt16](repeating: 0, count: input.count)
        input.withUnsafeBufferPointer { s in
            fast.withUnsafeMutableBufferPointer { Float32Conversion.narrowToHalf(s, into: $0) }
            reference.withUnsafeMutableBufferPointer { Float32Conversion.narrowToHalfReference(s, into: $0) }
        }
        for i in input.indices {
            #expect(fast[i] == reference[i])
            #expect(reference[i] == Float16(input[i]).bitPattern)
        }
    }
}
