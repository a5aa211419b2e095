import IFCore

/// Decodes rows of a weight viewed as `[rowCount, columnCount]` into fp32. Implementations keep the
/// stored bytes where they are (usually a file mapping) and decode on demand, so a model never needs
/// a full fp32 copy of its weights.
public protocol WeightRowDecoder: Sendable {
    var rowCount: Int { get }
    var columnCount: Int { get }
    /// A label of the stored type ("F16", "Q8_0", ...).
    var storageLabel: String { get }
    /// Writes `rows` as fp32, row-major, `columnCount` floats per row, starting at `destination`.
    func decodeRows(_ rows: Range<Int>, into destination: UnsafeMutablePointer<Float>)
    /// Runs `body` on the whole weight when it is contiguous, aligned F16, BF16 or F32 rows (read in
    /// place, no copy) and returns what `body` returns (whether it used them); returns false
    /// without calling `body` otherwise.
    func withDenseRows(_ body: (_ elements: UnsafeRawPointer, _ dtype: DType) -> Bool) -> Bool
    /// Brings the stored bytes into memory now (page faults of a file mapping happen at load time,
    /// not in the first computation).
    func prefault()
}

extension WeightRowDecoder {
    public func withDenseRows(_ body: (_ elements: UnsafeRawPointer, _ dtype: DType) -> Bool) -> Bool { false }
    public func prefault() {}
}

/// Touches one byte per page of `slice` (after asking the kernel to read it ahead), so a mapped
/// file's pages are resident and mapped before timing-sensitive work starts.
public func prefaultPages(of slice: ByteSlice) {
    if let file = slice.storage as? MappedFile { file.adviseSequential(in: slice.range) }
    slice.withUnsafeBytes { raw in
        guard let base = raw.baseAddress, raw.count > 0 else { return }
        let start = UncheckedSendable(base)
        let count = raw.count
        // The sums land in memory the optimizer cannot see through, so the loads are not elided.
        let sinks = UnsafeMutablePointer<UInt8>.allocate(capacity: 2)
        defer { sinks.deallocate() }
        let sinkPointer = UncheckedSendable(sinks)
        let pageCount = (count + 4095) / 4096
        Parallel.forEachRange(pageCount, chunks: 2) { pages in
            var sink: UInt8 = 0
            for page in pages { sink &+= start.value.load(fromByteOffset: page * 4096, as: UInt8.self) }
            sinkPointer.value[pages.lowerBound == 0 ? 0 : 1] = sink
        }
    }
}

/// `y = x W^T (+ b)` for a weight `W [out, in]` of any stored type. Short inputs (at most
/// `WeightGemm.smallBatchRows` rows: T5's tokens) with dense weights (F16/BF16/F32) go to
/// `WeightGemm` where the CPU has AVX2 or AVX-512: it widens the weight block by block inside its
/// own kernel. Otherwise f32 weights go to `cblas_sgemm` in place, and the rest (f16/bf16 for tall
/// inputs such as UNet convolutions, quantized types, other CPUs) are decoded one tile of output rows
/// at a time into a bounded fp32 scratch, then multiplied with `cblas_sgemm`. Conv weights `[out, in, kh, kw]` use the
/// same type viewed as `[out, in*kh*kw]` (im2col on the caller's side).
public final class LinearWeight: Sendable {
    public let decoder: any WeightRowDecoder
    /// Bias of length `outFeatures`, or nil.
    public let bias: [Float]?
    /// Name of the weight tensor (messages).
    public let name: String

    /// Scratch per tile, in floats (16 MiB of fp32: 1024 rows of a 4096-wide weight, 409 of a
    /// 10240-wide one). sgemm packs its whole input again for every call, so narrow tiles cost: on
    /// the XXL-width T5 bench (154 input rows, one thread) 64-row tiles spent 14 % of the time
    /// re-packing the input; CPU time 2.03 s (64 rows), 1.87 s (256), ~1.7 s (1024).
    public static let tileElementBudget = 1 << 22

