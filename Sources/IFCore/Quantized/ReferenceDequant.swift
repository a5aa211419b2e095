/// Scalar dequantization that defines each block type's meaning (ggml's `dequantize_row_*` and
/// gguf-py's `dequantize_blocks`: every product rounded separately, no fused multiply-add, so the
/// results match gguf-py bit for bit). `count` is a whole number of blocks.
enum ReferenceDequant {
    static func q8_0(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        typealias L = BlockLayout.Q8_0
        for block in 0..<(count / L.elementCount) {
            let b = src + block * L.byteCount
            let d = BlockLayout.half(UInt16(littleEndian: b.loadUnaligned(as: UInt16.self)))
            for j in 0..<L.elementCount {
                dst[block * L.elementCount + j] = Float(b.load(fromByteOffset: L.quantsOffset + j, as: Int8.self)) * d
            }
        }
    }

    static func q4_0(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        typealias L = BlockLayout.Q4_0
        for block in 0..<(count / L.elementCount) {
            let b = src + block * L.byteCount
            let d = BlockLayout.half(UInt16(littleEndian: b.loadUnaligned(as: UInt16.self)))
            let out = dst + block * L.elementCount
            for j in 0..<(L.elementCount / 2) {
                let byte = b.load(fromByteOffset: L.quantsOffset + j, as: UInt8.self)
                out[j] = Float(Int(byte & 0x0F) - 8) * d
                out[j + L.elementCount / 2] = Float(Int(byte >> 4) - 8) * d
            }
        }
    }

    static func q4_k(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        typealias L = BlockLayout.Q4_K
        for block in 0..<(count / L.elementCount) {
            let b = src + block * L.byteCount
            let d = BlockLayout.half(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: L.scaleOffset, as: UInt16.self)))
            let dmin = BlockLayout.half(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: L.minScaleOffset, as: UInt16.self)))
            let out = dst + block * L.elementCount
            for group in 0..<4 {
                let (sc0, m0) = L.scaleAndMin(at: 2 * group, in: b + L.scalesOffset)
                let (sc1, m1) = L.scaleAndMin(at: 2 * group + 1, in: b + L.scalesOffset)
                let d0 = d * Float(sc0), min0 = dmin * Float(m0)
                let d1 = d * Float(sc1), min1 = dmin * Float(m1)
                for l in 0..<32 {
                    let byte = b.load(fromByteOffset: L.quantsOffset + group * 32 + l, as: UInt8.self)
                    out[group * 64 + l] = d0 * Float(byte & 0x0F) - min0
                    out[group * 64 + 32 + l] = d1 * Float(byte >> 4) - min1
                }
            }
        }
    }
}
