import Foundation
import IFCore
@testable import IFRunner
import Testing

/// Fast kernels against their plain Double-accumulating reference twins.
enum KernelTolerance {
    /// Float accumulation over k <= 4096 terms of O(1) products vs Double: errors ~ sqrt(k) * 2^-24 * |sum|.
    static let gemm: Float = 2e-5
    /// Element-wise functions: a few float ulps (libm erff/tanhf/expf vs Double).
    static let elementwise: Float = 1e-6
    /// Norms: float lane sums vs Double, then one rsqrt.
    static let norm: Float = 1e-5
}

@Suite("Kernels vs reference")
struct KernelTests {
    /// Small products (one call) and ones above `parallelMultiplyThreshold`, split over threads
    /// by rows (m >= n) or by columns, for every transpose combination.
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)], [(7, 13, 300), (301, 37, 400), (29, 333, 500)])
    func sgemmMatchesReference(transposes: (Bool, Bool), shape: (Int, Int, Int)) {
        let (transposeA, transposeB) = transposes
        let (m, n, k) = shape
        if m > 100 || n > 100 { #expect(m * n * k >= Kernels.parallelMultiplyThreshold) }
        let lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 2, ldc = n + 5
        let a = randomFloats((transposeA ? k : m) * lda, seed: 1)
        let b = randomFloats((transposeB ? n : k) * ldb, seed: 2)
        let c0 = randomFloats(m * ldc, seed: 3)
        var fast = c0, slow = c0
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                fast.withUnsafeMutableBufferPointer { cp in
                    Kernels.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5,
                                  a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: ldb, beta: 2,
                                  c: cp.baseAddress!, ldc: ldc)
                }
                slow.withUnsafeMutableBufferPointer { cp in
                    Kernels.Reference.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5,
                                            a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: ldb, beta: 2,
                                            c: cp.baseAddress!, ldc: ldc)
                }
            }
        }
        #expect(maxScaledError(fast, slow) <= KernelTolerance.gemm)
        // Padding columns beyond n are untouched.
        for i in 0..<m { for j in n..<ldc { #expect(fast[i * ldc + j] == c0[i * ldc + j]) } }
    }

    /// `WeightGemm` with row strides wider than the rows (X, W and Y), on the calling thread.
    @Test func weightGemmHonoursStrides() {
        let m = 77, n = 70, k = 64, lda = 200, ldb = 150, ldc = 90
        let a = randomFloats(m * lda, seed: 61), b = randomFloats(n * ldb, seed: 62)
        var slow = [Float](repeating: .nan, count: m * ldc)
        Kernels.Reference.sgemm(transposeA: false, transposeB: true, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: &slow, ldc: ldc)
        for kernel in WeightGemm.supported {
            var fast = [Float](repeating: .nan, count: m * ldc)
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    fast.withUnsafeMutableBufferPointer { cp in
                        WeightGemm.multiply(ap.baseAddress!, ldx: lda, rows: m, k: k, weights: UnsafeRawPointer(bp.baseAddress!), ldw: ldb,
                                            dtype: .f32, n: n, output: cp.baseAddress!, ldy: ldc, threads: 1, kernel: kernel)
                    }
                }
            }
            let written = (0..<m).flatMap { i in (0..<n).map { i * ldc + $0 } }
            #expect(maxScaledError(written.map { fast[$0] }, written.map { slow[$0] }) <= KernelTolerance.gemm)
            // Columns past n in each output row stay untouched.
            #expect(fast[n].isNaN && fast[(m - 1) * ldc + n].isNaN)
        }
    }

    /// OpenBLAS 0.3.21 picks generic SSE3 kernels on CPUs it does not know; the runner re-selects.
    @Test func blasUsesVectorKernelsOnAVX2Machines() {
        let core = Kernels.blasCoreName
        if Kernels.cpuSupportsAVX2FMA && getenv("OPENBLAS_CORETYPE") == nil {
            #expect(core != "Prescott", "OpenBLAS core \(core)")
        }
        #expect(!core.isEmpty)
    }

    @Test(arguments: [1, 5, 77, 1000])
    func softmaxMatchesReference(columns: Int) {
        var fast = randomFloats(3 * columns, seed: UInt64(columns), scale: 30)
        if columns > 1 { fast[0] = -.infinity }  // a masked entry must get probability 0
        var slow = fast
        fast.withUnsafeMutableBufferPointer { Kernels.softmaxRows($0.baseAddress!, rows: 3, columns: columns) }
        slow.withUnsafeMutableBufferPointer { Kernels.Reference.softmaxRows($0.baseAddress!, rows: 3, columns: columns) }
        #expect(maxScaledError(fast, slow) <= KernelTolerance.elementwise)
        for r in 0..<3 {
            let sum = fast[(r * columns)..<((r + 1) * columns)].reduce(0, +)
            #expect(abs(sum - 1) < 1e-5)
        }
        if columns > 1 { #expect(fast[0] == 0) }
    }

    /// The vector erf behind `geluExact`: within 5e-7 of libm's double erf on [-6, 6] (A&S 7.1.26's
    /// 1.5e-7 plus float rounding), ±1 at ±inf, NaN kept.
    @Test func vectorErfMatchesLibm() {
        var worst = 0.0
        for start in stride(from: -6.0, to: 6.0, by: 0.016) {
            let x = SIMD16<Float>((0..<16).map { Float(start + Double($0) * 0.001) })
            let y = Kernels.vectorErf(x)
            for lane in 0..<16 { worst = max(worst, abs(Double(y[lane]) - erf(Double(x[lane])))) }
        }
        #expect(worst <= 5e-7, "max abs error \(worst)")
        var special = SIMD16<Float>(repeating: 0.5)
        special[0] = .infinity; special[1] = -.infinity; special[2] = .nan; special[3] = -0.0
        let y = Kernels.vectorErf(special)
        #expect(y[0] == 1 && y[1] == -1 && y[2].isNaN && y[3] == 0)
    }

    @Test func geluMatchesReference() {
        let input = randomFloats(4096, seed: 7, scale: 8) + [0, -0.0, 1e-30, -20, 20]
        for (fastKernel, slowKernel) in [(Kernels.geluExact, Kernels.Reference.geluExact), (Kernels.geluTanh, Kernels.Reference.geluTanh)] {
            var fast = input, slow = input
            fast.withUnsafeMutableBufferPointer { fastKernel($0) }
            slow.withUnsafeMutableBufferPointer { slowKernel($0) }
            #expect(maxScaledError(fast, slow) <= KernelTolerance.elementwise)
        }
        // The two GELUs differ (tanh approximation) by up to ~1e-3 near |x| ~ 2: they are not interchangeable.
        var exact = input, tanh = input
        exact.withUnsafeMutableBufferPointer { Kernels.geluExact($0) }
        tanh.withUnsafeMutableBufferPointer { Kernels.geluTanh($0) }
        #expect(maxScaledError(exact, tanh) > 1e-5)
    }

    @Test(arguments: [1, 8, 100, 4096])
    func rmsNormMatchesReference(columns: Int) {
        let rows = 3
        let x = randomFloats(rows * columns, seed: 11, scale: 50)
        let weight = randomFloats(columns, seed: 12)
        var fast = [Float](repeating: 0, count: x.count), slow = fast
        Kernels.rmsNorm(x, rows: rows, columns: columns, weight: weight, epsilon: 1e-6, output: &fast)
        Kernels.Reference.rmsNorm(x, rows: rows, columns: columns, weight: weight, epsilon: 1e-6, output: &slow)
        #expect(maxScaledError(fast, slow) <= KernelTolerance.norm)
        // In place (x aliases output) gives the same.
        var inPlace = x
        inPlace.withUnsafeMutableBufferPointer { p in
            Kernels.rmsNorm(p.baseAddress!, rows: rows, columns: columns, weight: weight, epsilon: 1e-6, output: p.baseAddress!)
        }
        #expect(inPlace == fast)
    }

    @Test(arguments: [true, false])
    func layerNormMatchesReference(affine: Bool) {
        let rows = 4, columns = 4096
        let x = randomFloats(rows * columns, seed: 21, scale: 3).map { $0 + 10 }  // large mean: two-pass matters
        let weight = randomFloats(columns, seed: 22), bias = randomFloats(columns, seed: 23)
        var fast = [Float](repeating: 0, count: x.count), slow = fast
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                Kernels.layerNorm(x, rows: rows, columns: columns, weight: affine ? w.baseAddress : nil,
                                  bias: affine ? b.baseAddress : nil, epsilon: 1e-5, output: &fast)
                Kernels.Reference.layerNorm(x, rows: rows, columns: columns, weight: affine ? w.baseAddress : nil,
                                            bias: affine ? b.baseAddress : nil, epsilon: 1e-5, output: &slow)
            }
        }
        #expect(maxScaledError(fast, slow) <= KernelTolerance.norm)
    }

    @Test(arguments: [(32, 64, 1), (64, 7, 32), (96, 256, 32)])
    func groupNormMatchesReference(channels: Int, spatial: Int, groups: Int) {
        let x = randomFloats(channels * spatial, seed: 31, scale: 4)
        let weight = randomFloats(channels, seed: 32), bias = randomFloats(channels, seed: 33)
        var fast = [Float](repeating: 0, count: x.count), slow = fast
        Kernels.groupNorm(x, channels: channels, spatial: spatial, groups: groups, weight: weight, bias: bias, epsilon: 1e-5, output: &fast)
        Kernels.Reference.groupNorm(x, channels: channels, spatial: spatial, groups: groups, weight: weight, bias: bias, epsilon: 1e-5, output: &slow)
        #expect(maxScaledError(fast, slow) <= KernelTolerance.norm)
    }
}