    /// Tile scratch budget of this weight, in floats (tests use small ones to cross tile edges).
    let tileBudget: Int
    /// Whether dense weights may use `WeightGemm` (tests turn it off to check the other paths).
    let useDirectKernel: Bool

    public init(name: String, decoder: any WeightRowDecoder, bias: [Float]?, tileElementBudget: Int = LinearWeight.tileElementBudget,
                useDirectKernel: Bool = true) {
        precondition(bias == nil || bias!.count == decoder.rowCount, "bias length must equal out features")
        self.tileBudget = max(1, tileElementBudget)
        self.useDirectKernel = useDirectKernel
        self.name = name
        self.decoder = decoder
        self.bias = bias
    }

    public var outFeatures: Int { decoder.rowCount }
    public var inFeatures: Int { decoder.columnCount }
    public var storageLabel: String { decoder.storageLabel }

    /// `output[rows, out] = input[rows, in] * W^T + bias`; both contiguous row-major.
    public func apply(_ input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>) {
        let outCount = outFeatures, inCount = inFeatures
        guard rows > 0, outCount > 0 else { return }
        let decoder = self.decoder, useDirectKernel = self.useDirectKernel
        let sgemmInPlace = {
            decoder.withDenseRows { weights, dtype in
                guard dtype == .f32 else { return false }
                Kernels.sgemm(transposeA: false, transposeB: true, m: rows, n: outCount, k: inCount,
                              a: input, lda: inCount, b: weights.assumingMemoryBound(to: Float.self), ldb: inCount, c: output, ldc: outCount)
                return true
            }
        }
        let direct = {
            useDirectKernel && WeightGemm.isAvailable && decoder.withDenseRows { weights, dtype in
                WeightGemm.multiply(input, rows: rows, k: inCount, weights: weights, dtype: dtype, n: outCount, output: output)
                return true
            }
        }
        let usedInPlace = rows <= WeightGemm.smallBatchRows ? direct() || sgemmInPlace() : sgemmInPlace()
        if !usedInPlace {
            let tileRows = Self.tileRows(out: outCount, in: inCount, budget: tileBudget)
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * inCount)
            defer { scratch.deallocate() }
            var start = 0
            while start < outCount {
                let end = min(outCount, start + tileRows)
                decoder.decodeRows(start..<end, into: scratch)
                Kernels.sgemm(transposeA: false, transposeB: true, m: rows, n: end - start, k: inCount,
                              a: input, lda: inCount, b: scratch, ldb: inCount, c: output + start, ldc: outCount)
                start = end
            }
        }
        if let bias {
            bias.withUnsafeBufferPointer { b in
                for r in 0..<rows {
                    let row = output + r * outCount
                    for j in 0..<outCount { row[j] += b[j] }
                }
            }
        }
    }

    /// Convenience over arrays: `[rows * in] -> [rows * out]`.
    public func apply(_ input: [Float], rows: Int) -> [Float] {
        precondition(input.count == rows * inFeatures, "input must be rows x inFeatures")
        return [Float](unsafeUninitializedCapacity: rows * outFeatures) { out, count in
            input.withUnsafeBufferPointer { apply($0.baseAddress!, rows: rows, output: out.baseAddress!) }
            count = rows * outFeatures
        }
    }

    /// The whole weight as fp32 `[out * in]` (tests and small weights only).
    public func decodedWeights() -> [Float] {
        [Float](unsafeUninitializedCapacity: outFeatures * inFeatures) { out, count in
            if outFeatures > 0 { decoder.decodeRows(0..<outFeatures, into: out.baseAddress!) }
            count = outFeatures * inFeatures
        }
    }

    static func tileRows(out: Int, in inCount: Int, budget: Int = tileElementBudget) -> Int {
        let rows = budget / max(1, inCount)
        return max(1, min(out, max(16, rows)))
    }
}

