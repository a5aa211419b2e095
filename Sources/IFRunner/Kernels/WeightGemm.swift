import CWeightGemm
import Foundation
import MappedTensors

/// `Y = X Wᵀ` straight from fp16/bf16/fp32 weight rows (CWeightGemm): the weight is widened one
/// 12-row block at a time into a buffer the micro-kernel reads, instead of widened into fp32 tiles
/// that `cblas_sgemm` then packs again. Weight rows are split over `Kernels.threadCount`
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

    /// `LinearWeight` sends products of at most this many input rows here (T5's 2 x 77 tokens), more
    /// to OpenBLAS. Measured on 2 threads (GFLOP/s, ours fp16 vs OpenBLAS fp32): m 154, k 4096, n 10240:
    /// 189 vs 135 (OpenBLAS keeps such short products on one thread); m 256 k 4096 n 4096: 93 vs 107;
    /// UNet convolutions (m 8192, k 1728, n 192): 50 vs 112, where this kernel re-reads X per weight
    /// block and OpenBLAS's blocking for tall products wins even after widening the weight.
    static let smallBatchRows = 192

    /// `output[rows, n] = input[rows, k] * Wᵀ` for `weights` pointing at `n` rows of `k` elements
    /// of `dtype` (F16, BF16 or F32), with `kernel` (one of `supported`), on
    /// `Kernels.threadCount` threads.
    static func multiply(_ input: UnsafePointer<Float>, rows: Int, k: Int,
                         weights: UnsafeRawPointer, dtype: DType, n: Int,
                         output: UnsafeMutablePointer<Float>, kernel: Kernel? = best) {
        multiply(input, ldx: k, rows: rows, k: k, weights: weights, ldw: k, dtype: dtype, n: n,
                 output: output, ldy: n, threads: max(1, Kernels.threadCount), kernel: kernel)
    }

    /// The same with explicit row strides (in elements) of X, W and Y and a thread count (1: on the
    /// calling thread, for callers that are parallel already).
    static func multiply(_ input: UnsafePointer<Float>, ldx: Int, rows: Int, k: Int,
                         weights: UnsafeRawPointer, ldw: Int, dtype: DType, n: Int,
                         output: UnsafeMutablePointer<Float>, ldy: Int, threads: Int, kernel: Kernel? = best) {
        guard let kernel, rows > 0, n > 0 else { return }
        precondition(kernel.rawValue <= cwg_available(), "the CPU lacks the \(kernel) kernel")
        precondition(ldx >= k && ldw >= k && ldy >= n, "WeightGemm: row stride shorter than a row")
        let isa = kernel.rawValue
        let format: Int32
        switch dtype {
        case .f16: format = Int32(CWG_F16)
        case .bf16: format = Int32(CWG_BF16)
        case .f32: format = Int32(CWG_F32)
        default: preconditionFailure("WeightGemm reads F16, BF16 or F32 weights")
        }
        let packed = ScratchPool.shared.take(max(1, cwg_packed_x_count(isa, rows, k)))
        defer { ScratchPool.shared.give(packed) }
        let xBlocks = cwg_x_block_count(isa, rows)
        let packTarget = UncheckedSendable(packed.base)
        Parallel.forEachRange(xBlocks, chunks: threads) { range in
            cwg_pack_x(isa, input, ldx, rows, k, range.lowerBound, range.upperBound, packTarget.value)
        }
        let block = cwg_row_block(isa)
        let blocks = (n + block - 1) / block
        // Several pieces per thread, handed out as threads free up: a core slowed by a neighbour
        // (shared VMs) then does less instead of holding up the whole product.
        let pieces = threads == 1 ? 1 : min(blocks, threads * 4)
        let elementSize = dtype.byteSize
        let shared = UncheckedSendable((packed: UnsafePointer(packed.base), weights: weights, output: output))
        Parallel.forEachRange(blocks, chunks: pieces) { range in
            let first = range.lowerBound * block
            let count = min(n, range.upperBound * block) - first
            let partial = ScratchPool.shared.take(cwg_partial_count(isa, rows, count))
            defer { ScratchPool.shared.give(partial) }
            cwg_multiply(isa, shared.value.packed, rows, k, shared.value.weights + first * ldw * elementSize, ldw, format, count,
                         shared.value.output + first, ldy, partial.base)
        }
    }
}

/// Reused scratch for `WeightGemm` (packed X, partial sums: megabytes per product). Fresh
/// allocations of that size are mmapped and unmapped by malloc every time, so each product would
/// page-fault and zero them again (~3 % of a T5 forward). Buffers wait here, at most
/// `retainedBytes` in all; the smallest go first.
final class ScratchPool: @unchecked Sendable {
    // SAFETY: `free` is only touched under `lock`.
    struct Buffer {
        let base: UnsafeMutablePointer<Float>
        let capacity: Int
    }

    static let shared = ScratchPool(retainedBytes: 64 << 20)

    private let lock = NSLock()
    private var free: [Buffer] = []
    private let retainedFloats: Int

    init(retainedBytes: Int) { retainedFloats = retainedBytes / MemoryLayout<Float>.stride }

    /// A buffer of at least `count` floats (contents undefined).
    func take(_ count: Int) -> Buffer {
        let found: Buffer? = lock.withLock {
            guard let index = free.indices.filter({ free[$0].capacity >= count }).min(by: { free[$0].capacity < free[$1].capacity })
            else { return nil }
            return free.remove(at: index)
        }
        return found ?? Buffer(base: .allocate(capacity: count), capacity: count)
    }

    /// Returns a buffer from `take`, releasing the smallest waiting ones beyond the budget.
    func give(_ buffer: Buffer) {
        var released: [Buffer] = []
        lock.withLock {
            free.append(buffer)
            free.sort { $0.capacity > $1.capacity }
            var total = 0
            free = free.filter { candidate in
                total += candidate.capacity
                if total <= retainedFloats { return true }
                released.append(candidate)
                total -= candidate.capacity
                return false
            }
        }
        for buffer in released { buffer.base.deallocate() }
    }
}
