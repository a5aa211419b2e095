import IFCore

/// SIMD quantizers, bit-identical to `ReferenceQuantizer` (the tests compare them over odd shapes,
/// zero rows and denormals). The per-element operations are the same float32 operations in the same
/// order; only the absmax reduction is reordered, and max is exact in any order.
enum FastQuantizer {
    typealias V = SIMD16<Float>
    typealias VI = SIMD16<Int32>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always)
    static func magnitude(_ v: V) -> V {
        V(bitPattern: v.bitPatternU & 0x7fff_ffff)
    }

    /// Round half away from zero of `v` (|v| < 2^22), as Int32 lanes: round-to-nearest-even through
    /// the 1.5 * 2^23 trick, plus one where the magnitude sat exactly on .5 and was rounded down.
    @inline(__always)
    static func roundHalfAway(_ v: V) -> VI {
        let a = magnitude(v)
        let shifted = a + 12_582_912
        let r = shifted - 12_582_912
        var n = VI(truncatingIfNeeded: shifted.bitPatternU & 0x007f_ffff) &- 0x0040_0000
        n.replace(with: n &+ 1, where: (a - r) .== 0.5)
        n.replace(with: 0 &- n, where: (v.bitPatternU & 0x8000_0000) .!= 0)
        return n
    }

    @inline(__always)
    static func absMax(_ p: UnsafePointer<Float>, count: Int) -> Float {
        var m = V(repeating: 0)
        var i = 0
        while i + 16 <= count {
            m = pointwiseMax(m, magnitude(load(p + i)))
            i += 16
        }
        var result = m.max()
        while i < count {
            result = max(result, abs(p[i]))
            i += 1
        }
        return result
    }

    static func q8_0(_ x: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawPointer) {
        typealias L = BlockLayout.Q8_0
        let base = x.baseAddress!
        for block in 0..<(x.count / L.elementCount) {
            let xs = base + block * L.elementCount
            let v0 = load(xs), v1 = load(xs + 16)
            let amax = pointwiseMax(magnitude(v0), magnitude(v1)).max()
            let d = amax / 127
            let id = V(repeating: ReferenceQuantizer.inverse(d))
            let b = out + block * L.byteCount
            b.storeBytes(of: Float16(d).bitPattern.littleEndian, as: UInt16.self)
            b.storeBytes(of: SIMD16<Int8>(truncatingIfNeeded: roundHalfAway(v0 * id)), toByteOffset: L.quantsOffset, as: SIMD16<Int8>.self)
            b.storeBytes(of: SIMD16<Int8>(truncatingIfNeeded: roundHalfAway(v1 * id)), toByteOffset: L.quantsOffset + 16, as: SIMD16<Int8>.self)
        }
    }

    static func q4_0(_ x: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawPointer) {
        typealias L = BlockLayout.Q4_0
        let base = x.baseAddress!
        let half = V(repeating: 8.5)
        for block in 0..<(x.count / L.elementCount) {
            let xs = base + block * L.elementCount
            let v0 = load(xs), v1 = load(xs + 16)
            let amax = pointwiseMax(magnitude(v0), magnitude(v1)).max()
            // The first element whose magnitude is amax gives the sign (ggml and numpy's argmax).
            var maxValue: Float = 0
            if amax > 0 {
                for j in 0..<L.elementCount where abs(xs[j]) == amax {
                    maxValue = xs[j]
                    break
                }
            }
            let d = maxValue / -8
            let id = V(repeating: ReferenceQuantizer.inverse(d))
            let b = out + block * L.byteCount
            b.storeBytes(of: Float16(d).bitPattern.littleEndian, as: UInt16.self)
            // Lanes are in [0, 16.5]: truncation is the integer conversion of a non-negative float.
            let lo = pointwiseMin(VI(v0 * id + half, rounding: .towardZero), VI(repeating: 15))
            let hi = pointwiseMin(VI(v1 * id + half, rounding: .towardZero), VI(repeating: 15))
            b.storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: lo | (hi &<< 4)), toByteOffset: L.quantsOffset, as: SIMD16<UInt8>.self)
        }
    }

    static func int8(_ x: UnsafeBufferPointer<Float>, into out: UnsafeMutablePointer<Int8>) -> Float {
        let base = x.baseAddress!
        let count = x.count
        let scale = absMax(base, count: count) / 127
        let idScalar = ReferenceQuantizer.inverse(scale)
        let id = V(repeating: idScalar)
        let lo = VI(repeating: -127), hi = VI(repeating: 127)
        var i = 0
        while i + 16 <= count {
            let q = pointwiseMin(hi, pointwiseMax(lo, roundHalfAway(load(base + i) * id)))
            UnsafeMutableRawPointer(out + i).storeBytes(of: SIMD16<Int8>(truncatingIfNeeded: q), as: SIMD16<Int8>.self)
            i += 16
        }
        while i < count {
            out[i] = Int8(min(127, max(-127, ReferenceQuantizer.roundHalfAway(base[i] * idScalar))))
            i += 1
        }
        return scale
    }
}

extension SIMD16 where Scalar == Float {
    @inline(__always)
    var bitPatternU: SIMD16<UInt32> { unsafeBitCast(self, to: SIMD16<UInt32>.self) }

    @inline(__always)
    init(bitPattern: SIMD16<UInt32>) { self = unsafeBitCast(bitPattern, to: SIMD16<Float>.self) }
}
