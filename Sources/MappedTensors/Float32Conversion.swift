import CHalfConvert

/// Bulk conversions between 16-bit floats and Float, through the F16C helper. This file is the only
/// Swift code that imports CHalfConvert.
public enum Float32Conversion {
    /// fp16 bits -> Float. `source.count == destination.count`.
    public static func widenHalf(_ source: UnsafeBufferPointer<UInt16>, into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(source.count == destination.count)
        guard let s = source.baseAddress, let d = destination.baseAddress else { return }
        chc_f16_to_f32(s, d, source.count)
    }

    /// Float -> fp16 bits, round to nearest even.
    public static func narrowToHalf(_ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<UInt16>) {
        precondition(source.count == destination.count)
        guard let s = source.baseAddress, let d = destination.baseAddress else { return }
        chc_f32_to_f16(s, d, source.count)
    }

    /// bf16 bits -> Float.
    public static func widenBFloat16(_ source: UnsafeBufferPointer<UInt16>, into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(source.count == destination.count)
        guard let s = source.baseAddress, let d = destination.baseAddress else { return }
        chc_bf16_to_f32(s, d, source.count)
    }

    /// Float -> bf16 bits, round to nearest even.
    public static func narrowToBFloat16(_ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<UInt16>) {
        precondition(source.count == destination.count)
        guard let s = source.baseAddress, let d = destination.baseAddress else { return }
        chc_f32_to_bf16(s, d, source.count)
    }

    /// Scalar reference for fp16 -> Float (defines the meaning; tests compare against it).
    public static func widenHalfReference(_ source: UnsafeBufferPointer<UInt16>, into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(source.count == destination.count)
        guard let s = source.baseAddress, let d = destination.baseAddress else { return }
        chc_f16_to_f32_reference(s, d, source.count)
    }

    /// Scalar reference for Float -> fp16.
    public static func narrowToHalfReference(_ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<UInt16>) {
        precondition(source.count == destination.count)
        guard let s = source.baseAddress, let d = destination.baseAddress else { return }
        chc_f32_to_f16_reference(s, d, source.count)
    }

    public static var hasF16C: Bool { chc_has_f16c() != 0 }

    /// Widens `count` elements of `dtype` starting at `raw` into `destination` (floats and integers).
    public static func widen(_ raw: UnsafeRawBufferPointer, dtype: DType, into destination: UnsafeMutableBufferPointer<Float>) throws(TensorIOError) {
        let count = destination.count
        precondition(raw.count >= count * dtype.byteSize)
        switch dtype {
        case .f32:
            #if _endian(little)
            UnsafeMutableRawBufferPointer(destination).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<(count * 4)]))
            #else
            for i in 0..<count { destination[i] = Float(bitPattern: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self).littleEndian) }
            #endif
        case .f16, .bf16:
            // File bytes are not guaranteed 2-byte aligned: convert through an aligned scratch in
            // bounded chunks.
            let chunk = 4096
            withUnsafeTemporaryAllocation(of: UInt16.self, capacity: chunk) { scratch in
                var start = 0
                while start < count {
                    let n = min(chunk, count - start)
                    UnsafeMutableRawBufferPointer(scratch).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[(start * 2)..<((start + n) * 2)]))
                    let s = UnsafeBufferPointer(rebasing: scratch[0..<n])
                    let d = UnsafeMutableBufferPointer(rebasing: destination[start..<(start + n)])
                    if dtype == .f16 { widenHalf(s, into: d) } else { widenBFloat16(s, into: d) }
                    start += n
                }
            }
        case .f64:
            for i in 0..<count { destination[i] = Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self).littleEndian)) }
        case .i64:
            for i in 0..<count { destination[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))) }
        case .i32:
            for i in 0..<count { destination[i] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))) }
        case .i16:
            for i in 0..<count { destination[i] = Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: Int16.self))) }
        case .i8:
            for i in 0..<count { destination[i] = Float(raw.load(fromByteOffset: i, as: Int8.self)) }
        case .u8, .bool:
            for i in 0..<count { destination[i] = Float(raw[i]) }
        case .u16:
            for i in 0..<count { destination[i] = Float(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) }
        case .u32:
            for i in 0..<count { destination[i] = Float(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
        case .u64:
            for i in 0..<count { destination[i] = Float(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))) }
        case .f8e4m3, .f8e5m2, .f8e8m0:
            throw .unsupported(path: "", message: "widening \(dtype.rawValue) to F32 is not implemented")
        }
    }

    /// All elements of `view` as Float.
    public static func floats(of view: TensorView) throws(TensorIOError) -> [Float] {
        let count = view.elementCount
        var result = [Float](repeating: 0, count: count)
        var failure: TensorIOError?
        view.data.withUnsafeBytes { raw in
            result.withUnsafeMutableBufferPointer { out in
                do throws(TensorIOError) { try widen(raw, dtype: view.dtype, into: out) } catch { failure = error }
            }
        }
        if let failure { throw failure }
        return result
    }
}
