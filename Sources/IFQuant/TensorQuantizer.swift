import Dispatch
import IFCore

/// A weight encoded with one scheme: `data` holds the GGUF tensor bytes of the [rows, rowLength]
/// view (blocks along each row); int8 also carries its per-row F32 scales.
public struct QuantizedTensor: Sendable {
    public let name: String
    public let scheme: QuantScheme
    /// The original (PyTorch-order) shape.
    public let shape: [Int]
    public let rows: Int
    public let rowLength: Int
    public let data: [UInt8]
    /// int8_rowwise only: absmax/127 of each row.
    public let rowScales: [Float]?
    /// Present when measured (`measureError: true`).
    public let error: ErrorStats?

    public var storageType: GGMLType { scheme.storageType }
    /// Bytes of the encoded weight including int8's scales.
    public var byteCount: Int { data.count + (rowScales?.count ?? 0) * 4 }

    /// The values this encoding stands for, row after row (tests, reports).
    public func dequantized() throws(TensorIOError) -> [Float] {
        var result = [Float](repeating: 0, count: rows * rowLength)
        var failure: TensorIOError?
        data.withUnsafeBytes { bytes in
            result.withUnsafeMutableBufferPointer { out in
                do throws(TensorIOError) {
                    if let rowScales {
                        try rowScales.withUnsafeBufferPointer { scales throws(TensorIOError) in
                            try Dequantizer.dequantizeInt8RowwiseRows(weights: bytes, scales: UnsafeRawBufferPointer(scales),
                                                                      rowLength: rowLength, rows: 0..<rows, into: out, tensorName: name)
                        }
                    } else {
                        try Dequantizer.dequantizeRows(of: bytes, type: storageType, rowLength: rowLength,
                                                       rows: 0..<rows, into: out, tensorName: name)
                    }
                } catch { failure = error }
            }
        }
        if let failure { throw failure }
        return result
    }
}

/// Quantizes whole tensors: widens the source rows to Float chunk by chunk (never the whole tensor),
/// rejects inf/NaN with their position, and encodes rows in parallel. Output does not depend on the
/// thread count: every row is encoded on its own.
public enum TensorQuantizer {
    public enum Implementation: Sendable {
        /// The scalar code that defines each scheme, one thread.
        case reference
        /// SIMD, rows split over `threads` workers.
        case fast(threads: Int)

        public static var fast: Implementation { .fast(threads: defaultThreadCount) }
    }

    public static var defaultThreadCount: Int { max(1, ProcessInfoCompat.activeProcessorCount) }

    /// Source element types that can be quantized.
    public static let sourceTypes: Set<DType> = [.f32, .f16, .bf16, .f64]

    /// Quantizes `view` (F32/F16/BF16/F64) as rows (`PackStorage.rowView`: [shape[0], product(rest)],
    /// a 1-D tensor as one row).
    public static func quantize(
        _ view: TensorView, as scheme: QuantScheme, implementation: Implementation = .fast, measureError: Bool = false
    ) throws(QuantError) -> QuantizedTensor {
        var result: Result<QuantizedTensor, QuantError>!
        view.data.withUnsafeBytes { bytes in
            do throws(QuantError) {
                result = .success(try quantize(name: view.name, bytes: bytes, dtype: view.dtype, shape: view.shape, as: scheme,
                                               implementation: implementation, measureError: measureError))
            } catch { result = .failure(error) }
        }
        return try result.get()
    }