@Suite("LinearWeight")
struct LinearWeightTests {
    /// Every stored float type, aligned and not, over several tiles.
    @Test(arguments: [DType.f32, .f16, .bf16], [false, true])
    func applyMatchesReference(dtype: DType, misalign: Bool) throws {
        let out = 150, inCount = 4096, rows = 3
        let weights = randomFloats(out * inCount, seed: 41)
        let bias = randomFloats(out, seed: 42)
        let view = heapView(name: "w", dtype: dtype, shape: [out, inCount], floats: weights, misalign: misalign)
        let budget = 64 * inCount  // 64-row tiles: 150 rows cross two tile edges
        let linear = LinearWeight(name: "w", decoder: try DenseRowDecoder(view: view), bias: bias, tileElementBudget: budget)
        #expect(LinearWeight.tileRows(out: out, in: inCount, budget: budget) == 64)
        let stored = weights.map { roundTripped($0, dtype) }
        #expect(linear.decodedWeights() == stored)

        let x = randomFloats(rows * inCount, seed: 43)
        let fast = linear.apply(x, rows: rows)
        var slow = [Float](repeating: 0, count: rows * out)
        Kernels.Reference.sgemm(transposeA: false, transposeB: true, m: rows, n: out, k: inCount,
                                a: x, lda: inCount, b: stored, ldb: inCount, c: &slow, ldc: out)
        for r in 0..<rows { for j in 0..<out { slow[r * out + j] += bias[j] } }
        #expect(maxScaledError(fast, slow) <= KernelTolerance.gemm)
    }

