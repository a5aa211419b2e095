extension ByteStorage {
    /// `withUnsafeBytes` for bodies that throw `TensorIOError` (typed throws do not pass through
    /// `rethrows`).
    func withBytes<R>(
        in range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws(TensorIOError) -> R
    ) throws(TensorIOError) -> R {
        let result: Result<R, TensorIOError> = withUnsafeBytes(in: range) { raw in
            do throws(TensorIOError) { return .success(try body(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}

extension ByteSlice {
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws(TensorIOError) -> R) throws(TensorIOError) -> R {
        try storage.withBytes(in: range, body)
    }
}
