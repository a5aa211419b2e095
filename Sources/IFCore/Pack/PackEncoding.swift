/// What an encoder reports about one tensor (the convert report prints it).
public struct PackEncodingStats: Sendable, Equatable, Codable {
    /// Finite source values that became ±inf in the output type.
    public var overflowedToInfinity: Int = 0
    /// Non-zero source values that became ±0 in the output type.
    public var flushedToZero: Int = 0
    /// Free-form numbers an encoder wants reported (a quantizer's error metrics, ...).
    public var extra: [String: Double] = [:]

    public init(overflowedToInfinity: Int = 0, flushedToZero: Int = 0, extra: [String: Double] = [:]) {
        self.overflowedToInfinity = overflowedToInfinity
        self.flushedToZero = flushedToZero
        self.extra = extra
    }
}

/// Where an encoder streams its output bytes: the data tensor first, then the companion tensors,
/// in the order of `PackTensorPlan.outputs`. The writer checks the byte counts.
public protocol PackByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws(TensorIOError)
}

extension PackByteSink {
    public func write(bytes: [UInt8]) throws(TensorIOError) {
        var failure: TensorIOError?
        bytes.withUnsafeBytes { raw in
            do throws(TensorIOError) { try write(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Writes the bytes of the first `count` elements of `array`.
    public func write<T>(prefixOf array: [T], count: Int) throws(TensorIOError) {
        var failure: TensorIOError?
        array.withUnsafeBytes { raw in
            do throws(TensorIOError) { try write(UnsafeRawBufferPointer(rebasing: raw[0..<(count * MemoryLayout<T>.stride)])) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}

/// Produces a tensor's stored bytes. The conversion hook: the float casts live here; the quantize
/// module adds encoders for q8_0 / int8_rowwise / q4_0 / q4_k with the same shape.
public protocol PackTensorEncoder: Sendable {
    /// Streams the bytes of `plan.outputs` (in order) for the source tensor `view`. Must be
    /// deterministic: the same input gives the same bytes whatever the thread count.
    func encode(_ view: TensorView, plan: PackTensorPlan, into sink: any PackByteSink) throws(TensorIOError) -> PackEncodingStats
}

/// The plan for one source tensor: its record, the GGUF tensors that will hold it and the encoder
/// that fills them.
public struct PackTensorPlan: Sendable {
    public var record: PackRecord
    /// Data tensor first, then companions (the scale tensor of int8_rowwise).
    public var outputs: [GGUFTensorDeclaration]
    public var encoder: any PackTensorEncoder
    /// Why a default was not applied, etc. ("T5 FFN wo kept F32 ...").
    public var notes: [String]

    public init(record: PackRecord, outputs: [GGUFTensorDeclaration], encoder: any PackTensorEncoder, notes: [String] = []) {
        self.record = record
        self.outputs = outputs
        self.encoder = encoder
        self.notes = notes
    }

    /// Bytes of all outputs (no padding).
    public var outputByteCount: Int {
        outputs.reduce(0) { total, output in
            total + (output.type.byteCount(elementCount: output.shape.reduce(1, *)) ?? 0)
        }
    }

    /// A plain plan: one GGUF tensor holding `dtype` elements of the logical shape.
    public static func plain(
        source info: TensorInfo, storing dtype: DType, rule: String, encoder: any PackTensorEncoder, notes: [String] = []
    ) -> PackTensorPlan {
        let record = PackRecord(originalName: info.name, shape: info.shape, dtype: dtype, sourceDType: info.dtype,
                                encoding: .plain, rule: rule)
        let output = GGUFTensorDeclaration(name: record.ggufName, type: PackStorage.ggmlType(holding: dtype),
                                           shape: PackStorage.storageShape(for: info.shape, encoding: .plain))
        return PackTensorPlan(record: record, outputs: [output], encoder: encoder, notes: notes)
    }

    /// A quantized plan: the 2-D [rows, cols] view of `info` (`PackStorage.rowView`; a 1-D tensor
    /// is one row) stored as `encoding` (q8_0, q4_0, q4_k: one tensor; int8_rowwise: the I8
    /// weight, then its F32 scales, one per row). The encoder must stream the data tensor's bytes
    /// first, then the scales. Throws when the row length is not a whole number of blocks.
    /// The only place quantized records and outputs are built, so writers cannot diverge.
    public static func quantized(
        source info: TensorInfo, encoding: PackEncoding, rule: String, encoder: any PackTensorEncoder, notes: [String] = []
    ) throws(TensorIOError) -> PackTensorPlan {
        precondition(encoding.isQuantized, "use plain(source:storing:...) for plain tensors")
        let storage = PackStorage.storageShape(for: info.shape, encoding: encoding)
        let type: GGMLType = switch encoding {
        case .q8_0: .q8_0
        case .q4_0: .q4_0
        case .q4_k: .q4_k
        default: .i8
        }
        guard storage[1] % type.blockSize == 0 else {
            throw .unsupported(path: info.name, message: "tensor '\(info.name)' (\(PackStorage.rowViewDescription(of: info.shape))): rows of \(storage[1]) elements are not a whole number of \(type.name) blocks of \(type.blockSize)")
        }
        var record = PackRecord(originalName: info.name, shape: info.shape, dtype: .f32, sourceDType: info.dtype, encoding: encoding, rule: rule)
        var outputs = [GGUFTensorDeclaration(name: record.ggufName, type: type, shape: storage)]
        if encoding == .int8Rowwise {
            let scaleName = PackNaming.scaleGGUFName(for: info.name)
            record.scaleGGUFName = scaleName
            outputs.append(GGUFTensorDeclaration(name: scaleName, type: .f32, shape: [storage[0]]))
        }
        return PackTensorPlan(record: record, outputs: outputs, encoder: encoder, notes: notes)
    }
}

/// Chooses, for every source tensor, how it is stored. `--type` maps to a policy; the quantize
/// module supplies its own.
public protocol PackTypePolicy: Sendable {
    /// The `if.provenance.requested_type` value ("source", "f16", "q8_0", ...).
    var requestedType: String { get }
    func plan(for info: TensorInfo, component: String) throws(TensorIOError) -> PackTensorPlan
}

#if canImport(Glibc)
import Glibc
#endif

/// Walks a tensor's bytes in bounded windows so that peak memory stays small whatever the tensor
/// size, and tells the kernel to drop mapped pages once a window is done.
public enum SourceWindows {
    /// Default window: large enough for sequential I/O, small against the 512 MB RSS budget.
    public static let defaultByteCount = 16 << 20

    /// Calls `body` on consecutive windows of `data`, each a multiple of `granularity` bytes
    /// (element or row size) except possibly the last. The first window is requested up front.
    public static func forEach(
        _ data: ByteSlice, windowByteCount: Int = defaultByteCount, granularity: Int = 1,
        _ body: (UnsafeRawBufferPointer) throws(TensorIOError) -> Void
    ) throws(TensorIOError) {
        let step = max(granularity, windowByteCount / max(granularity, 1) * max(granularity, 1))
        let mapped = data.storage as? MappedFile
        mapped?.adviseSequential(in: data.range.lowerBound..<(data.range.lowerBound + min(step, data.byteCount)))
        var start = 0
        while start < data.byteCount {
            let end = min(data.byteCount, start + step)
            // Ask for the next window now so the kernel reads it while this one is processed
            // (page faults on a mapping otherwise read ahead only a little, synchronously).
            let next = min(data.byteCount, end + step)
            if next > end { mapped?.adviseSequential(in: (data.range.lowerBound + end)..<(data.range.lowerBound + next)) }
            var failure: TensorIOError?
            let hasher = StreamingSourceHasher.current
            data.slice(start..<end).withUnsafeBytes { raw in
                if let mapped {
                    mapped.populate(in: (data.range.lowerBound + start)..<(data.range.lowerBound + end))
                    hasher?.beginWindow(raw, mapping: mapped, range: (data.range.lowerBound + start)..<(data.range.lowerBound + end))
                }
                do throws(TensorIOError) { try body(raw) } catch { failure = error }
                hasher?.waitForWindow()
            }
            if let failure { throw failure }
            mapped?.releasePages(in: (data.range.lowerBound + start)..<(data.range.lowerBound + end))
            start = end
        }
    }
}
