import CWeightGemm
import MappedTensors

/// `Y = X Wᵀ` straight from fp16/bf16/fp32 weight rows (CWeightGemm): the weight is widened one
/// 12-row block at a time into a buffer the micro-kernel reads, instead of widened into fp32 tiles
/// that `cblas_sgemm` then packs again. Weight rows are split over `Kernels.blasThreadCount`
/// threads (the count OpenBLAS uses, so both paths compare alike).
enum WeightGemm {
    /// The instruction sets with a kernel (`CWG_AVX2`, `CWG_AVX512`).
    enum Kernel: Int32, CaseIterable, Sendable {
        case avx2 = 1, avx512 = 2
    }

    /// The best kernel this CPU runs, or nil (no AVX2 with FMA and F16C).
    static let best: Kernel? = Kernel(rawValue: cwg_available())

    /// Whether this CPU has a kernel.
    static var isAvailable: Bool { best != nil }

    /// The kernels this CPU runs (tests check each).
    static var supported: [Kernel] { Kernel.allCases.filter { $0.rawValue <= (best?.rawValue ?? 0) } }

    /// Up to this many input rows, fp32 weights also go here rather than to OpenBLAS, which runs
    /// such short products on one thread (T5-XXL width, 154 rows: 143 ms on 2 threads vs 148 ms
    /// on 1, where this kernel splits the weight rows over both cores).
    static let smallBatchRows = 256

    /// `output[rows, n] = input[rows, k] * Wᵀ` for `weights` pointing at `n` rows of `k` elements
    /// of `dtype` (F16, BF16 or F32), with `kernel` (one of `supported`).
    static func multiply(_ input: UnsafePointer<Float>, rows: Int, k: Int,
                         weights: UnsafeRawPointer, dtype: DType, n: Int,
                         output: UnsafeMutablePointer<Float>, kernel: Kernel? = best) {
        guard let kernel, rows > 0, n > 0 else { return }
        precondition(kernel.rawValue <= cwg_available(), "the CPU lacks the \(kernel) kernel")
        let isa = kernel.rawValue
        let format: Int32
        switch dtype {
        case .f16: format = Int32(CWG_F16)
        case .bf16: format = Int32(CWG_BF16)
        case .f32: format = Int32(CWG_F32)
        default: preconditionFailure("WeightGemm reads F16, BF16 or F32 weights")
        }
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: max(1, cwg_packed_x_count(isa, rows, k)))
        defer { packed.deallocate() }
        cwg_pack_x(isa, input, k, rows, k, packed)
        let block = cwg_row_block(isa)
        let blocks = (n + block - 1) / block
        let elementSize = dtype.byteSize
        let shared = UncheckedSendable((packed: UnsafePointer(packed), weights: weights, output: output))
        Parallel.forEachRange(blocks, chunks: max(1, Kernels.blasThreadCount)) { range in
            let first = range.lowerBound * block
            let count = min(n, range.upperBound * block) - first
            let partial = UnsafeMutablePointer<Float>.allocate(capacity: cwg_partial_count(isa, rows, count))
            defer { partial.deallocate() }
            cwg_multiply(isa, shared.value.packed, rows, k, shared.value.weights + first * k * elementSize, k, format, count,
                         shared.value.output + first, n, partial)
        }
    }
}
