/// A named, typed, shaped view of contiguous little-endian row-major bytes. Zero-copy when the
/// bytes live in a file mapping.
public struct TensorView: Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public let data: ByteSlice

    /// Builds a view; the caller has already checked that `data.byteCount` matches shape x dtype.
    public init(name: String, dtype: DType, shape: [Int], data: ByteSlice) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.data = data
    }

    /// Product of the shape (1 for a scalar, 0 when any dimension is 0).
    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { data.byteCount }

    /// The elements widened to Float (F32, F16, BF16, F64 and integer types). For tests and small
    /// tensors; hot paths convert in blocks instead.
    public func floats() throws(TensorIOError) -> [Float] {
        try Float32Conversion.floats(of: self)
    }
}

/// Anything that hands out tensors by name: a safetensors file, a sharded checkpoint, a PyTorch
/// checkpoint, a pack.
public protocol TensorSource: Sendable {
    /// A short format name ("safetensors", "safetensors (sharded)", "pytorch-zip", "gguf", ...).
    var formatName: String { get }
    /// The files this source reads, in order.
    var filePaths: [String] { get }
    /// Tensor names in file order.
    var tensorNames: [String] { get }
    /// Dtype and shape without touching tensor bytes.
    func info(named name: String) throws(TensorIOError) -> TensorInfo
    func tensor(named name: String) throws(TensorIOError) -> TensorView
    /// Free-form string metadata (`__metadata__` in safetensors).
    var metadata: [String: String] { get }
}

/// Dtype, shape and byte count of a tensor, known from headers alone.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public let byteCount: Int

    public init(name: String, dtype: DType, shape: [Int], byteCount: Int) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteCount = byteCount
    }

    public var elementCount: Int { shape.reduce(1, *) }
}
