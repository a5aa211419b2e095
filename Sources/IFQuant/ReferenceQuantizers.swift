import IFCore

/// Plain scalar quantizers that define each scheme. q8_0 and q4_0 follow ggml's
/// `quantize_row_q8_0_ref` / `quantize_row_q4_0_ref` as gguf-py's `gguf.quants.quantize` computes them
/// (float32 arithmetic, each operation rounded, no fused multiply-add), so our bytes equal
/// gguf-py's. q4_k follows `quantize_row_q4_K_ref` (see Q4KReference.swift).
///
/// One rule beyond ggml's: when a block's scale `d` is so small that `1/d` overflows to infinity
/// (a block of denormals), the inverse scale is taken as 0, so the quants are 0 (q8_0, int8) or 8
/// (q4_0). ggml's C converts inf to an integer there (undefined behaviour); the stored fp16 `d` is 0
/// in that case, so every choice dequantizes to the same zeros.
///
/// Inputs are finite (callers check); each function encodes one row of whole blocks.
public enum ReferenceQuantizer {
    /// Round half away from zero (C `roundf`, gguf-py `np_roundf`).
    @inlinable
    static func roundHalfAway(_ v: Float) -> Float { v.rounded(.toNearestOrAwayFromZero) }

    /// 1/d, or 0 when d is 0 or 1/d is not finite.
    @inlinable
    static func inverse(_ d: Float) -> Float {
        guard d != 0 else { return 0 }
        let id = 1 / d
        return id.isFinite ? id : 0
    }

    static func storeHalf(_ value: Float, at pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: Float16(value).bitPattern.littleEndian, as: UInt16.self)
    }

    /// q8_0: d = absmax/127 (stored fp16), q = round(x * (1/d)).
    public static func q8_0(_ x: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawPointer) {
        typealias L = BlockLayout.Q8_0
        for block in 0..<(x.count / L.elementCount) {
            let xs = x.baseAddress! + block * L.elementCount
            var amax: Float = 0
            for j in 0..<L.elementCount { amax = max(amax, abs(xs[j])) }
            let d = amax / 127
            let id = inverse(d)
            let b = out + block * L.byteCount
            storeHalf(d, at: b)
            for j in 0..<L.elementCount {
                b.storeBytes(of: Int8(roundHalfAway(xs[j] * id)), toByteOffset: L.quantsOffset + j, as: Int8.self)
            }
        }
    }

    /// q4_0: the element of largest magnitude (the first one on ties) is `max`; d = max / -8
    /// (stored fp16); q = min(15, trunc(x * (1/d) + 8.5)); element j and j+16 share byte j.
    public static func q4_0(_ x: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawPointer) {
        typealias L = BlockLayout.Q4_0
        for block in 0..<(x.count / L.elementCount) {
            let xs = x.baseAddress! + block * L.elementCount
            var amax: Float = 0
            var maxValue: Float = 0
            for j in 0..<L.elementCount where amax < abs(xs[j]) {
                amax = abs(xs[j])
                maxValue = xs[j]
            }
            let d = maxValue / -8
            let id = inverse(d)
            let b = out + block * L.byteCount
            storeHalf(d, at: b)
            func nibble(_ v: Float) -> UInt8 {
                let shifted = v * id + 8.5   // two roundings, as gguf-py (no FMA)
                return min(15, UInt8(shifted.rounded(.towardZero)))
            }
            for j in 0..<(L.elementCount / 2) {
                let byte = nibble(xs[j]) | (nibble(xs[j + L.elementCount / 2]) << 4)
                b.storeBytes(of: byte, toByteOffset: L.quantsOffset + j, as: UInt8.self)
            }
        }
    }

    /// int8 row-wise: scale = absmax(row)/127 (stored F32), q = clamp(round(x * (1/scale)), -127, 127).
    /// Returns the scale.
    public static func int8(_ x: UnsafeBufferPointer<Float>, into out: UnsafeMutablePointer<Int8>) -> Float {
        var amax: Float = 0
        for v in x { amax = max(amax, abs(v)) }
        let scale = amax / 127
        let id = inverse(scale)
        for j in 0..<x.count {
            out[j] = Int8(min(127, max(-127, roundHalfAway(x[j] * id))))
        }
        return scale
    }
}
