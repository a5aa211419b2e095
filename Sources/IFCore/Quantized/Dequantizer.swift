/// Turns rows of any tensor type a pack holds back into Float, a few rows at a time, so the runner
/// never needs an fp32 copy of a whole model. A tensor is viewed as [rows, rowLength] (its first
/// dimension by the product of the others); quantized blocks run along each row.
///
/// Every entry point checks its ranges and throws `TensorIOError.malformed` instead of reading out
/// of bounds. The `...Reference` variants are plain scalar code that defines the meaning; the default
/// entry points use SIMD and are tested bit for bit against them.
public enum Dequantizer {
    /// Bytes of one row of `rowLength` elements, or nil when the row is not a whole number of blocks.
    public static func rowByteCount(of type: GGMLType, rowLength: Int) -> Int? {
        type.byteCount(elementCount: rowLength)
    }

    /// Dequantizes rows `rows` of a tensor stored as `type`. `bytes` holds the tensor from its first
    /// row on; `destination` receives `rows.count * rowLength` floats, row after row.
    public static func dequantizeRows(
        of bytes: UnsafeRawBufferPointer, type: GGMLType, rowLength: Int, rows: Range<Int>,
        into destination: UnsafeMutableBufferPointer<Float>, tensorName: String = ""
    ) throws(TensorIOError) {
        let rowBytes = try checkRows(bytes: bytes, type: type, rowLength: rowLength, rows: rows,
                                     destinationCount: destination.count, tensorName: tensorName)
        guard !rows.isEmpty, rowLength > 0, let src = bytes.baseAddress, let dst = destination.baseAddress else { return }
        let first = src + rows.lowerBound * rowBytes
        let count = rows.count * rowLength
        switch type {
        case .q8_0: FastDequant.q8_0(first, count: count, into: dst)
        case .q4_0: FastDequant.q4_0(first, count: count, into: dst)
        case .q4_k: FastDequant.q4_k(first, count: count, into: dst)
        default: widenPlain(first, type: type, count: count, into: dst)
        }
    }

    /// Scalar reference of `dequantizeRows` (same checks, same results).
    public static func dequantizeRowsReference(
        of bytes: UnsafeRawBufferPointer, type: GGMLType, rowLength: Int, rows: Range<Int>,
        into destination: UnsafeMutableBufferPointer<Float>, tensorName: String = ""
    ) throws(TensorIOError) {
        let rowBytes = try checkRows(bytes: bytes, type: type, rowLength: rowLength, rows: rows,
                                     destinationCount: destination.count, tensorName: tensorName)
        guard !rows.isEmpty, rowLength > 0, let src = bytes.baseAddress, let dst = destination.baseAddress else { return }
        let first = src + rows.lowerBound * rowBytes
        let count = rows.count * rowLength
        switch type {
        case .q8_0: ReferenceDequant.q8_0(first, count: count, into: dst)
        case .q4_0: ReferenceDequant.q4_0(first, count: count, into: dst)
        case .q4_k: ReferenceDequant.q4_k(first, count: count, into: dst)
        default: widenPlain(first, type: type, count: count, into: dst)
        }
    }

    /// Dequantizes rows of an `int8_rowwise` weight: `weights` are the I8 bytes [rows, rowLength],
    /// `scales` the companion F32 tensor (one little-endian float per row); value = q * scale[row].
    public static func dequantizeInt8RowwiseRows(
        weights: UnsafeRawBufferPointer, scales: UnsafeRawBufferPointer, rowLength: Int, rows: Range<Int>,
        into destination: UnsafeMutableBufferPointer<Float>, tensorName: String = ""
    ) throws(TensorIOError) {
        _ = try checkRows(bytes: weights, type: .i8, rowLength: rowLength, rows: rows,
                          destinationCount: destination.count, tensorName: tensorName)
        guard scales.count >= rows.upperBound * 4 else {
            throw .malformed(path: tensorName, message: "int8_rowwise scales hold \(scales.count / 4) rows, row \(rows.upperBound - 1) requested")
        }
        guard !rows.isEmpty, rowLength > 0, let w = weights.baseAddress, let dst = destination.baseAddress else { return }
        for (i, row) in rows.enumerated() {
            let scale = Float(bitPattern: UInt32(littleEndian: scales.loadUnaligned(fromByteOffset: row * 4, as: UInt32.self)))
            FastDequant.int8Row(w + row * rowLength, scale: scale, count: rowLength, into: dst + i * rowLength)
        }
    }