    /// The direct kernel (CWeightGemm) at shapes that cross its blocks: rows vs its 32/16-row blocks
    /// and 256/128-row chunks, out features vs its 12/6-row weight blocks and the thread split, k vs
    /// its chunks (2300 columns at 300 rows: three) and tails shorter than one vector; the other
    /// paths (tiled or in-place sgemm) on the same inputs.
    @Test(arguments: [DType.f16, .bf16, .f32], [(1, 1, 1), (33, 13, 257), (154, 25, 300), (70, 130, 529), (5, 7, 15), (300, 27, 2300)])
    func directKernelMatchesReference(dtype: DType, shape: (rows: Int, out: Int, inCount: Int)) throws {
        let (rows, out, inCount) = shape
        let weights = randomFloats(out * inCount, seed: 51)
        let view = heapView(name: "w", dtype: dtype, shape: [out, inCount], floats: weights)
        let stored = weights.map { roundTripped($0, dtype) }
        let x = randomFloats(rows * inCount, seed: 52)
        var slow = [Float](repeating: 0, count: rows * out)
        Kernels.Reference.sgemm(transposeA: false, transposeB: true, m: rows, n: out, k: inCount,
                                a: x, lda: inCount, b: stored, ldb: inCount, c: &slow, ldc: out)
        for useKernel in [true, false] {
            let linear = LinearWeight(name: "w", decoder: try DenseRowDecoder(view: view), bias: nil, useDirectKernel: useKernel)
            #expect(maxScaledError(linear.apply(x, rows: rows), slow) <= KernelTolerance.gemm, "kernel \(useKernel)")
        }
        // Every kernel this CPU runs (an AVX-512 machine also runs the AVX2 one).
        let decoder = try DenseRowDecoder(view: view)
        for kernel in WeightGemm.supported {
            var fast = [Float](repeating: .nan, count: rows * out)
            let used = decoder.withDenseRows { weights, dtype in
                x.withUnsafeBufferPointer { input in
                    fast.withUnsafeMutableBufferPointer { output in
                        WeightGemm.multiply(input.baseAddress!, rows: rows, k: inCount, weights: weights, dtype: dtype, n: out,
                                            output: output.baseAddress!, kernel: kernel)
                    }
                }
                return true
            }
            #expect(used)
            #expect(maxScaledError(fast, slow) <= KernelTolerance.gemm, "\(kernel)")
        }
    }

    @Test func directKernelRunsOnAVX2Machines() {
        // The fast path must not silently fall back where the CPU has what it needs.
        if Kernels.cpuSupportsAVX2FMA { #expect(WeightGemm.isAvailable) }
    }

    @Test func convWeightIsViewedAsMatrix() throws {
        let view = heapView(name: "conv", dtype: .f16, shape: [4, 3, 3, 3], floats: randomFloats(108, seed: 5))
        let decoder = try DenseRowDecoder(view: view)
        #expect(decoder.rowCount == 4 && decoder.columnCount == 27)
    }

    @Test func integerTensorIsRejected() {
        let view = TensorView(name: "ids", dtype: .i64, shape: [2, 2], data: ByteSlice(bytes: [UInt8](repeating: 0, count: 32)))
        #expect(throws: RunnerError.self) { try DenseRowDecoder(view: view) }
    }
}
