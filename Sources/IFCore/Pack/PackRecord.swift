/// How a logical tensor's bytes are stored.
public enum PackEncoding: String, Sendable, CaseIterable, Codable {
    /// Elements of `record.dtype`, little-endian, row-major: the source bytes or a cast of them.
    case plain
    /// GGUF I8 weight viewed as [rows, cols] plus a companion F32 tensor of per-row scales [rows];
    /// value = q * scale[row].
    case int8Rowwise = "int8_rowwise"
    /// ggml block layouts, bit for bit, along the last dimension of the [rows, cols] view.
    case q8_0
    case q4_0
    case q4_k

    public var isQuantized: Bool { self != .plain }
}

/// Everything a pack says about one logical tensor (one entry of the `if.tensor.*` arrays).
public struct PackRecord: Sendable, Equatable {
    /// The checkpoint's name (diffusers/transformers), verbatim.
    public var originalName: String
    /// The GGUF tensor holding the data (`PackNaming.ggufName(for: originalName)`).
    public var ggufName: String
    /// Logical shape in PyTorch order. For quantized encodings the GGUF tensor is the 2-D row view
    /// (`PackStorage.rowView`).
    public var shape: [Int]
    /// For `.plain`: the element type of the stored bytes (which may be narrower in GGML terms:
    /// BOOL/U8/F8 are stored in GGUF I8 tensors, U16/U32/U64 in I16/I32/I64). For quantized
    /// encodings the type dequantization yields (F32).
    public var dtype: DType
    /// The dtype in the source checkpoint.
    public var sourceDType: DType
    public var encoding: PackEncoding
    /// Which rule of the conversion policy chose this storage (human-readable).
    public var rule: String
    /// GGUF name of the companion scale tensor (`int8_rowwise`), else nil.
    public var scaleGGUFName: String?

    public init(
        originalName: String, ggufName: String? = nil, shape: [Int], dtype: DType, sourceDType: DType,
        encoding: PackEncoding, rule: String, scaleGGUFName: String? = nil
    ) {
        self.originalName = originalName
        self.ggufName = ggufName ?? PackNaming.ggufName(for: originalName)
        self.shape = shape
        self.dtype = dtype
        self.sourceDType = sourceDType
        self.encoding = encoding
        self.rule = rule
        self.scaleGGUFName = scaleGGUFName
    }

    public var elementCount: Int { shape.reduce(1, *) }

    /// The [rows, rowLength] view quantized storage uses for this shape (`PackStorage.rowView`).
    public var rowView: (rows: Int, rowLength: Int) { PackStorage.rowView(of: shape) }
}

/// Storage mapping between DType and GGMLType for plain tensors.
public enum PackStorage {
    /// The GGUF type that holds `dtype` bytes unchanged (same element width).
    public static func ggmlType(holding dtype: DType) -> GGMLType {
        switch dtype {
        case .f64: .f64
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        case .i64, .u64: .i64
        case .i32, .u32: .i32
        case .i16, .u16: .i16
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2, .f8e8m0: .i8
        }
    }

    /// The dtype a GGUF type presents when the pack has no record for it (foreign GGUF files).
    public static func dtype(of type: GGMLType) -> DType? {
        switch type {
        case .f64: .f64
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        case .i64: .i64
        case .i32: .i32
        case .i16: .i16
        case .i8: .i8
        case .q4_0, .q8_0, .q4_k: nil
        }
    }

    /// The one row view of a logical shape that quantization, quantized storage and every reader
    /// share: the first dimension by the product of the rest ([out, in, kh, kw] -> out rows of
    /// in*kh*kw), a 1-D tensor of n as ONE row of n, a scalar as one row of one. A 1-D tensor is
    /// one row (not n rows of one) so that q8_0/q4 blocks run along it (ggml needs ne[0] to be a
    /// whole number of blocks) and int8_rowwise gives it one scale, as for any other row.
    public static func rowView(of shape: [Int]) -> (rows: Int, rowLength: Int) {
        if shape.isEmpty { return (1, 1) }
        if shape.count == 1 { return (1, shape[0]) }
        return (shape[0], shape.dropFirst().reduce(1, *))
    }

    /// How messages name the row view: "shape [192, 192, 3, 3] as [out, in*...]", "shape [7]: one row".
    public static func rowViewDescription(of shape: [Int]) -> String {
        shape.count < 2 ? "shape \(shape): one row" : "shape \(shape) as [out, in*...]"
    }

    /// GGUF storage shape (PyTorch order) for a record: the logical shape for plain tensors (a
    /// scalar as [1]; more than 4 dimensions merged into the leading one), the 2-D `rowView`
    /// [rows, rowLength] for quantized ones ([n] -> [1, n], [] -> [1, 1]).
    public static func storageShape(for shape: [Int], encoding: PackEncoding) -> [Int] {
        if encoding.isQuantized {
            let (rows, rowLength) = rowView(of: shape)
            return [rows, rowLength]
        }
        if shape.isEmpty { return [1] }
        if shape.count > GGUFLimits.maxDimensions {
            let merged = shape.count - GGUFLimits.maxDimensions + 1
            return [shape[0..<merged].reduce(1, *)] + shape[merged...]
        }
        return shape
    }

    /// "[320,4,3,3]"; "[]" for a scalar.
    public static func shapeString(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ",") + "]"
    }

    public static func parseShape(_ text: String) -> [Int]? {
        guard text.hasPrefix("["), text.hasSuffix("]") else { return nil }
        let inner = text.dropFirst().dropLast()
        if inner.isEmpty { return [] }
        var shape: [Int] = []
        for part in inner.split(separator: ",", omittingEmptySubsequences: false) {
            guard let value = Int(part), value >= 0 else { return nil }
            shape.append(value)
        }
        return shape
    }
}
