/// Byte-level meaning of a torch tensor over its storage: (offset, size, stride) in elements.
/// Contiguous views are slices of the storage; anything else is gathered into row-major order.
struct StridedView: Sendable {
    let dtype: DType
    let shape: [Int]
    let strides: [Int]
    /// In elements.
    let storageOffset: Int
    let elementCount: Int

    /// Checks sizes for overflow; `name` is for messages.
    init(_ record: TensorRecord, name: String, path: String) throws(TensorIOError) {
        guard let count = CheckedMath.product(record.shape), CheckedMath.multiply(count, record.dtype.byteSize) != nil else {
            throw .malformed(path: path, message: "tensor '\(name)': shape \(record.shape) overflows")
        }
        dtype = record.dtype
        shape = record.shape
        strides = record.strides
        storageOffset = record.storageOffset
        elementCount = count
        _ = try requiredStorageBytes(name: name, path: path)
    }

    var byteCount: Int { elementCount * dtype.byteSize }

    /// Bytes of storage the view reaches: (offset + the largest index reached + 1) x element size.
    func requiredStorageBytes(name: String, path: String) throws(TensorIOError) -> Int {
        if elementCount == 0 { return 0 }
        var last = storageOffset
        for (size, stride) in zip(shape, strides) {
            guard let step = CheckedMath.multiply(size - 1, stride), let next = CheckedMath.add(last, step) else {
                throw .malformed(path: path, message: "tensor '\(name)': size \(shape) stride \(strides) offset \(storageOffset) overflows")
            }
            last = next
        }
        guard let elements = CheckedMath.add(last, 1), let bytes = CheckedMath.multiply(elements, dtype.byteSize) else {
            throw .malformed(path: path, message: "tensor '\(name)': size \(shape) stride \(strides) offset \(storageOffset) overflows")
        }
        return bytes
    }

    /// Row-major contiguous: each stride is the product of the sizes after it (size-1 dims are free).
    var isContiguous: Bool {
        var expected = 1
        for (size, stride) in zip(shape, strides).reversed() {
            if size != 1 && stride != expected { return false }
            expected *= size
        }
        return true
    }

    /// The tensor's row-major bytes out of `storage` (which holds at least `requiredStorageBytes`).
    func bytes(from storage: ByteSlice) -> ByteSlice {
        if elementCount == 0 { return ByteSlice(bytes: []) }
        let start = storageOffset * dtype.byteSize
        if isContiguous { return storage.slice(start..<(start + byteCount)) }
        let gathered = storage.withUnsafeBytes { gather($0) }
        return ByteSlice(storage: HeapStorage(gathered, description: "\(storage.storage.storageDescription) (strided view)"), range: 0..<gathered.count)
    }

    /// Plain odometer walk over the output's indices; rows are copied whole when the innermost
    /// stride is 1.
    private func gather(_ source: UnsafeRawBufferPointer) -> [UInt8] {
        let size = dtype.byteSize
        let rank = shape.count
        let rowLength = shape[rank - 1]
        let rowStride = strides[rank - 1]
        let rowCount = elementCount / rowLength
        return [UInt8](unsafeUninitializedCapacity: byteCount) { typedOutput, initialized in
            let output = UnsafeMutableRawBufferPointer(typedOutput)
            var index = [Int](repeating: 0, count: rank)
            var outputOffset = 0
            for _ in 0..<rowCount {
                var element = storageOffset
                for dimension in 0..<(rank - 1) { element += index[dimension] * strides[dimension] }
                if rowStride == 1 {
                    // SAFETY: requiredStorageBytes bounded every index inside `source`; output has byteCount bytes.
                    UnsafeMutableRawBufferPointer(rebasing: output[outputOffset..<(outputOffset + rowLength * size)])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[(element * size)..<((element + rowLength) * size)]))
                    outputOffset += rowLength * size
                } else {
                    for column in 0..<rowLength {
                        let from = (element + column * rowStride) * size
                        for byte in 0..<size { output[outputOffset + byte] = source[from + byte] }
                        outputOffset += size
                    }
                }
                var dimension = rank - 2
                while dimension >= 0 {
                    index[dimension] += 1
                    if index[dimension] < shape[dimension] { break }
                    index[dimension] = 0
                    dimension -= 1
                }
            }
            initialized = byteCount
        }
    }
}