/// Rows of an f32/f16/bf16 tensor, read straight from its bytes (usually a file mapping).
public struct DenseRowDecoder: WeightRowDecoder {
    public let view: TensorView
    public let rowCount: Int
    public let columnCount: Int

    /// Views `view` as `[shape[0], product(shape[1...])]`; a 1-D tensor is one row.
    public init(view: TensorView) throws(RunnerError) {
        guard [.f32, .f16, .bf16].contains(view.dtype) else {
            throw .badTensor(name: view.name, message: "dtype \(view.dtype.rawValue) cannot be used as a float weight (expected F32, F16 or BF16)")
        }
        guard !view.shape.isEmpty else { throw .badTensor(name: view.name, message: "is a scalar, expected a matrix") }
        let rows = view.shape.count == 1 ? 1 : view.shape[0]
        let columns = view.shape.count == 1 ? view.shape[0] : view.shape.dropFirst().reduce(1, *)
        guard let bytes = CheckedMath.byteCount(shape: [rows, columns], dtype: view.dtype), bytes == view.byteCount else {
            throw .badTensor(name: view.name, message: "holds \(view.byteCount) bytes, shape \(view.shape) x \(view.dtype.rawValue) needs more")
        }
        self.view = view
        self.rowCount = rows
        self.columnCount = columns
    }

    public var storageLabel: String { view.dtype.rawValue }

    public func prefault() { prefaultPages(of: view.data) }

    public func decodeRows(_ rows: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= rowCount)
        let size = view.dtype.byteSize
        let byteRange = (rows.lowerBound * columnCount * size)..<(rows.upperBound * columnCount * size)
        let count = rows.count * columnCount
        view.data.withUnsafeBytes { all in
            let raw = UnsafeRawBufferPointer(rebasing: all[byteRange])
            let out = UnsafeMutableBufferPointer(start: destination, count: count)
            Self.widen(raw, dtype: view.dtype, into: out)
        }
    }

    public func withDenseRows(_ body: (_ elements: UnsafeRawPointer, _ dtype: DType) -> Bool) -> Bool {
        view.data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress, Int(bitPattern: base) % view.dtype.byteSize == 0 else { return false }
            // SAFETY: aligned, read-only, rowCount * columnCount elements (checked in init), alive for the call.
            return body(base, view.dtype)
        }
    }

    /// Widens f32/f16/bf16 bytes; splits large blocks over two threads (the widening is memory bound
    /// and would otherwise leave one core idle between sgemm calls).
    static func widen(_ raw: UnsafeRawBufferPointer, dtype: DType, into out: UnsafeMutableBufferPointer<Float>) {
        let count = out.count
        let size = dtype.byteSize
        Parallel.forEachRange(count, chunks: count >= 1 << 16 ? 2 : 1) { range in
            let src = UnsafeRawBufferPointer(rebasing: raw[(range.lowerBound * size)..<(range.upperBound * size)])
            widenChunk(src, dtype: dtype, into: UnsafeMutableBufferPointer(rebasing: out[range]))
        }
    }

    private static func widenChunk(_ raw: UnsafeRawBufferPointer, dtype: DType, into out: UnsafeMutableBufferPointer<Float>) {
        switch dtype {
        case .f16, .bf16:
            if let base = raw.baseAddress, Int(bitPattern: base) % 2 == 0 {
                // SAFETY: 2-aligned, read-only bytes of exactly out.count halves.
                let halves = UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt16.self), count: out.count)
                if dtype == .f16 { Float32Conversion.widenHalf(halves, into: out) } else { Float32Conversion.widenBFloat16(halves, into: out) }
            } else {
                try? Float32Conversion.widen(raw, dtype: dtype, into: out)
            }
        case .f32:
            if let base = raw.baseAddress, let dst = out.baseAddress { UnsafeMutableRawPointer(dst).copyMemory(from: base, byteCount: out.count * 4) }
        default:
            preconditionFailure("DenseRowDecoder holds only float tensors")
        }
    }
}
