import Foundation
import IFCore

/// Collects per-tensor error statistics from encoders that run inside the pack writer.
public final class ErrorCollector: @unchecked Sendable {
    // SAFETY: every access goes through `lock`.
    private let lock = NSLock()
    private var stats: [String: ErrorStats] = [:]

    public init() {}

    func record(_ name: String, _ value: ErrorStats) {
        lock.lock(); defer { lock.unlock() }
        stats[name] = value
    }

    public func stats(for name: String) -> ErrorStats? {
        lock.lock(); defer { lock.unlock() }
        return stats[name]
    }
}

/// The pack writer's encoder for quantized tensors: reads the source in windows of whole rows
/// (about 16 MiB), quantizes each window on all cores, streams the blocks to the pack and drops the
/// window's mapped pages, so memory stays bounded whatever the tensor size. int8's per-row scales
/// follow the weight as its companion F32 tensor.
public struct QuantizingEncoder: PackTensorEncoder {
    public let scheme: QuantScheme
    public let threads: Int
    public let collector: ErrorCollector?
    public let windowByteCount: Int

    public init(scheme: QuantScheme, threads: Int = TensorQuantizer.defaultThreadCount, collector: ErrorCollector? = nil,
                windowByteCount: Int = SourceWindows.defaultByteCount) {
        self.scheme = scheme
        self.threads = threads
        self.collector = collector
        self.windowByteCount = windowByteCount
    }

    public func encode(_ view: TensorView, plan: PackTensorPlan, into sink: any PackByteSink) throws(TensorIOError) -> PackEncodingStats {
        let rowLength = PackStorage.rowView(of: view.shape).rowLength
        let rowBytes = rowLength * view.dtype.byteSize
        var stats = ErrorStats()
        var scales: [Float] = []
        var row = 0
        // The shared window loop: read-ahead, page population, release, and the streaming
        // source hasher see every window (a loop of its own left quantized bytes to be hashed
        // again from the mapping, on the writing thread).
        try SourceWindows.forEach(view.data, windowByteCount: windowByteCount, granularity: max(1, rowBytes)) { raw throws(TensorIOError) in
            let count = raw.count / max(1, rowBytes)
            let quantized: QuantizedTensor
            do throws(QuantError) {
                quantized = try TensorQuantizer.quantize(
                    name: view.name, bytes: raw, dtype: view.dtype, shape: [count, rowLength], as: scheme,
                    implementation: .fast(threads: threads), measureError: collector != nil, firstRowIndex: row)
            } catch {
                throw .unsupported(path: view.data.storage.storageDescription, message: error.description)
            }
            try sink.write(bytes: quantized.data)
            if let rowScales = quantized.rowScales { scales += rowScales }
            if let error = quantized.error { stats.merge(error) }
            row += count
        }
        if scheme == .int8 {
            try sink.write(bytes: scales.flatMap { value -> [UInt8] in
                let bits = value.bitPattern.littleEndian
                return [UInt8(bits & 0xff), UInt8((bits >> 8) & 0xff), UInt8((bits >> 16) & 0xff), UInt8(bits >> 24)]
            })
        }
        var extra: [String: Double] = [:]
        if let collector {
            collector.record(view.name, stats)
            extra["relative_rms_error"] = stats.relativeRMSError
            extra["max_abs_error"] = stats.maxAbsError
            if let snr = stats.snrDB { extra["snr_db"] = snr }
        }
        return PackEncodingStats(extra: extra)
    }
}

/// `--type q8_0|int8|q4_0|q4_k` for the pack writer: each tensor's plan follows `QuantPolicy`;
/// kept tensors are copied (or cast for `--rule ...=f16/f32`), quantized ones go through
/// `QuantizingEncoder`. The rule that decided is recorded in the pack.
public struct QuantTypePolicy: PackTypePolicy {
    public let policy: QuantPolicy
    public let threads: Int
    public let collector: ErrorCollector?

    public init(policy: QuantPolicy, threads: Int = TensorQuantizer.defaultThreadCount, collector: ErrorCollector? = nil) {
        self.policy = policy
        self.threads = threads
        self.collector = collector
    }

    public var requestedType: String { policy.scheme.rawValue }

    public func decision(for info: TensorInfo) -> TensorDecision {
        policy.decide(name: info.name, shape: info.shape, sourceType: PackStorage.ggmlType(holding: info.dtype))
    }

    public func plan(for info: TensorInfo, component: String) throws(TensorIOError) -> PackTensorPlan {
        let decision = decision(for: info)
        let notes = decision.fallback.map { ["fallback: \($0)"] } ?? []
        switch decision.target {
        case .keep:
            return .plain(source: info, storing: info.dtype, rule: decision.provenance, encoder: RawCopyEncoder(), notes: notes)
        case .f16, .f32:
            let target: FloatStorageType = decision.target == .f16 ? .f16 : .f32
            let encoder: any PackTensorEncoder = info.dtype == target.dtype ? RawCopyEncoder() : FloatCastEncoder(target: target)
            return .plain(source: info, storing: target.dtype, rule: decision.provenance, encoder: encoder, notes: notes)
        case .quantized(let scheme):
            let encoding: PackEncoding = switch scheme {
            case .q8_0: .q8_0
            case .q4_0: .q4_0
            case .q4_k: .q4_k
            case .int8: .int8Rowwise
            }
            // IFCore's builder: the storage shape, the scale count and the encoder's rows then all
            // come from `PackStorage.rowView` and cannot disagree.
            return try .quantized(source: info, encoding: encoding, rule: decision.provenance,
                                  encoder: QuantizingEncoder(scheme: scheme, threads: threads, collector: collector), notes: notes)
        }
    }
}
