extension ByteStorage {
    /// `withUnsafeBytes` over the whole storage for a body with typed throws (the protocol's
    /// `rethrows` would widen the error to `any Error`).
    func withAllBytes<R>(_ body: (UnsafeRawBufferPointer) throws(TensorIOError) -> R) throws(TensorIOError) -> R {
        var result: Result<R, TensorIOError>?
        withUnsafeBytes(in: 0..<byteCount) { bytes in
            do throws(TensorIOError) { result = .success(try body(bytes)) } catch { result = .failure(error) }
        }
        // SAFETY of the force: the closure above always runs exactly once.
        return try result!.get()
    }
}