    /// Scalar reference of `dequantizeInt8RowwiseRows`.
    public static func dequantizeInt8RowwiseRowsReference(
        weights: UnsafeRawBufferPointer, scales: UnsafeRawBufferPointer, rowLength: Int, rows: Range<Int>,
        into destination: UnsafeMutableBufferPointer<Float>, tensorName: String = ""
    ) throws(TensorIOError) {
        _ = try checkRows(bytes: weights, type: .i8, rowLength: rowLength, rows: rows,
                          destinationCount: destination.count, tensorName: tensorName)
        guard scales.count >= rows.upperBound * 4 else {
            throw .malformed(path: tensorName, message: "int8_rowwise scales hold \(scales.count / 4) rows, row \(rows.upperBound - 1) requested")
        }
        for (i, row) in rows.enumerated() {
            let scale = Float(bitPattern: UInt32(littleEndian: scales.loadUnaligned(fromByteOffset: row * 4, as: UInt32.self)))
            for j in 0..<rowLength {
                destination[i * rowLength + j] = Float(weights.load(fromByteOffset: row * rowLength + j, as: Int8.self)) * scale
            }
        }
    }

    /// A whole tensor as Float (tests, small tensors, export).
    public static func floats(of bytes: UnsafeRawBufferPointer, type: GGMLType, shape: [Int], tensorName: String = "") throws(TensorIOError) -> [Float] {
        let (rows, rowLength) = rowView(of: shape)
        var result = [Float](repeating: 0, count: rows * rowLength)
        var failure: TensorIOError?
        result.withUnsafeMutableBufferPointer { out in
            do throws(TensorIOError) {
                try dequantizeRows(of: bytes, type: type, rowLength: rowLength, rows: 0..<rows, into: out, tensorName: tensorName)
            } catch { failure = error }
        }
        if let failure { throw failure }
        return result
    }

    /// [rows, rowLength] view of a PyTorch-order shape: the first dimension by the product of the
    /// rest (a scalar or 1-D tensor is one row).
    public static func rowView(of shape: [Int]) -> (rows: Int, rowLength: Int) {
        if shape.isEmpty { return (1, 1) }
        if shape.count == 1 { return (1, shape[0]) }
        return (shape[0], shape.dropFirst().reduce(1, *))
    }

    private static func checkRows(
        bytes: UnsafeRawBufferPointer, type: GGMLType, rowLength: Int, rows: Range<Int>,
        destinationCount: Int, tensorName: String
    ) throws(TensorIOError) -> Int {
        guard rowLength >= 0, rows.lowerBound >= 0 else {
            throw .malformed(path: tensorName, message: "negative row length \(rowLength) or row \(rows.lowerBound)")
        }
        guard let rowBytes = rowByteCount(of: type, rowLength: rowLength) else {
            throw .malformed(path: tensorName, message: "row length \(rowLength) is not a multiple of \(type.name)'s block size \(type.blockSize)")
        }
        guard let needed = CheckedMath.multiply(rows.upperBound, rowBytes), needed <= bytes.count else {
            throw .malformed(path: tensorName, message: "rows \(rows.lowerBound)..<\(rows.upperBound) of \(rowLength) x \(type.name) need \(rows.upperBound) x \(rowBytes) bytes, tensor has \(bytes.count)")
        }
        guard let outCount = CheckedMath.multiply(rows.count, rowLength), outCount <= destinationCount else {
            throw .malformed(path: tensorName, message: "destination holds \(destinationCount) floats, \(rows.count) rows x \(rowLength) need more")
        }
        return rowBytes
    }

    /// Plain (block size 1) types, widened element by element; fp16/bf16 through the F16C helper.
    private static func widenPlain(_ src: UnsafeRawPointer, type: GGMLType, count: Int, into dst: UnsafeMutablePointer<Float>) {
        let out = UnsafeMutableBufferPointer(start: dst, count: count)
        switch type {
        case .f32:
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
        case .f16, .bf16:
            // File bytes need not be 2-byte aligned: convert through an aligned scratch in chunks.
            let chunk = 4096
            withUnsafeTemporaryAllocation(of: UInt16.self, capacity: chunk) { scratch in
                var start = 0
                while start < count {
                    let n = min(chunk, count - start)
                    UnsafeMutableRawPointer(scratch.baseAddress!).copyMemory(from: src + start * 2, byteCount: n * 2)
                    let s = UnsafeBufferPointer(rebasing: scratch[0..<n])
                    let d = UnsafeMutableBufferPointer(rebasing: out[start..<(start + n)])
                    if type == .f16 { Float32Conversion.widenHalf(s, into: d) } else { Float32Conversion.widenBFloat16(s, into: d) }
                    start += n
                }
            }
        case .f64:
            for i in 0..<count { out[i] = Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))) }
        case .i8:
            for i in 0..<count { out[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
        case .i16:
            for i in 0..<count { out[i] = Float(Int16(littleEndian: src.loadUnaligned(fromByteOffset: i * 2, as: Int16.self))) }
        case .i32:
            for i in 0..<count { out[i] = Float(Int32(littleEndian: src.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))) }
        case .i64:
            for i in 0..<count { out[i] = Float(Int64(littleEndian: src.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))) }
        case .q8_0, .q4_0, .q4_k:
            preconditionFailure("quantized types are dispatched before widenPlain")
        }
    }
}
