import CQuantKernels
import IFCore

/// The AVX2/F16C q8_0 and int8-rowwise kernels of CQuantKernels (the only file that sees their C API).
/// They read F32 or F16 source bytes directly, widening fp16 in registers, and are bit-identical to
/// `ReferenceQuantizer`; without AVX2/F16C the Swift SIMD `FastQuantizer` is used instead.
enum QuantKernels {
    static let isAvailable = cqk_available() != 0

    static func handles(_ scheme: QuantScheme, _ dtype: DType) -> Bool {
        isAvailable && (scheme == .q8_0 || scheme == .int8) && (dtype == .f32 || dtype == .f16)
    }

    /// q8_0 of `blocks` consecutive blocks of F32/F16 `src`. False when a block holds inf/NaN or its fp16
    /// scale is inf: the caller then redoes the work on the checked path, which names the position.
    static func q8_0(_ src: UnsafeRawPointer, dtype: DType, blocks: Int, into dst: UnsafeMutableRawPointer) -> Bool {
        var overflow = 0
        let out = dst.assumingMemoryBound(to: UInt8.self)
        // SAFETY: the C kernel reads blocks*32 elements with unaligned loads and writes blocks*34 bytes.
        let firstBad = dtype == .f16
            ? cqk_q8_0_f16(src.assumingMemoryBound(to: UInt16.self), blocks, out, &overflow)
            : cqk_q8_0_f32(src.assumingMemoryBound(to: Float.self), blocks, out, &overflow)
        return firstBad == blocks && overflow == blocks
    }

    /// int8 row-wise of one row of `count` F32/F16 elements; false when the row holds inf/NaN.
    static func int8(_ src: UnsafeRawPointer, dtype: DType, count: Int, into dst: UnsafeMutablePointer<Int8>,
                     scale: UnsafeMutablePointer<Float>) -> Bool {
        let ok = dtype == .f16
            ? cqk_int8_row_f16(src.assumingMemoryBound(to: UInt16.self), count, dst, scale)
            : cqk_int8_row_f32(src.assumingMemoryBound(to: Float.self), count, dst, scale)
        return ok != 0
    }

    /// Encodes `rows` whole rows straight from the source; false on any inf/NaN or scale overflow.
    static func encode(_ src: UnsafeRawPointer, dtype: DType, scheme: QuantScheme, rows: Int, rowLength: Int,
                       into dst: UnsafeMutableRawPointer, scales: UnsafeMutablePointer<Float>?) -> Bool {
        if scheme == .q8_0 {
            // Rows are whole blocks, so a chunk of rows is one run of blocks.
            return q8_0(src, dtype: dtype, blocks: rows * rowLength / BlockLayout.Q8_0.elementCount, into: dst)
        }
        for r in 0..<rows {
            let ok = int8(src + r * rowLength * dtype.byteSize, dtype: dtype, count: rowLength,
                          into: (dst + r * rowLength).assumingMemoryBound(to: Int8.self), scale: scales! + r)
            if !ok { return false }
        }
        return true
    }
}
