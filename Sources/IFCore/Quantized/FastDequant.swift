/// SIMD dequantization; bit-identical to `ReferenceDequant` (same operations per element, only
/// vectorized), which the tests check.
enum FastDequant {
    static func q8_0(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        typealias L = BlockLayout.Q8_0
        let out = UnsafeMutableRawPointer(dst)
        for block in 0..<(count / L.elementCount) {
            let b = src + block * L.byteCount
            let d = SIMD16<Float>(repeating: BlockLayout.half(UInt16(littleEndian: b.loadUnaligned(as: UInt16.self))))
            let q0 = b.loadUnaligned(fromByteOffset: L.quantsOffset, as: SIMD16<Int8>.self)
            let q1 = b.loadUnaligned(fromByteOffset: L.quantsOffset + 16, as: SIMD16<Int8>.self)
            let o = out + block * L.elementCount * 4
            o.storeBytes(of: SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: q0)) * d, as: SIMD16<Float>.self)
            (o + 64).storeBytes(of: SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: q1)) * d, as: SIMD16<Float>.self)
        }
    }

    static func q4_0(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        typealias L = BlockLayout.Q4_0
        let out = UnsafeMutableRawPointer(dst)
        let eight = SIMD16<Int32>(repeating: 8)
        for block in 0..<(count / L.elementCount) {
            let b = src + block * L.byteCount
            let d = SIMD16<Float>(repeating: BlockLayout.half(UInt16(littleEndian: b.loadUnaligned(as: UInt16.self))))
            let q = SIMD16<Int32>(truncatingIfNeeded: b.loadUnaligned(fromByteOffset: L.quantsOffset, as: SIMD16<UInt8>.self))
            let o = out + block * L.elementCount * 4
            o.storeBytes(of: SIMD16<Float>((q & 0x0F) &- eight) * d, as: SIMD16<Float>.self)
            (o + 64).storeBytes(of: SIMD16<Float>((q &>> 4) &- eight) * d, as: SIMD16<Float>.self)
        }
    }

    static func q4_k(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        typealias L = BlockLayout.Q4_K
        let out = UnsafeMutableRawPointer(dst)
        for block in 0..<(count / L.elementCount) {
            let b = src + block * L.byteCount
            let d = BlockLayout.half(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: L.scaleOffset, as: UInt16.self)))
            let dmin = BlockLayout.half(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: L.minScaleOffset, as: UInt16.self)))
            let o = out + block * L.elementCount * 4
            for group in 0..<4 {
                let (sc0, m0) = L.scaleAndMin(at: 2 * group, in: b + L.scalesOffset)
                let (sc1, m1) = L.scaleAndMin(at: 2 * group + 1, in: b + L.scalesOffset)
                let d0 = SIMD16<Float>(repeating: d * Float(sc0)), min0 = SIMD16<Float>(repeating: dmin * Float(m0))
                let d1 = SIMD16<Float>(repeating: d * Float(sc1)), min1 = SIMD16<Float>(repeating: dmin * Float(m1))
                for half in 0..<2 {
                    let q = SIMD16<Int32>(truncatingIfNeeded: b.loadUnaligned(
                        fromByteOffset: L.quantsOffset + group * 32 + half * 16, as: SIMD16<UInt8>.self))
                    let g = o + (group * 64 + half * 16) * 4
                    g.storeBytes(of: d0 * SIMD16<Float>(q & 0x0F) - min0, as: SIMD16<Float>.self)
                    (g + 128).storeBytes(of: d1 * SIMD16<Float>(q &>> 4) - min1, as: SIMD16<Float>.self)
                }
            }
        }
    }

    static func int8Row(_ src: UnsafeRawPointer, scale: Float, count: Int, into dst: UnsafeMutablePointer<Float>) {
        let s = SIMD16<Float>(repeating: scale)
        var j = 0
        while j + 16 <= count {
            let q = SIMD16<Int32>(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: j, as: SIMD16<Int8>.self))
            UnsafeMutableRawPointer(dst + j).storeBytes(of: SIMD16<Float>(q) * s, as: SIMD16<Float>.self)
            j += 16
        }
        while j < count {
            dst[j] = Float(src.load(fromByteOffset: j, as: Int8.self)) * scale
            j += 1
        }
    }
}
