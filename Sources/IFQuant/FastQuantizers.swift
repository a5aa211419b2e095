import IFCore

/// SIMD quantizers, bit-identical to `ReferenceQuantizer` (the tests compare them over odd shapes,
/// zero rows and denormals). The per-element operations are the same float32 operations; only the
/// absmax reduction is reordered, and max is exact in any order.
///
/// Written without SIMD masks, `replace(with:where:)`, reductions or int<->float conversion inits:
/// the stdlib implements those lane by lane, which made the first version 10x slower. Rounding,
/// truncation, max and sign use integer and float arithmetic on whole vectors instead (checked
/// in the generated assembly: no per-lane loops).
enum FastQuantizer {
    typealias V = SIMD16<Float>
    typealias VI = SIMD16<Int32>
    typealias VU = SIMD16<UInt32>

    static let magic: Float = 12_582_912   // 1.5 * 2^23: adding it rounds to an integer (nearest even)

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always) static func bits(_ v: V) -> VU { unsafeBitCast(v, to: VU.self) }
    @inline(__always) static func signedBits(_ v: V) -> VI { unsafeBitCast(v, to: VI.self) }
    @inline(__always) static func float(_ u: VU) -> V { unsafeBitCast(u, to: V.self) }
    @inline(__always) static func magnitude(_ v: V) -> V { float(bits(v) & 0x7fff_ffff) }

    /// Round half to even, as Int32 lanes (|v| < 2^22): the magic-number trick, read from the bits.
    @inline(__always)
    static func roundEvenBits(_ a: V) -> (rounded: V, integer: VI) {
        let shifted = a + magic
        return (shifted - magic, unsafeBitCast(bits(shifted) & 0x007f_ffff, to: VI.self) &- 0x0040_0000)
    }

    /// Round half away from zero (C roundf) of |v| < 2^22, as Int32 lanes: round half to even, plus
    /// one where the magnitude sat exactly on .5 and was rounded down. t = (a - r) - 0.5 is exact and
    /// <= 0; it is +0 exactly on a half, negative otherwise, so 1 - (sign bit of t) is the correction.
    @inline(__always)
    static func roundHalfAway(_ v: V) -> VI {
        let a = magnitude(v)
        let (r, n) = roundEvenBits(a)
        let onHalf = 1 &- unsafeBitCast(bits((a - r) - 0.5) &>> 31, to: VI.self)
        let sign = signedBits(v) &>> 31            // 0 or -1
        return ((n &+ onHalf) ^ sign) &- sign
    }

    /// Truncation of 0 <= v < 2^22: round half to even, minus one where that rounded up.
    @inline(__always)
    static func truncateNonNegative(_ v: V) -> VI {
        let (r, n) = roundEvenBits(v)
        return n &- unsafeBitCast(bits(v - r) &>> 31, to: VI.self)
    }

    @inline(__always) static func maxInt(_ x: VI, _ y: VI) -> VI { let d = x &- y; return x &- (d & (d &>> 31)) }
    @inline(__always) static func minInt(_ x: VI, _ y: VI) -> VI { let d = x &- y; return y &+ (d & (d &>> 31)) }

    /// Largest lane of non-negative float bit patterns (ordered like the floats), as a Float.
    @inline(__always)
    static func largest(_ m: VI) -> Float {
        let d8 = m.lowHalf &- m.highHalf
        let m8 = m.lowHalf &- (d8 & (d8 &>> 31))
        let d4 = m8.lowHalf &- m8.highHalf
        let m4 = m8.lowHalf &- (d4 & (d4 &>> 31))
        return Float(bitPattern: UInt32(max(max(m4[0], m4[1]), max(m4[2], m4[3]))))
    }

    /// Largest |x| of a block of 32.
    @inline(__always)
    static func absMax32(_ v0: V, _ v1: V) -> Float {
        largest(maxInt(signedBits(magnitude(v0)), signedBits(magnitude(v1))))
    }

    static func absMax(_ p: UnsafePointer<Float>, count: Int) -> Float {
        var m = VI(repeating: 0)
        var i = 0
        while i + 16 <= count {
            m = maxInt(m, signedBits(magnitude(load(p + i))))
            i += 16
        }
        var result = largest(m)
        while i < count {
            result = max(result, abs(p[i]))
            i += 1
        }
        return result
    }

    /// Largest |x| of a block of 32 as its float bit pattern (>= 0x7f800000 means inf/NaN present).
    @inline(__always)
    static func absMaxBits32(_ xs: UnsafePointer<Float>) -> Int32 {
        let m = maxInt(signedBits(magnitude(load(xs))), signedBits(magnitude(load(xs + 16))))
        return Int32(bitPattern: largest(m).bitPattern)
    }

    /// 1/d per lane, 0 where d is 0 or 1/d is not finite (same rule as `ReferenceQuantizer.inverse`).
    @inline(__always)
    static func inverses(_ d: SIMD4<Float>) -> SIMD4<Float> {
        var id = 1 / d
        for k in 0..<4 where d[k] == 0 || !id[k].isFinite { id[k] = 0 }
        return id
    }

    /// q8_0 of one row. Four blocks share one vector division (divps gives the same IEEE quotients
    /// as divss), and the fp16 scales are converted in bulk with F16C at the end of the row.
    /// Returns false when the row holds inf/NaN (seen in a block's absmax bits; the caller reports it).
    static func q8_0(_ x: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawPointer) -> Bool {
        typealias L = BlockLayout.Q8_0
        let base = x.baseAddress!
        let blocks = x.count / L.elementCount
        var finite = true
        withUnsafeTemporaryAllocation(of: Float.self, capacity: blocks + 4) { scales in
            withUnsafeTemporaryAllocation(of: UInt16.self, capacity: blocks + 4) { halves in
                var block = 0
                while block < blocks {
                    let group = min(4, blocks - block)
                    // Built from registers: filling lanes through memory stalled on store forwarding.
                    let p = base + block * L.elementCount
                    let amax = group == 4
                        ? SIMD4<Int32>(absMaxBits32(p), absMaxBits32(p + 32), absMaxBits32(p + 64), absMaxBits32(p + 96))
                        : SIMD4<Int32>(absMaxBits32(p), group > 1 ? absMaxBits32(p + 32) : 0, group > 2 ? absMaxBits32(p + 64) : 0, 0)
                    if max(max(amax[0], amax[1]), max(amax[2], amax[3])) >= 0x7f80_0000 { finite = false }
                    let d = unsafeBitCast(amax, to: SIMD4<Float>.self) / 127
                    let id = inverses(d)
                    for k in 0..<group {
                        scales[block + k] = d[k]
                        let xs = base + (block + k) * L.elementCount
                        let b = out + (block + k) * L.byteCount
                        let idv = V(repeating: id[k])
                        b.storeBytes(of: SIMD16<Int8>(truncatingIfNeeded: roundHalfAway(load(xs) * idv)), toByteOffset: L.quantsOffset, as: SIMD16<Int8>.self)
                        b.storeBytes(of: SIMD16<Int8>(truncatingIfNeeded: roundHalfAway(load(xs + 16) * idv)), toByteOffset: L.quantsOffset + 16, as: SIMD16<Int8>.self)
                    }
                    block += group
                }
                Float32Conversion.narrowToHalf(UnsafeBufferPointer(rebasing: scales[0..<blocks]), into: UnsafeMutableBufferPointer(rebasing: halves[0..<blocks]))
                for k in 0..<blocks { (out + k * L.byteCount).storeBytes(of: halves[k].littleEndian, as: UInt16.self) }
            }
        }
        return finite
    }

    /// q4_0 of one row; returns false when the row holds inf/NaN.
    static func q4_0(_ x: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawPointer) -> Bool {
        typealias L = BlockLayout.Q4_0
        let base = x.baseAddress!
        let half = V(repeating: 8.5)
        let fifteen = VI(repeating: 15)
        var finite = true
        for block in 0..<(x.count / L.elementCount) {
            let xs = base + block * L.elementCount
            let v0 = load(xs), v1 = load(xs + 16)
            let amax = absMax32(v0, v1)
            if !(amax <= .greatestFiniteMagnitude) { finite = false; continue }
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
            // Lanes are in [0, 16.5] (two roundings: product, then + 8.5, as gguf-py).
            let lo = minInt(truncateNonNegative(v0 * id + half), fifteen)
            let hi = minInt(truncateNonNegative(v1 * id + half), fifteen)
            b.storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: lo | (hi &<< 4)), toByteOffset: L.quantsOffset, as: SIMD16<UInt8>.self)
        }
        return finite
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
            let q = minInt(hi, maxInt(lo, roundHalfAway(load(base + i) * id)))
            UnsafeMutableRawPointer(out + i).storeBytes(of: SIMD16<Int8>(truncatingIfNeeded: q), as: SIMD16<Int8>.self)
            i += 16
        }
        while i < count {
            out[i] = Int8(min(127, max(-127, ReferenceQuantizer.roundHalfAway(base[i] * idScalar))))
            i += 1
        }
        return scale
    }

    /// Whether any lane is inf or NaN (exponent all ones), without masks: the OR of
    /// (magnitude bits + 0x00800000) has its sign bit set exactly when some magnitude >= 0x7f800000.
    static func containsNonFinite(_ p: UnsafePointer<Float>, count: Int) -> Bool {
        var acc = VU(repeating: 0)
        var i = 0
        while i + 16 <= count {
            acc |= (bits(load(p + i)) & 0x7fff_ffff) &+ 0x0080_0000
            i += 16
        }
        let folded = acc.lowHalf | acc.highHalf
        let f4 = folded.lowHalf | folded.highHalf
        if (f4[0] | f4[1] | f4[2] | f4[3]) & 0x8000_0000 != 0 { return true }
        while i < count {
            if !p[i].isFinite { return true }
            i += 1
        }
        return false
    }
}
