/// Turns rows of any tensor type a pack holds back into Float, a few rows at a time, so the runner
/// never needs an fp32 copy of a whole model. A tensor is viewed as [rows, rowLength]
/// (`PackStorage.rowView`, or `PackTensor.rowView` for a pack tensor); quantized blocks run along
/// each row.
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
        let (rows, rowLength) = PackStorage.rowView(of: shape)
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

    /// Plain (block size 1) types, through `Float32Conversion.widen` (fp16/bf16 via the F16C helper).
    private static func widenPlain(_ src: UnsafeRawPointer, type: GGMLType, count: Int, into dst: UnsafeMutablePointer<Float>) {
        guard let dtype = PackStorage.dtype(of: type) else {
            preconditionFailure("quantized types are dispatched before widenPlain")
        }
        do {
            try Float32Conversion.widen(UnsafeRawBufferPointer(start: src, count: count * dtype.byteSize), dtype: dtype,
                                        into: UnsafeMutableBufferPointer(start: dst, count: count))
        } catch {
            // SAFETY: `widen` throws only for f8 dtypes, which no GGML type maps to.
            preconditionFailure("\(error)")
        }
    }
}
