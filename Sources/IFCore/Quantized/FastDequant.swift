/// Dequantization written for LLVM's auto-vectorizer: fixed-length inner loops over raw pointers
/// with the same per-element operations as `ReferenceDequant` (so the results are identical; the
/// tests check). The stdlib's SIMD int<->float conversion inits run lane by lane and are avoided.
enum FastDequant {
    static func q8_0(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        typealias L = BlockLayout.Q8_0
        for block in 0..<(count / L.elementCount) {
            let b = src + block * L.byteCount
            let d = BlockLayout.half(UInt16(littleEndian: b.loadUnaligned(as: UInt16.self)))
            let q = (b + L.quantsOffset).assumingMemoryBound(to: Int8.self)
            let o = dst + block * L.elementCount
            for j in 0..<32 { o[j] = Float(q[j]) * d }
        }
    }

    static func q4_0(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        typealias L = BlockLayout.Q4_0
        for block in 0..<(count / L.elementCount) {
            let b = src + block * L.byteCount
            let d = BlockLayout.half(UInt16(littleEndian: b.loadUnaligned(as: UInt16.self)))
            let q = (b + L.quantsOffset).assumingMemoryBound(to: UInt8.self)
            let o = dst + block * L.elementCount
            for j in 0..<16 {
                o[j] = Float(Int32(q[j] & 0x0F) - 8) * d
                o[j + 16] = Float(Int32(q[j] >> 4) - 8) * d
            }
        }
    }

    static func q4_k(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        typealias L = BlockLayout.Q4_K
        for block in 0..<(count / L.elementCount) {
            let b = src + block * L.byteCount
            let d = BlockLayout.half(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: L.scaleOffset, as: UInt16.self)))
            let dmin = BlockLayout.half(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: L.minScaleOffset, as: UInt16.self)))
            let o = dst + block * L.elementCount
            for group in 0..<4 {
                let (sc0, m0) = L.scaleAndMin(at: 2 * group, in: b + L.scalesOffset)
                let (sc1, m1) = L.scaleAndMin(at: 2 * group + 1, in: b + L.scalesOffset)
                let d0 = d * Float(sc0), min0 = dmin * Float(m0)
                let d1 = d * Float(sc1), min1 = dmin * Float(m1)
                let q = (b + L.quantsOffset + group * 32).assumingMemoryBound(to: UInt8.self)
                let g = o + group * 64
                for l in 0..<32 {
                    g[l] = d0 * Float(q[l] & 0x0F) - min0
                    g[l + 32] = d1 * Float(q[l] >> 4) - min1
                }
            }
        }
    }

    static func int8Row(_ src: UnsafeRawPointer, scale: Float, count: Int, into dst: UnsafeMutablePointer<Float>) {
        let q = src.assumingMemoryBound(to: Int8.self)
        for j in 0..<count { dst[j] = Float(q[j]) * scale }
    }
}
