import Testing
@testable import PyTorchReader

/// The strided gather (row copies when the inner stride is 1) against a plain per-element reference.
@Suite struct StridedViewTests {
    /// SplitMix64: deterministic cases without Foundation.
    struct Generator {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(bound))
        }
    }

    /// Output element i (row-major over `shape`) is storage element offset + sum(index_d * stride_d).
    static func reference(_ storage: [UInt8], size: Int, offset: Int, shape: [Int], strides: [Int]) -> [UInt8] {
        let count = shape.reduce(1, *)
        var out: [UInt8] = []
        for linear in 0..<count {
            var rest = linear, element = offset
            for d in stride(from: shape.count - 1, through: 0, by: -1) {
                element += (rest % shape[d]) * strides[d]
                rest /= shape[d]
            }
            out += storage[(element * size)..<((element + 1) * size)]
        }
        return out
    }

    @Test(arguments: 0..<200)
    func gatherMatchesReference(seed: Int) throws {
        var rng = Generator(state: UInt64(seed) &* 7919)
        let dtype = [DType.f16, .f32, .u8, .i64, .bf16][rng.next(5)]
        let rank = 1 + rng.next(4)
        let shape = (0..<rank).map { _ in 1 + rng.next(5) }
        // Strides: a permuted contiguous layout of a bigger box, with random steps and sometimes 0.
        var strides = [Int](repeating: 0, count: rank)
        var extent = 1
        for d in (0..<rank).shuffled(using: &rng) {
            let step = rng.next(6) == 0 ? 0 : 1 + rng.next(3)
            strides[d] = step * extent
            extent *= shape[d] * max(step, 1) + rng.next(2)
        }
        let offset = rng.next(7)
        let record = TensorRecord(
            storage: StorageRecord(key: "0", typeName: "t", dtype: dtype, elementSize: dtype.byteSize, declaredElementCount: 0, location: "cpu", legacyView: nil),
            dtype: dtype, storageOffset: offset, shape: shape, strides: strides, isParameter: false)
        let view = try StridedView(record, name: "t", path: "<test>")
        let needed = try view.requiredStorageBytes(name: "t", path: "<test>")
        let storage = (0..<needed).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) }
        let got = view.bytes(from: ByteSlice(bytes: storage)).copyBytes()
        #expect(got == Self.reference(storage, size: dtype.byteSize, offset: offset, shape: shape, strides: strides),
                "shape \(shape) strides \(strides) offset \(offset) \(dtype)")
    }

    @Test func contiguityIgnoresSizeOneDimensions() throws {
        func view(_ shape: [Int], _ strides: [Int]) throws -> StridedView {
            try StridedView(TensorRecord(
                storage: StorageRecord(key: "0", typeName: "t", dtype: .f32, elementSize: 4, declaredElementCount: 0, location: "cpu", legacyView: nil),
                dtype: .f32, storageOffset: 0, shape: shape, strides: strides, isParameter: false), name: "t", path: "<test>")
        }
        #expect(try view([2, 3], [3, 1]).isContiguous)
        #expect(try view([2, 1, 3], [3, 99, 1]).isContiguous)
        #expect(try !view([2, 3], [1, 2]).isContiguous)
        #expect(try !view([2, 3], [0, 1]).isContiguous)
        #expect(try view([], []).isContiguous)
    }
}

extension StridedViewTests.Generator: RandomNumberGenerator {
    mutating func next() -> UInt64 { UInt64(next(Int.max)) }
}