    public static func quantize(
        name: String, bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int], as scheme: QuantScheme,
        implementation: Implementation = .fast, measureError: Bool = false, firstRowIndex: Int = 0
    ) throws(QuantError) -> QuantizedTensor {
        guard sourceTypes.contains(dtype) else {
            throw .unsupported(tensor: name, message: "element type \(dtype.rawValue) cannot be quantized (expected F32, F16, BF16 or F64)")
        }
        let (rows, rowLength) = PackStorage.rowView(of: shape)
        guard let elementCount = CheckedMath.product(shape), elementCount == rows * rowLength,
              let sourceBytes = CheckedMath.multiply(elementCount, dtype.byteSize), sourceBytes <= bytes.count else {
            throw .unsupported(tensor: name, message: "shape \(shape) x \(dtype.rawValue) does not match its \(bytes.count) bytes")
        }
        guard rowLength > 0, rowLength % scheme.blockSize == 0, let outBytes = scheme.byteCount(rows: rows, rowLength: rowLength) else {
            throw .unsupported(tensor: name, message: "row length \(rowLength) (\(PackStorage.rowViewDescription(of: shape))) is not a multiple of \(scheme.rawValue)'s block size \(scheme.blockSize)")
        }
        let rowOutBytes = scheme == .int8 ? rowLength : scheme.storageType.byteCount(elementCount: rowLength)!
        let dataCount = outBytes - (scheme == .int8 ? rows * 4 : 0)

        let useReference = isReference(implementation)
        let threads: Int
        switch implementation {
        case .reference: threads = 1
        case .fast(let n): threads = max(1, n)
        }
        // Chunks of about 64 Ki elements keep scratch small and balance the workers.
        let rowsPerChunk = max(1, min(rows, (1 << 16) / rowLength))
        let chunkCount = (rows + rowsPerChunk - 1) / rowsPerChunk
        var stats = [ErrorStats](repeating: ErrorStats(), count: chunkCount)
        var failures = [QuantError?](repeating: nil, count: chunkCount)
        var scales = [Float](repeating: 0, count: scheme == .int8 ? rows : 0)

        let data = [UInt8](unsafeUninitializedCapacity: dataCount) { outBuffer, initialized in
            let out = UncheckedSendable(outBuffer.baseAddress!)
            let src = UncheckedSendable(bytes.baseAddress!)
            stats.withUnsafeMutableBufferPointer { statsBuffer in
            failures.withUnsafeMutableBufferPointer { failureBuffer in
            scales.withUnsafeMutableBufferPointer { scaleBuffer in
                let shared = UncheckedSendable((statsBuffer, failureBuffer, scaleBuffer))
                let work: @Sendable (Int) -> Void = { chunk in
                    let (statsOut, failureOut, scaleOut) = shared.value
                    let firstRow = chunk * rowsPerChunk
                    let chunkRows = min(rowsPerChunk, rows - firstRow)
                    let n = chunkRows * rowLength
                    // AVX2 kernels straight from the source bytes; a chunk with inf/NaN or an overflowing
                    // scale is redone below, where the error gets its position.
                    if !useReference, !measureError, QuantKernels.handles(scheme, dtype),
                       QuantKernels.encode(src.value + firstRow * rowLength * dtype.byteSize, dtype: dtype, scheme: scheme,
                                           rows: chunkRows, rowLength: rowLength, into: UnsafeMutableRawPointer(out.value + firstRow * rowOutBytes),
                                           scales: scaleOut.baseAddress.map { $0 + firstRow }) {
                        return
                    }
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: n * (measureError ? 2 : 1)) { scratch in
                        let floats = UnsafeMutableBufferPointer(rebasing: scratch[0..<n])
                        let raw = UnsafeRawBufferPointer(start: src.value + firstRow * rowLength * dtype.byteSize, count: n * dtype.byteSize)
                        do throws(TensorIOError) { try widen(raw, dtype: dtype, into: floats) } catch {
                            failureOut[chunk] = .unsupported(tensor: name, message: error.description)
                            return
                        }
                        let scanned = !kernelChecksFinite(scheme, reference: useReference)
                        if scanned, let bad = firstNonFinite(UnsafeBufferPointer(floats)) {
                            failureOut[chunk] = .nonFinite(tensor: name, row: firstRowIndex + firstRow + bad / rowLength, column: bad % rowLength,
                                                           value: "\(floats[bad])")
                            return
                        }
                        for r in 0..<chunkRows {
                            let rowFloats = UnsafeBufferPointer(rebasing: floats[(r * rowLength)..<((r + 1) * rowLength)])
                            let dst = out.value + (firstRow + r) * rowOutBytes
                            let finite = encodeRow(rowFloats, scheme: scheme, reference: useReference,
                                                   into: UnsafeMutableRawPointer(dst), scale: scaleOut.baseAddress.map { $0 + firstRow + r })
                            if !finite, let bad = rowFloats.firstIndex(where: { !$0.isFinite }) {
                                failureOut[chunk] = .nonFinite(tensor: name, row: firstRowIndex + firstRow + r, column: bad,
                                                               value: "\(rowFloats[bad])")
                                return
                            }
                        }
                        if let (row, column) = firstOverflowingScale(out.value + firstRow * rowOutBytes, scheme: scheme,
                                                                      rows: chunkRows, rowLength: rowLength) {
                            failureOut[chunk] = .scaleOverflow(tensor: name, row: firstRowIndex + firstRow + row, column: column, scheme: scheme.rawValue)
                            return
                        }
                        if measureError {
                            let recon = UnsafeMutableBufferPointer(rebasing: scratch[n..<(2 * n)])
                            reconstruct(UnsafeRawPointer(out.value + firstRow * rowOutBytes), scheme: scheme, rows: chunkRows,
                                        rowLength: rowLength, scales: scaleOut.baseAddress.map { UnsafePointer($0 + firstRow) },
                                        into: recon)
                            statsOut[chunk].add(original: floats.baseAddress!, reconstructed: recon.baseAddress!, count: n)
                        }
                    }
                }
                if threads == 1 || chunkCount == 1 {
                    for chunk in 0..<chunkCount { work(chunk) }
                } else {
                    // A few chunks per worker; concurrentPerform caps the parallelism at the core count.
                    DispatchQueue.concurrentPerform(iterations: chunkCount, execute: work)
                }
            }
            }
            }
            initialized = dataCount
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
        var total: ErrorStats?
        if measureError {
            var merged = ErrorStats()
            for s in stats { merged.merge(s) }
            total = merged
        }
        return QuantizedTensor(name: name, scheme: scheme, shape: shape, rows: rows, rowLength: rowLength, data: data,
                               rowScales: scheme == .int8 ? scales : nil, error: total)
    }

    private static func isReference(_ implementation: Implementation) -> Bool {
        if case .reference = implementation { return true }
        return false
    }

    /// Encodes one row; false when the fast q8_0/q4_0 kernels saw inf/NaN (their absmax catches it,
    /// so those schemes skip the separate scan).
    @inline(__always)
    static func encodeRow(_ x: UnsafeBufferPointer<Float>, scheme: QuantScheme, reference: Bool,
                          into dst: UnsafeMutableRawPointer, scale: UnsafeMutablePointer<Float>?) -> Bool {
        switch (scheme, reference) {
        case (.q8_0, true): ReferenceQuantizer.q8_0(x, into: dst)
        case (.q8_0, false):
            if QuantKernels.isAvailable {
                return QuantKernels.q8_0(x.baseAddress!, dtype: .f32, blocks: x.count / BlockLayout.Q8_0.elementCount, into: dst)
            }
            return FastQuantizer.q8_0(x, into: dst)
        case (.q4_0, true): ReferenceQuantizer.q4_0(x, into: dst)
        case (.q4_0, false): return FastQuantizer.q4_0(x, into: dst)
        case (.q4_k, _): Q4KQuantizer.quantizeRow(x, into: dst)
        case (.int8, true): scale!.pointee = ReferenceQuantizer.int8(x, into: dst.assumingMemoryBound(to: Int8.self))
        case (.int8, false):
            if QuantKernels.isAvailable {
                return QuantKernels.int8(x.baseAddress!, dtype: .f32, count: x.count, into: dst.assumingMemoryBound(to: Int8.self), scale: scale!)
            }
            scale!.pointee = FastQuantizer.int8(x, into: dst.assumingMemoryBound(to: Int8.self))
        }
        return true
    }

    /// Whether the scheme's fast kernel detects inf/NaN itself.
    static func kernelChecksFinite(_ scheme: QuantScheme, reference: Bool) -> Bool {
        !reference && (scheme == .q8_0 || scheme == .q4_0)
    }

    /// Widens source elements to Float; fp16 straight from the (2-byte aligned) source, without the
    /// aligned copy `Float32Conversion.widen` makes for arbitrary file offsets.
    static func widen(_ raw: UnsafeRawBufferPointer, dtype: DType, into floats: UnsafeMutableBufferPointer<Float>) throws(TensorIOError) {
        if dtype == .f16, let base = raw.baseAddress, Int(bitPattern: base) % 2 == 0 {
            Float32Conversion.widenHalf(UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt16.self), count: floats.count), into: floats)
            return
        }
        try Float32Conversion.widen(raw, dtype: dtype, into: floats)
    }

    private static func reconstruct(_ src: UnsafeRawPointer, scheme: QuantScheme, rows: Int, rowLength: Int,
                                    scales: UnsafePointer<Float>?, into out: UnsafeMutableBufferPointer<Float>) {
        let rowBytes = scheme == .int8 ? rowLength : scheme.storageType.byteCount(elementCount: rowLength)!
        let bytes = UnsafeRawBufferPointer(start: src, count: rows * rowBytes)
        if scheme == .int8, let scales {
            let scaleBytes = UnsafeRawBufferPointer(start: scales, count: rows * 4)
            try? Dequantizer.dequantizeInt8RowwiseRows(weights: bytes, scales: scaleBytes, rowLength: rowLength, rows: 0..<rows, into: out)
        } else {
            try? Dequantizer.dequantizeRows(of: bytes, type: scheme.storageType, rowLength: rowLength, rows: 0..<rows, into: out)
        }
    }

    /// The first block whose fp16 scale (d, or q4_k's dmin) is infinite, as (row, first column).
    static func firstOverflowingScale(_ encoded: UnsafeMutablePointer<UInt8>, scheme: QuantScheme, rows: Int, rowLength: Int) -> (Int, Int)? {
        guard scheme != .int8 else { return nil }
        let type = scheme.storageType
        let blocksPerRow = rowLength / type.blockSize
        let raw = UnsafeRawPointer(encoded)
        for block in 0..<(rows * blocksPerRow) {
            let b = raw + block * type.blockByteCount
            let d = UInt16(littleEndian: b.loadUnaligned(as: UInt16.self))
            let dmin = type == .q4_k ? UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) : 0
            if (d & 0x7c00) == 0x7c00 || (dmin & 0x7c00) == 0x7c00 {
                return (block / blocksPerRow, (block % blocksPerRow) * type.blockSize)
            }
        }
        return nil
    }

    /// Index of the first inf/NaN, or nil (SIMD scan; the position is found only on failure).
    static func firstNonFinite(_ x: UnsafeBufferPointer<Float>) -> Int? {
        guard let base = x.baseAddress, FastQuantizer.containsNonFinite(base, count: x.count) else { return nil }
        return x.firstIndex { !$0.isFinite }
    }
}

/// Wraps a value the concurrency checker cannot see is used safely: each worker touches only its own
/// rows and chunk slots.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
