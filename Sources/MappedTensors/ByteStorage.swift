/// Something that owns bytes: a file mapping or a heap buffer. Tensor views hold a storage and a
/// byte range, never a bare pointer, so memory cannot be freed under a view.
public protocol ByteStorage: AnyObject, Sendable {
    var byteCount: Int { get }
    /// A human-readable origin (a file path, "heap") for error messages.
    var storageDescription: String { get }
    func withUnsafeBytes<R>(in range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
    /// Bytes of `range` held in memory, reporting any failure to produce them. Mappings and heap
    /// buffers return themselves; lazily decoded storages (compressed archives) decode here, so
    /// code that may read such storages calls `ByteSlice.materialized()` before touching bytes.
    func materialize(_ range: Range<Int>) throws(TensorIOError) -> ByteSlice
}

extension ByteStorage {
    public func materialize(_ range: Range<Int>) throws(TensorIOError) -> ByteSlice {
        ByteSlice(storage: self, range: range)
    }

    /// `withUnsafeBytes` for bodies that throw `TensorIOError` (typed throws do not pass through
    /// `rethrows`, which would widen the error to `any Error`).
    public func withBytes<R>(
        in range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws(TensorIOError) -> R
    ) throws(TensorIOError) -> R {
        let result: Result<R, TensorIOError> = withUnsafeBytes(in: range) { raw in
            do throws(TensorIOError) { return .success(try body(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}

/// Bytes that live on the heap: materialized non-contiguous views, inflated zip entries, test data.
public final class HeapStorage: ByteStorage, @unchecked Sendable {
    // SAFETY: `bytes` is immutable after init.
    private let bytes: [UInt8]
    public let storageDescription: String

    public init(_ bytes: [UInt8], description: String = "heap") {
        self.bytes = bytes
        self.storageDescription = description
    }

    public var byteCount: Int { bytes.count }

    public func withUnsafeBytes<R>(
        in range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> R
    ) rethrows -> R {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "range outside buffer")
        return try bytes.withUnsafeBytes { all in
            try body(UnsafeRawBufferPointer(rebasing: all[range]))
        }
    }
}

/// A byte range inside a storage. Cheap to copy; keeps the storage alive.
public struct ByteSlice: Sendable {
    public let storage: any ByteStorage
    public let range: Range<Int>

    public init(storage: any ByteStorage, range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= storage.byteCount, "slice outside storage")
        self.storage = storage
        self.range = range
    }

    public init(bytes: [UInt8]) {
        self.init(storage: HeapStorage(bytes), range: 0..<bytes.count)
    }

    public var byteCount: Int { range.count }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes(in: range, body)
    }

    /// `withUnsafeBytes` for bodies that throw `TensorIOError` (see `ByteStorage.withBytes`).
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws(TensorIOError) -> R) throws(TensorIOError) -> R {
        try storage.withBytes(in: range, body)
    }

    /// A sub-range, relative to this slice.
    public func slice(_ relative: Range<Int>) -> ByteSlice {
        precondition(relative.lowerBound >= 0 && relative.upperBound <= range.count, "sub-slice outside slice")
        return ByteSlice(storage: storage, range: (range.lowerBound + relative.lowerBound)..<(range.lowerBound + relative.upperBound))
    }

    /// The same bytes, decoded into memory if the storage is lazy (see `ByteStorage.materialize`).
    public func materialized() throws(TensorIOError) -> ByteSlice {
        try storage.materialize(range)
    }

    /// A copy of the bytes (tests, small tensors).
    public func copyBytes() -> [UInt8] {
        withUnsafeBytes { Array($0) }
    }
}
