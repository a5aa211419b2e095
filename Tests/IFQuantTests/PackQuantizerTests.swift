import Foundation
import Testing
import IFCore
import SafetensorsReader
@testable import IFQuant

/// End to end on the tiny IF fixtures: safetensors -> float pack (PackWriter) -> quantized pack
/// (PackQuantizer) -> read back and dequantized.
@Suite("Pack quantization on fixtures/IF-I-tiny")
struct PackQuantizerTests {
    static let repo = repositoryRoot()
    static let unetPath = repo.appendingPathComponent("fixtures/IF-I-tiny/unet/diffusion_pytorch_model.fp16.safetensors").path
    static let t5Path = repo.appendingPathComponent("fixtures/IF-I-tiny/text_encoder/model.fp16-00001-of-00002.safetensors").path

    /// Writes a float pack (dtypes kept) of `path` into a fresh temp folder.
    static func floatPack(from path: String, component: String) throws -> (dir: URL, pack: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ifquant-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let source = try SafetensorsFile(readingAt: path)
        let policy = FloatCastPolicy(target: nil)
        let plans = try source.tensorNames.map { try policy.plan(for: try source.info(named: $0), component: component) }
        let out = dir.appendingPathComponent("float.gguf").path
        let plan = PackPlan(outputPath: out, component: component, tensors: plans, attachments: PackAttachments(component: component),
                            sourceFiles: [PackSourceFile(path: path, byteCount: 0, sha256: "")], sourceFileLocations: [path],
                            requestedType: "source", name: component)
        _ = try PackWriter.write(plan, from: source, options: PackWriteOptions(hashSources: false))
        return (dir, out)
    }

    /// One float UNet pack shared by the parameterized cases (pack writes fsync: keep them few).
    static let sharedUNetPack = Result { try floatPack(from: unetPath, component: "unet") }

    @Test(arguments: QuantScheme.allCases)
    func quantizedPackReadsBackNearTheOriginal(scheme: QuantScheme) throws {
        let (dir, floatPath) = try Self.sharedUNetPack.get()
        let outPath = dir.appendingPathComponent("\(scheme).gguf").path
        defer { try? FileManager.default.removeItem(atPath: outPath) }
        let outcome = try PackQuantizer.run(QuantizeRequest(inputPath: floatPath, outputPath: outPath, scheme: scheme))
        #expect(outcome.written != nil)
        let source = try SafetensorsFile(readingAt: Self.unetPath)
        let pack = try Pack(readingAt: outPath)
        #expect(pack.records.count == source.tensorNames.count)
        var quantizedCount = 0
        for decision in outcome.decisions {
            let record = try #require(pack.record(named: decision.name))
            #expect(record.rule == decision.provenance)
            let original = try source.tensor(named: decision.name).floats()
            let tensor = try pack.packTensor(named: decision.name)
            let (rows, rowLength) = tensor.rowView
            var values = [Float](repeating: 0, count: rows * rowLength)
            if record.encoding == .int8Rowwise {
                let scales = try #require(tensor.scaleTensor).data.copyBytes()
                try tensor.data.copyBytes().withUnsafeBytes { w in
                    try scales.withUnsafeBytes { s in
                        try values.withUnsafeMutableBufferPointer { try Dequantizer.dequantizeInt8RowwiseRows(weights: w, scales: s, rowLength: rowLength, rows: 0..<rows, into: $0) }
                    }
                }
            } else {
                try tensor.data.copyBytes().withUnsafeBytes { raw in
                    try values.withUnsafeMutableBufferPointer { try Dequantizer.dequantizeRows(of: raw, type: tensor.type, rowLength: rowLength, rows: 0..<rows, into: $0) }
                }
            }
            if decision.isQuantized {
                quantizedCount += 1
                let stats = try #require(outcome.report.tensors.first { $0.name == decision.name }?.relativeRMSError)
                // The report's error is the error of what the pack holds.
                var measured = ErrorStats()
                original.withUnsafeBufferPointer { o in values.withUnsafeBufferPointer { measured.add(original: o.baseAddress!, reconstructed: $0.baseAddress!, count: o.count) } }
                #expect(abs(measured.relativeRMSError - stats) <= 1e-12 * max(1, stats))
                #expect(stats < (scheme == .q8_0 || scheme == .int8 ? Tolerance.int8RelativeRMS : Tolerance.q4_0RelativeRMS))
            } else {
                #expect(values.map(\.bitPattern) == original.map(\.bitPattern), "\(decision.name) kept but changed")
            }
        }
        #expect(quantizedCount > 0)
        #expect(outcome.report.summary.bytesAfter < outcome.report.summary.bytesBefore)
        // conv_in / conv_out / norms stay float on the real fixture names.
        #expect(pack.record(named: "conv_in.weight")?.encoding == .plain)
        #expect(pack.record(named: "conv_out.weight")?.encoding == .plain)
        #expect(pack.record(named: "down_blocks.1.attentions.0.to_out.0.weight")?.encoding.isQuantized == true)

        // Quantizing the quantized pack again is refused unless asked for (checked once, on int8).
        guard scheme == .int8 else { return }
        defer { try? FileManager.default.removeItem(at: dir.appendingPathComponent("again.gguf")) }
        #expect(throws: QuantError.self) {
            _ = try PackQuantizer.run(QuantizeRequest(inputPath: outPath, outputPath: dir.appendingPathComponent("again.gguf").path, scheme: .q8_0))
        }
        let again = try PackQuantizer.run(QuantizeRequest(inputPath: outPath, outputPath: dir.appendingPathComponent("again.gguf").path,
                                                          scheme: .q8_0, allowRequantize: true))
        #expect(again.report.summary.quantizedTensorCount == outcome.report.summary.quantizedTensorCount)
    }

    @Test func t5DefaultsKeepWoEmbeddingAndRelativeBias() throws {
        let (dir, floatPath) = try Self.floatPack(from: Self.t5Path, component: "text_encoder")
        defer { try? FileManager.default.removeItem(at: dir) }
        let outcome = try PackQuantizer.run(QuantizeRequest(inputPath: floatPath, outputPath: nil, scheme: .q8_0, dryRun: true))
        let byName = Dictionary(uniqueKeysWithValues: outcome.decisions.map { ($0.name, $0) })
        #expect(byName["shared.weight"]?.target == .keep)
        #expect(byName["encoder.block.0.layer.1.DenseReluDense.wo.weight"]?.storageType == .f32)
        #expect(byName["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]?.target == .keep)
        #expect(byName["encoder.block.0.layer.0.SelfAttention.q.weight"]?.target == .quantized(.q8_0))
        #expect(byName["encoder.block.0.layer.0.layer_norm.weight"]?.target == .keep)
        #expect(outcome.written == nil)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("none.gguf").path))
    }

    @Test func userRuleIsRecordedInThePack() throws {
        let (dir, floatPath) = try Self.floatPack(from: Self.unetPath, component: "unet")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("r.gguf").path
        let rules = try ["^conv_in\\.weight$=int8", "attentions=f32"].map(QuantRule.init(parsing:))
        _ = try PackQuantizer.run(QuantizeRequest(inputPath: floatPath, outputPath: out, scheme: .q8_0, rules: rules))
        let pack = try Pack(readingAt: out)
        #expect(pack.record(named: "conv_in.weight")?.encoding == .int8Rowwise)
        #expect(pack.record(named: "conv_in.weight")?.rule == "--rule '^conv_in\\.weight$=int8'")
        let attention = try #require(pack.record(named: "down_blocks.1.attentions.0.to_out.0.weight"))
        #expect(attention.encoding == .plain && attention.dtype == .f32)
    }
}
