import IFCore

/// q4_k as ggml's `quantize_row_q4_K_ref` defines it (no importance weights): per 32-element
/// sub-block, `make_qkx2_quants` searches 21 candidate scales for the (scale, min) pair with the
/// least weighted squared error; the 8 scales and 8 mins are then quantized to 6 bits against the
/// super-block's fp16 `d` and `dmin`, and the elements re-quantized against those.
///
/// Arithmetic is float32 in ggml's order with every operation rounded (no FMA contraction; ggml's C
/// built with contraction can differ in rare last-bit cases). This code is both the reference and
/// the fast path (which runs it on many rows in parallel): vectorizing it would change the
/// summation order and with it the chosen scales.
public enum Q4KQuantizer {
    typealias L = BlockLayout.Q4_K

    /// ggml's `nearest_int`: round half to even through the 1.5 * 2^23 trick (|v| < 2^22).
    @inline(__always)
    static func nearestInt(_ v: Float) -> Int {
        let shifted = v + 12582912
        return Int(shifted.bitPattern & 0x007f_ffff) - 0x0040_0000
    }

    /// ggml's `make_qkx2_quants` for n = 32, nmax = 15, rmin = -1, rdelta = 0.1, nstep = 20, squared
    /// error. Fills `levels`, returns (scale, the_min) where value ~ scale * level - the_min.
    @inline(__always)
    static func makeQKX2(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                         levels: UnsafeMutablePointer<UInt8>, aux: UnsafeMutablePointer<UInt8>) -> (scale: Float, min: Float) {
        let n = 32, nmax = 15
        let rmin: Float = -1, rdelta: Float = 0.1, nstep = 20
        var minV = x[0], maxV = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < minV { minV = x[i] }
            if x[i] > maxV { maxV = x[i] }
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        if minV > 0 { minV = 0 }
        if maxV == minV {
            for i in 0..<n { levels[i] = 0 }
            return (0, -minV)
        }
        var iscale = Float(nmax) / (maxV - minV)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<n {
            let l = nearestInt(iscale * (x[i] - minV))
            levels[i] = UInt8(max(0, min(nmax, l)))
            let diff = scale * Float(levels[i]) + minV - x[i]
            bestError += weights[i] * (diff * diff)
        }
        for step in 0...nstep {
            iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (maxV - minV)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = max(0, min(nmax, nearestInt(iscale * (x[i] - minV))))
                aux[i] = UInt8(l)
                let w = weights[i]
                let fl = Float(l)
                sumL += w * fl
                sumL2 += w * fl * fl
                sumXL += w * fl * x[i]
            }
            let det = sumW * sumL2 - sumL * sumL
            if det > 0 {
                var thisScale = (sumW * sumXL - sumX * sumL) / det
                var thisMin = (sumL2 * sumX - sumL * sumXL) / det
                if thisMin > 0 {
                    thisMin = 0
                    thisScale = sumXL / sumL2
                }
                var curError: Float = 0
                for i in 0..<n {
                    let diff = thisScale * Float(aux[i]) + thisMin - x[i]
                    curError += weights[i] * (diff * diff)
                }
                if curError < bestError {
                    for i in 0..<n { levels[i] = aux[i] }
                    bestError = curError
                    scale = thisScale
                    minV = thisMin
                }
            }
        }
        return (scale, -minV)
    }

    /// Encodes one row (a whole number of 256-element super-blocks) into 144-byte blocks.
    public static func quantizeRow(_ x: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256 + 32) { levelBuffer in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 32 + 16) { floatBuffer in
                let levels = levelBuffer.baseAddress!, aux = levels + 256
                let weights = floatBuffer.baseAddress!
                let scales = weights + 32, mins = weights + 40
                for block in 0..<(x.count / L.elementCount) {
                    let xs = x.baseAddress! + block * L.elementCount
                    let b = out + block * L.byteCount
                    encodeBlock(xs, into: b, levels: levels, aux: aux, weights: weights, scales: scales, mins: mins)
                }
            }
        }
    }

    @inline(__always)
    static func encodeBlock(_ xs: UnsafePointer<Float>, into b: UnsafeMutableRawPointer,
                            levels: UnsafeMutablePointer<UInt8>, aux: UnsafeMutablePointer<UInt8>,
                            weights: UnsafeMutablePointer<Float>, scales: UnsafeMutablePointer<Float>,
                            mins: UnsafeMutablePointer<Float>) {
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<8 {
            let sub = xs + 32 * j
            var sumX2: Float = 0
            for l in 0..<32 { sumX2 += sub[l] * sub[l] }
            let avX = (sumX2 / 32).squareRoot()
            for l in 0..<32 { weights[l] = avX + abs(sub[l]) }
            let (scale, minV) = makeQKX2(sub, weights: weights, levels: levels + 32 * j, aux: aux)
            scales[j] = scale
            mins[j] = minV
            if scale > maxScale { maxScale = scale }
            if minV > maxMin { maxMin = minV }
        }
        let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
        let s = b + L.scalesOffset
        for j in 0..<8 {
            // ggml stores nearest_int's result in a uint8_t before clamping; the values are >= 0.
            let ls = min(63, UInt8(truncatingIfNeeded: nearestInt(invScale * scales[j])))
            let lm = min(63, UInt8(truncatingIfNeeded: nearestInt(invMin * mins[j])))
            if j < 4 {
                s.storeBytes(of: ls, toByteOffset: j, as: UInt8.self)
                s.storeBytes(of: lm, toByteOffset: j + 4, as: UInt8.self)
            } else {
                s.storeBytes(of: (ls & 0x0F) | ((lm & 0x0F) << 4), toByteOffset: j + 4, as: UInt8.self)
                let lo = s.load(fromByteOffset: j - 4, as: UInt8.self) | ((ls >> 4) << 6)
                s.storeBytes(of: lo, toByteOffset: j - 4, as: UInt8.self)
                let hi = s.load(fromByteOffset: j, as: UInt8.self) | ((lm >> 4) << 6)
                s.storeBytes(of: hi, toByteOffset: j, as: UInt8.self)
            }
        }
        let dBits = Float16(maxScale / 63).bitPattern
        let dminBits = Float16(maxMin / 63).bitPattern
        b.storeBytes(of: dBits.littleEndian, toByteOffset: L.scaleOffset, as: UInt16.self)
        b.storeBytes(of: dminBits.littleEndian, toByteOffset: L.minScaleOffset, as: UInt16.self)
        let d16 = BlockLayout.half(dBits), dmin16 = BlockLayout.half(dminBits)
        for j in 0..<8 {
            let (sc, m) = L.scaleAndMin(at: j, in: UnsafeRawPointer(s))
            let d = d16 * Float(sc)
            if d == 0 { continue }   // keeps make_qkx2's levels for this sub-block, as ggml does
            let dm = dmin16 * Float(m)
            for ii in 0..<32 {
                levels[32 * j + ii] = UInt8(max(0, min(15, nearestInt((xs[32 * j + ii] + dm) / d))))
            }
        }
        let q = b + L.quantsOffset
        for group in 0..<4 {
            for l in 0..<32 {
                let byte = levels[64 * group + l] | (levels[64 * group + 32 + l] << 4)
                q.storeBytes(of: byte, toByteOffset: 32 * group + l, as: UInt8.self)
            }
        }
    }
}
