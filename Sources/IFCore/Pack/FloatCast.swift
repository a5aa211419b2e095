/// Storage types `--type` can ask for without quantization.
public enum FloatStorageType: String, Sendable, CaseIterable, Codable {
    case f32, f16, bf16

    public var dtype: DType {
        switch self {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        }
    }
}

/// Copies the source bytes unchanged (the default: every tensor keeps its dtype).
public struct RawCopyEncoder: PackTensorEncoder {
    public init() {}

    public func encode(_ view: TensorView, plan: PackTensorPlan, into sink: any PackByteSink) throws(TensorIOError) -> PackEncodingStats {
        try SourceWindows.forEach(view.data) { raw throws(TensorIOError) in try sink.write(raw) }
        return PackEncodingStats()
    }
}

/// Casts a floating-point tensor to F32, F16 or BF16, rounding to nearest even (F16C for fp16),
/// and counts values that overflowed to infinity or flushed to zero.
public struct FloatCastEncoder: PackTensorEncoder {
    public let target: FloatStorageType
    /// Elements per window (bounded memory).
    public let windowElementCount: Int

    public init(target: FloatStorageType, windowElementCount: Int = 1 << 22) {
        self.target = target
        self.windowElementCount = windowElementCount
    }

    public func encode(_ view: TensorView, plan: PackTensorPlan, into sink: any PackByteSink) throws(TensorIOError) -> PackEncodingStats {
        let source = view.dtype
        guard source == .f32 || source == .f16 || source == .bf16 || source == .f64 else {
            throw .unsupported(path: view.data.storage.storageDescription, message: "tensor '\(view.name)': cannot cast \(source.rawValue) to \(target.rawValue)")
        }
        var stats = PackEncodingStats()
        var wide = [Float](repeating: 0, count: windowElementCount)
        var narrow = [UInt16](repeating: 0, count: target == .f32 ? 0 : windowElementCount)
        try SourceWindows.forEach(view.data, windowByteCount: windowElementCount * source.byteSize, granularity: source.byteSize) { raw throws(TensorIOError) in
            let count = raw.count / source.byteSize
            // Widen to Float (f64 counts its own overflow/underflow on the way).
            if source == .f64 {
                for i in 0..<count {
                    let value = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))
                    let single = Float(value)
                    if value.isFinite && single.isInfinite { stats.overflowedToInfinity += 1 }
                    if value != 0 && single == 0 { stats.flushedToZero += 1 }
                    wide[i] = single
                }
            } else {
                try wide.withUnsafeMutableBufferPointer { out throws(TensorIOError) in
                    try Float32Conversion.widen(raw, dtype: source, into: UnsafeMutableBufferPointer(rebasing: out[0..<count]))
                }
            }
            switch target {
            case .f32:
                try sink.write(prefixOf: wide, count: count)
            case .f16, .bf16:
                wide.withUnsafeBufferPointer { input in
                    narrow.withUnsafeMutableBufferPointer { output in
                        let inSlice = UnsafeBufferPointer(rebasing: input[0..<count])
                        let outSlice = UnsafeMutableBufferPointer(rebasing: output[0..<count])
                        if target == .f16 {
                            Float32Conversion.narrowToHalf(inSlice, into: outSlice)
                        } else {
                            Float32Conversion.narrowToBFloat16(inSlice, into: outSlice)
                        }
                        let infinityBits: UInt16 = target == .f16 ? 0x7C00 : 0x7F80
                        var overflowed = 0, flushed = 0
                        for i in 0..<count {
                            let magnitude = outSlice[i] & 0x7FFF
                            if magnitude == infinityBits && inSlice[i].isFinite { overflowed += 1 }
                            if magnitude == 0 && inSlice[i] != 0 { flushed += 1 }
                        }
                        stats.overflowedToInfinity += overflowed
                        stats.flushedToZero += flushed
                    }
                }
                try sink.write(prefixOf: narrow, count: count)
            }
        }
        return stats
    }
}

/// The non-quantizing policy: keep every tensor's dtype, or cast floating-point tensors to one
/// type. The T5 feed-forward output projections (`...DenseReluDense.wo.weight`) stay F32 unless
/// `castT5FeedForwardOutput`: the published fp16 text encoder keeps them in fp32 because fp16
/// overflows there (transformers `_keep_in_fp32_modules = ["wo"]`).
public struct FloatCastPolicy: PackTypePolicy {
    /// nil: keep each source dtype.
    public let target: FloatStorageType?
    public let castT5FeedForwardOutput: Bool

    public init(target: FloatStorageType?, castT5FeedForwardOutput: Bool = false) {
        self.target = target
        self.castT5FeedForwardOutput = castT5FeedForwardOutput
    }

    public var requestedType: String { target?.rawValue ?? "source" }

    /// Whether `name` is a T5 feed-forward output projection.
    public static func isT5FeedForwardOutput(_ name: String) -> Bool {
        name.hasSuffix(".DenseReluDense.wo.weight")
    }

    public func plan(for info: TensorInfo, component: String) throws(TensorIOError) -> PackTensorPlan {
        guard let target else {
            return .plain(source: info, storing: info.dtype, rule: "keep source dtype \(info.dtype.rawValue)", encoder: RawCopyEncoder())
        }
        let castable: Set<DType> = [.f64, .f32, .f16, .bf16]
        guard castable.contains(info.dtype) else {
            let why = info.dtype.isFloatingPoint ? "\(info.dtype.rawValue) is not cast (8-bit float kept as is)" : "non-float tensor keeps \(info.dtype.rawValue)"
            return .plain(source: info, storing: info.dtype, rule: why, encoder: RawCopyEncoder())
        }
        if Self.isT5FeedForwardOutput(info.name), !castT5FeedForwardOutput, target != .f32 {
            let keep: DType = info.dtype == .f64 ? .f32 : info.dtype
            let encoder: any PackTensorEncoder = keep == info.dtype ? RawCopyEncoder() : FloatCastEncoder(target: .f32)
            return .plain(source: info, storing: keep, rule: "T5 FFN wo kept \(keep.rawValue) (fp16 overflows there; --cast-t5-wo casts it)",
                          encoder: encoder, notes: ["kept \(keep.rawValue) instead of \(target.rawValue): T5 feed-forward output projection"])
        }
        if info.dtype == target.dtype {
            return .plain(source: info, storing: info.dtype, rule: "--type \(target.rawValue): already \(info.dtype.rawValue), copied", encoder: RawCopyEncoder())
        }
        return .plain(source: info, storing: target.dtype, rule: "--type \(target.rawValue): cast \(info.dtype.rawValue) -> \(target.dtype.rawValue) (round to nearest even)",
                      encoder: FloatCastEncoder(target: target))
    }
}
