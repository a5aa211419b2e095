import COpenBLAS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CPU kernels of the reference runner. This folder is the only Swift code that imports COpenBLAS.
///
/// Layout conventions: every matrix is row-major with an explicit leading dimension (elements between
/// consecutive rows); "rows" are the outer dimension. Kernels never allocate more than a row of
/// scratch and never throw: shapes are the caller's contract (checked with `precondition`).
/// Each kernel has a plain scalar twin in `Kernels+Reference.swift` that defines its meaning; the
/// fast path is tested against it (Tests/IFRunnerTests/KernelTests.swift).
public enum Kernels {
    /// Row-major `C = alpha * op(A) * op(B) + beta * C` through OpenBLAS `cblas_sgemm`.
    /// `op(A)` is m x k, `op(B)` is k x n, `C` is m x n; `lda`/`ldb`/`ldc` are the leading dimensions
    /// of the matrices as stored (before the transpose).
    public static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative dimension")
        precondition(lda >= max(1, transposeA ? m : k) && ldb >= max(1, transposeB ? k : n) && ldc >= max(1, n),
                     "sgemm: leading dimension smaller than a row")
        precondition(max(m, n, k, lda, ldb, ldc) <= Int(Int32.max), "sgemm: dimension exceeds 32-bit BLAS int")
        if m == 0 || n == 0 { return }
        _ = blasCoreSelection
        if k == 0 {
            // BLAS would only scale C; keep that meaning explicitly.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        let call = { (rows: Range<Int>, columns: Range<Int>) in
            // op(A) rows and C rows; op(B) columns and C columns (offsets as stored).
            let aPart = transposeA ? a + rows.lowerBound : a + rows.lowerBound * lda
            let bPart = transposeB ? b + columns.lowerBound * ldb : b + columns.lowerBound
            cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                        blasint(rows.count), blasint(columns.count), blasint(k), alpha, aPart, blasint(lda), bPart, blasint(ldb),
                        beta, c + rows.lowerBound * ldc + columns.lowerBound, blasint(ldc))
        }
        let threads = threadCount
        guard threads > 1, m * n * k >= parallelMultiplyThreshold else { return call(0..<m, 0..<n) }
        // Split the longer side of C into one part per thread, each a single-threaded OpenBLAS call.
        if m >= n {
            Parallel.forEachRange(m, chunks: threads) { call($0, 0..<n) }
        } else {
            Parallel.forEachRange(n, chunks: threads) { call(0..<m, $0) }
        }
    }

    /// Products with fewer multiply-adds run as one call on the calling thread (OpenBLAS's own
    /// threshold for threading is 262,144; splitting small products costs more than it gains).
    static let parallelMultiplyThreshold = 1 << 22

    /// OpenBLAS's kernel family ("SkylakeX", "Haswell", ...) after `blasCoreSelection` ran.
    public static var blasCoreName: String {
        _ = blasCoreSelection
        return String(cString: openblas_get_corename())
    }

    /// Whether this CPU has AVX2 and FMA (then OpenBLAS must not run its generic Prescott kernels).
    public static var cpuSupportsAVX2FMA: Bool { ifc_cpu_has_avx2_fma() != 0 }

    /// OpenBLAS 0.3.21 (Debian 12) does not know newer CPU models (e.g. Emerald Rapids, family 6
    /// model 207) and falls back to its generic Prescott SSE3 kernels, ~5x slower than SkylakeX's
    /// AVX-512 ones on such a CPU. When that happened and the user did not choose OPENBLAS_CORETYPE,
    /// redo the selection once with the core type the CPU's features support. Runs once, before the
    /// first sgemm.
    static let blasCoreSelection: Void = {
        guard getenv("OPENBLAS_CORETYPE") == nil, String(cString: openblas_get_corename()) == "Prescott" else { return }
        let forced: String? = ifc_cpu_has_avx512_skylakex() != 0 ? "SkylakeX" : ifc_cpu_has_avx2_fma() != 0 ? "Haswell" : nil
        guard let forced else { return }
        setenv("OPENBLAS_CORETYPE", forced, 1)
        gotoblas_dynamic_quit()
        gotoblas_dynamic_init()
        unsetenv("OPENBLAS_CORETYPE")
    }()

    /// Threads for one product: the count OpenBLAS starts with (OPENBLAS_NUM_THREADS, else
    /// OMP_NUM_THREADS, else the cores; benchmarks pin it to compare with torch). The runner then
    /// keeps OpenBLAS itself on one thread and splits products over its own threads (`sgemm`,
    /// `WeightGemm`): OpenBLAS's idle workers spin in sched_yield for a while after every call,
    /// which took 21 % of a UNet forward's CPU time, a core taken from the work between products.
    public static let threadCount: Int = {
        let count = max(1, Int(openblas_get_num_threads()))
        openblas_set_num_threads(1)
        return count
    }()

    /// In-place softmax of each row of a `rows x columns` contiguous matrix, max-subtracted (as
    /// torch.softmax does in fp32). A row of all `-inf` becomes all NaN, as in torch.
    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        precondition(rows >= 0 && columns >= 0)
        guard columns > 0 else { return }
        for r in 0..<rows {
            let row = x + r * columns
            var maximum = -Float.infinity, minimum = Float.infinity
            for j in 0..<columns {
                if row[j] > maximum { maximum = row[j] }
                if row[j] < minimum { minimum = row[j] }
            }
            var sum: Float = 0
            var j = 0
            // 16 lanes at a time with the vector exp (as in `geluTanh`; expf took 7 % of a UNet
            // forward) when every exponent is within its range; rows with masked (-inf, float.min)
            // or all -inf entries take libm's expf, so those give exactly 0 (and NaN) as in torch.
            if minimum - maximum >= -87 {
                let raw = UnsafeMutableRawPointer(row)
                var lanes = SIMD16<Float>(repeating: 0)
                while j + 16 <= columns {
                    let e = vectorExp(raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self) - maximum)
                    raw.storeBytes(of: e, toByteOffset: j * 4, as: SIMD16<Float>.self)
                    lanes += e
                    j += 16
                }
                sum = lanes.sum()
            }
            while j < columns {
                let e = expf(row[j] - maximum)
                row[j] = e
                sum += e
                j += 1
            }
            let inverse = 1 / sum
            for j in 0..<columns { row[j] *= inverse }
        }
    }

    /// Exact GELU, `0.5 x (1 + erf(x / sqrt 2))`: torch `nn.GELU()` (diffusers/IF "gelu").
    /// 16 lanes at a time with `vectorErf` (libm's erff took 7 % of a UNet forward); erff for the tail.
    public static func geluExact(_ x: UnsafeMutableBufferPointer<Float>) {
        let inverseSqrt2: Float = 0.70710678118654752440
        mapInPlace(x, vector: { v in 0.5 * v * (1 + vectorErf(v * inverseSqrt2)) },
                   scalar: { v in 0.5 * v * (1 + erff(v * inverseSqrt2)) })
    }

    /// `x[i] = f(x[i])`, 16 lanes at a time with `vector`, the tail with `scalar`.
    @inline(__always)
    static func mapInPlace(_ x: UnsafeMutableBufferPointer<Float>, vector: (SIMD16<Float>) -> SIMD16<Float>, scalar: (Float) -> Float) {
        guard let base = x.baseAddress else { return }
        let raw = UnsafeMutableRawPointer(base)
        var i = 0
        while i + 16 <= x.count {
            raw.storeBytes(of: vector(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)), toByteOffset: i * 4, as: SIMD16<Float>.self)
            i += 16
        }
        while i < x.count {
            base[i] = scalar(base[i])
            i += 1
        }
    }

    /// erf per lane: Abramowitz & Stegun 7.1.26, `1 - (a1 t + ... + a5 t^5) e^(-x^2)` with
    /// `t = 1 / (1 + p |x|)`, sign of x restored; absolute error <= 1.5e-7 (plus float rounding),
    /// which in GELU is below a float ulp of `0.5 x` for |x| > 1 and far inside the 1e-5 verify bound.
    /// ±inf give ±1; NaN stays NaN.
    @inline(__always)
    static func vectorErf(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let bits = unsafeBitCast(x, to: SIMD16<UInt32>.self)
        let sign = bits & 0x8000_0000
        let magnitude = unsafeBitCast(bits & 0x7FFF_FFFF, to: SIMD16<Float>.self)
        let t = 1 / (1 + 0.3275911 * magnitude)
        var p = SIMD16<Float>(repeating: 1.061405429)
        p = p * t - 1.453152027
        p = p * t + 1.421413741
        p = p * t - 0.284496736
        p = p * t + 0.254829592
        let y = 1 - p * t * vectorExp(-(magnitude * magnitude))
        return unsafeBitCast(unsafeBitCast(y, to: SIMD16<UInt32>.self) | sign, to: SIMD16<Float>.self)
    }

    /// Tanh-approximated GELU exactly as transformers' `NewGELUActivation` ("gelu_new") writes it:
    /// `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.
    public static func geluTanh(_ x: UnsafeMutableBufferPointer<Float>) {
        let c: Float = 0.79788456080286535588  // sqrt(2/pi)
        // tanh(u) = 1 - 2 / (exp(2u) + 1) with a vector exp (absolute error of tanh ~1e-7, what
        // libm's tanhf gives up to rounding); scalar tanhf for the tail.
        mapInPlace(x, vector: { v in
            let e = vectorExp(2 * (c * (v + 0.044715 * (v * v * v))))
            return 0.5 * v * (1 + (1 - 2 / (e + 1)))
        }, scalar: { v in 0.5 * v * (1 + tanhf(c * (v + 0.044715 * (v * v * v)))) })
    }

    /// e^x per lane (Cephes-style: x = n ln2 + r, degree-6 polynomial for e^r, 2^n from the exponent
    /// bits). Inputs are clamped to [-87, 88], so the result is finite and positive; relative error
    /// ~2 float ulps.
    @inline(__always)
    static func vectorExp(_ input: SIMD16<Float>) -> SIMD16<Float> {
        let x = input.clamped(lowerBound: SIMD16(repeating: -87), upperBound: SIMD16(repeating: 88))
        let n = (x * 1.44269504088896341).rounded(.toNearestOrEven)
        // r = x - n ln2, with ln2 split in two for precision.
        let r = x - n * 0.693359375 + n * 2.12194440e-4
        var p = SIMD16<Float>(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let er = p * (r * r) + r + 1
        // 2^n from n's bits: adding 1.5 * 2^23 puts the integer n in the low mantissa bits (one
        // vector add and shift; the generic SIMD16<Int32>(n) conversion is scalar, 4 % of a T5 run).
        let magic = unsafeBitCast(n + 12_582_912, to: SIMD16<UInt32>.self)
        let exponent = (magic &- (0x4B40_0000 &- 127)) &<< 23
        return er * unsafeBitCast(exponent, to: SIMD16<Float>.self)
    }

    /// T5 RMSNorm (`T5LayerNorm`): `weight * (x * rsqrt(mean(x^2) + epsilon))` per row; no mean
    /// subtraction, no bias. `x` and `output` are `rows x columns` contiguous and may alias.
    public static func rmsNorm(
        _ x: UnsafePointer<Float>, rows: Int, columns: Int, weight: UnsafePointer<Float>, epsilon: Float,
        output: UnsafeMutablePointer<Float>
    ) {
        precondition(rows >= 0 && columns > 0)
        for r in 0..<rows {
            let input = x + r * columns
            let out = output + r * columns
            let meanSquare = sumOfSquares(input, count: columns) / Float(columns)
            let scale = 1 / (meanSquare + epsilon).squareRoot()
            for j in 0..<columns { out[j] = weight[j] * (input[j] * scale) }
        }
    }

    /// torch `nn.LayerNorm` over the last dimension (biased variance), optional affine weight/bias.
    /// `x` and `output` may alias.
    public static func layerNorm(
        _ x: UnsafePointer<Float>, rows: Int, columns: Int, weight: UnsafePointer<Float>?,
        bias: UnsafePointer<Float>?, epsilon: Float, output: UnsafeMutablePointer<Float>
    ) {
        precondition(rows >= 0 && columns > 0)
        for r in 0..<rows {
            let input = x + r * columns
            let out = output + r * columns
            let (mean, variance) = meanAndVariance(input, count: columns)
            let inverse = 1 / (variance + epsilon).squareRoot()
            for j in 0..<columns {
                var v = (input[j] - mean) * inverse
                if let weight { v *= weight[j] }
                if let bias { v += bias[j] }
                out[j] = v
            }
        }
    }

    /// torch `nn.GroupNorm` for one sample laid out `[channels, spatial]` (biased variance over each
    /// group's `channels/groups x spatial` values), then per-channel weight/bias. `x` and `output`
    /// may alias.
    public static func groupNorm(
        _ x: UnsafePointer<Float>, channels: Int, spatial: Int, groups: Int, weight: UnsafePointer<Float>?,
        bias: UnsafePointer<Float>?, epsilon: Float, output: UnsafeMutablePointer<Float>
    ) {
        precondition(groups > 0 && channels % groups == 0 && spatial > 0, "groupNorm: channels must divide into groups")
        let perGroup = channels / groups
        let count = perGroup * spatial
        for g in 0..<groups {
            let start = g * count
            let (mean, variance) = meanAndVariance(x + start, count: count)
            let inverse = 1 / (variance + epsilon).squareRoot()
            for c in (g * perGroup)..<((g + 1) * perGroup) {
                let w = weight?[c] ?? 1
                let b = bias?[c] ?? 0
                let input = x + c * spatial
                let out = output + c * spatial
                for s in 0..<spatial { out[s] = (input[s] - mean) * inverse * w + b }
            }
        }
    }

    // MARK: - Reductions (8 float lanes, then a Double combine, so long rows stay accurate)

    static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var i = 0
        let raw = UnsafeRawPointer(x)
        while i + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            lanes += v * v
            i += 8
        }
        var total = Double(lanes.sum())
        while i < count { total += Double(x[i] * x[i]); i += 1 }
        return Float(total)
    }

    /// Two-pass mean and biased variance.
    static func meanAndVariance(_ x: UnsafePointer<Float>, count: Int) -> (mean: Float, variance: Float) {
        let raw = UnsafeRawPointer(x)
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= count { lanes += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self); i += 8 }
        var total = Double(lanes.sum())
        while i < count { total += Double(x[i]); i += 1 }
        let mean = Float(total / Double(count))
        var squares = SIMD8<Float>()
        let meanVector = SIMD8<Float>(repeating: mean)
        i = 0
        while i + 8 <= count {
            let d = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - meanVector
            squares += d * d
            i += 8
        }
        var squareTotal = Double(squares.sum())
        while i < count { let d = x[i] - mean; squareTotal += Double(d * d); i += 1 }
        return (mean, Float(squareTotal / Double(count)))
    }
}
