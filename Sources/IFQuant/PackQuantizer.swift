import Foundation
import IFCore

/// One `ifconvert quantize` run.
public struct QuantizeRequest: Sendable {
    public var inputPath: String
    public var outputPath: String?
    public var scheme: QuantScheme
    public var rules: [QuantRule]
    public var allowRequantize: Bool
    public var dryRun: Bool
    /// Dequantize every quantized tensor again and compare (the report's error columns).
    public var measureError: Bool
    public var overwrite: Bool
    public var threads: Int

    public init(inputPath: String, outputPath: String?, scheme: QuantScheme, rules: [QuantRule] = [],
                allowRequantize: Bool = false, dryRun: Bool = false, measureError: Bool = true, overwrite: Bool = false,
                threads: Int = TensorQuantizer.defaultThreadCount) {
        self.inputPath = inputPath
        self.outputPath = outputPath
        self.scheme = scheme
        self.rules = rules
        self.allowRequantize = allowRequantize
        self.dryRun = dryRun
        self.measureError = measureError
        self.overwrite = overwrite
        self.threads = threads
    }
}

public struct QuantizeOutcome: Sendable {
    public let decisions: [TensorDecision]
    public let report: QuantReport
    /// nil for a dry run.
    public let written: PackWriteReport?
}

/// Quantizes a float pack into a new pack: plans every tensor with `QuantPolicy`, streams it through
/// the pack writer (atomic, checksummed, bounded memory) and reports per-tensor errors.
public enum PackQuantizer {
    public static func run(_ request: QuantizeRequest, progress: ((PackProgress) -> Void)? = nil) throws(QuantError) -> QuantizeOutcome {
        let pack: Pack
        do { pack = try Pack(readingAt: request.inputPath) } catch { throw .io(path: request.inputPath, message: error.description) }

        let already = pack.records.filter(\.encoding.isQuantized)
        if let first = already.first, !request.allowRequantize {
            throw .alreadyQuantized(path: request.inputPath, message: "\(already.count) of \(pack.records.count) tensors are already quantized (e.g. '\(first.originalName)' is \(first.encoding.rawValue)); quantizing them again compounds the error. Quantize the float pack instead, or pass --allow-requantize (quantized tensors are then dequantized to F32 first)")
        }

        let source = RequantizingSource(pack: pack)
        let collector = request.measureError ? ErrorCollector() : nil
        let typePolicy = QuantTypePolicy(policy: QuantPolicy(scheme: request.scheme, rules: request.rules),
                                         threads: request.threads, collector: collector)
        var infos: [TensorInfo] = []
        var plans: [PackTensorPlan] = []
        do {
            for name in source.tensorNames {
                let info = try source.info(named: name)
                infos.append(info)
                plans.append(try typePolicy.plan(for: info, component: pack.component ?? "unknown"))
            }
        } catch { throw .io(path: request.inputPath, message: error.description) }
        let decisions = infos.map { typePolicy.decision(for: $0) }

        guard !request.dryRun else {
            let report = QuantReport(input: request.inputPath, output: request.outputPath, scheme: request.scheme,
                                     rules: request.rules, dryRun: true, decisions: decisions, errors: { _ in nil })
            return QuantizeOutcome(decisions: decisions, report: report, written: nil)
        }
        guard let outputPath = request.outputPath else {
            throw .io(path: request.inputPath, message: "no output path (-o) given")
        }
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: request.inputPath)[.size] as? Int) ?? 0
        let component = pack.component ?? "unknown"
        let plan = PackPlan(
            outputPath: outputPath, component: component, tensors: plans,
            attachments: PackAttachments(metadata: pack.ggufMetadata),
            sourceFiles: [PackSourceFile(path: request.inputPath, byteCount: fileSize, sha256: "")],
            sourceFileLocations: [request.inputPath], requestedType: request.scheme.rawValue,
            name: pack.ggufMetadata[PackKeys.name]?.stringValue ?? component)
        let written: PackWriteReport
        do {
            written = try PackWriter.write(plan, from: source, options: PackWriteOptions(overwrite: request.overwrite), progress: progress)
        } catch { throw .io(path: outputPath, message: error.description) }
        let report = QuantReport(input: request.inputPath, output: outputPath, scheme: request.scheme, rules: request.rules,
                                 dryRun: false, decisions: decisions, errors: { collector?.stats(for: $0) })
        return QuantizeOutcome(decisions: decisions, report: report, written: written)
    }
}

/// A pack as a source of float tensors: plain tensors as stored (zero-copy), already-quantized ones
/// dequantized to F32 (only reached with --allow-requantize).
final class RequantizingSource: TensorSource, Sendable {
    let pack: Pack
    init(pack: Pack) { self.pack = pack }

    var formatName: String { pack.formatName }
    var filePaths: [String] { pack.filePaths }
    var tensorNames: [String] { pack.tensorNames }
    var metadata: [String: String] { pack.metadata }

    func info(named name: String) throws(TensorIOError) -> TensorInfo {
        guard let record = pack.record(named: name) else { throw .missingTensor(path: pack.path, name: name) }
        guard record.encoding.isQuantized else { return try pack.info(named: name) }
        return TensorInfo(name: name, dtype: .f32, shape: record.shape, byteCount: record.elementCount * 4)
    }

    func tensor(named name: String) throws(TensorIOError) -> TensorView {
        let tensor = try pack.packTensor(named: name)
        guard tensor.encoding.isQuantized else { return try pack.tensor(named: name) }
        let (rows, rowLength) = tensor.rowView
        var values = [Float](repeating: 0, count: rows * rowLength)
        var failure: TensorIOError?
        tensor.data.withUnsafeBytes { bytes in
            values.withUnsafeMutableBufferPointer { out in
                do throws(TensorIOError) {
                    if let scales = tensor.scaleTensor {
                        try scales.data.copyBytes().withUnsafeBufferPointer { scaleBytes throws(TensorIOError) in
                            try Dequantizer.dequantizeInt8RowwiseRows(weights: bytes, scales: UnsafeRawBufferPointer(scaleBytes), rowLength: rowLength,
                                                                      rows: 0..<rows, into: out, tensorName: name)
                        }
                    } else {
                        try Dequantizer.dequantizeRows(of: bytes, type: tensor.type, rowLength: rowLength, rows: 0..<rows,
                                                       into: out, tensorName: name)
                    }
                } catch { failure = error }
            }
        }
        if let failure { throw failure }
        return TensorView(name: name, dtype: .f32, shape: tensor.shape,
                          data: ByteSlice(bytes: values.withUnsafeBytes { Array($0) }))
    }
}
