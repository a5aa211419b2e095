import ArgumentParser
import Foundation
import IFCore
import IFQuant

/// Storage types `convert --type` accepts: float casts and the quantization schemes.
enum ConvertType: String, ExpressibleByArgument, CaseIterable {
    case f32, f16, bf16, q8_0, int8, q4_0, q4_k

    var policyTarget: FloatStorageType? {
        switch self {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        case .q8_0, .int8, .q4_0, .q4_k: nil
        }
    }

    var scheme: QuantScheme? { QuantScheme(rawValue: rawValue) }
}

/// `ifconvert convert SRC -o OUT`: checkpoint -> GGUF pack(s), streaming and atomic.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a checkpoint (snapshot folder, component folder, .safetensors, shard index or PyTorch file) to GGUF packs.",
        discussion: """
            A snapshot folder becomes OUT/<component>.gguf for every component with weights; anything else \
            becomes the single pack OUT. Without --type every tensor keeps its dtype (lossless, byte-identical); \
            --type casts floating-point tensors with round-to-nearest-even and reports per tensor how many values \
            overflowed to inf or flushed to zero. The T5 feed-forward `wo` weights stay F32 unless --cast-t5-wo. \
            Output goes to a temp file in the destination folder and is renamed only once complete and its header re-read and checked (--verify also re-reads every tensor's CRC32C). \
            Pack format: docs/FORMAT.md.
            """)

    @Argument(help: "The checkpoint to convert.")
    var source: String

    @Option(name: .shortAndLong, help: "Output pack (or folder, for a snapshot).")
    var output: String

    @Option(help: "Cast floating-point tensors to this type, or quantize with this scheme (default: keep each source dtype).")
    var type: ConvertType?

    @Option(help: ArgumentHelp("With a quantizing --type: override REGEX=TYPE (repeatable, first match wins; see `quantize --help`).", valueName: "REGEX=TYPE"))
    var rule: [String] = []

    @Option(help: "Weights variant to pick, as diffusers' variant= (e.g. fp16).")
    var variant: String?

    @Option(help: "Convert only this component of a snapshot (e.g. unet, text_encoder).")
    var component: String?

    @Flag(help: "Read the UNet from the original IF root files (config.yml + pytorch_model.bin) instead of unet/; says which was used.")
    var original = false

    @Flag(help: "Also cast the T5 feed-forward output weights (kept F32 by default: fp16 overflows there).")
    var castT5Wo = false

    @Flag(help: "Print the plan (types, sizes, disk and memory needed) and write nothing.")
    var dryRun = false

    @Flag(help: "Overwrite existing packs.")
    var force = false

    @Flag(help: "Re-read every written tensor and compare its CRC32C before the rename (the header and records are always re-checked).")
    var verify = false

    @Flag(help: "Do not hash source files whose SHA-256 the hub did not record (Hugging Face cache blob names and `--local-dir` download records are always taken; others then get \"\" with origin \"none\").")
    var noSourceHash = false

    @Flag(help: "Print JSON on stdout.")
    var json = false

    func validate() throws {
        guard rule.isEmpty || type?.scheme != nil else { throw ValidationError("--rule needs a quantizing --type (q8_0, int8, q4_0, q4_k)") }
        _ = try QuantRule.fromOptions(rule)
    }

    func request() throws -> ConvertRequest {
        let policy: any PackTypePolicy
        if let scheme = type?.scheme {
            policy = QuantTypePolicy(policy: QuantPolicy(scheme: scheme, rules: try QuantRule.fromOptions(rule)))
        } else {
            policy = FloatCastPolicy(target: type?.policyTarget, castT5FeedForwardOutput: castT5Wo)
        }
        return ConvertRequest(sourcePath: source, outputPath: output, policy: policy,
                              variant: variant, component: component, overwrite: force, verifyAfterWrite: verify,
                              hashSources: !noSourceHash, original: original)
    }

    func run() throws {
        let request = try request()
        let plan = try Converter.plan(request)
        if dryRun {
            print(json ? try JSONOutput.encode(ConvertPlanSummary(plan)) : ConvertPlanSummary(plan).text(), terminator: json ? "\n" : "")
            return
        }
        TemporaryFiles.removeOnInterrupt()
        var bars: [Int: ProgressBar] = [:]
        let report = try Converter.run(plan, request: request) { index, progress in
            let bar = bars[index] ?? ProgressBar(label: plan.packs[index].component, quiet: json)
            bars[index] = bar
            bar.update(done: progress.bytesDone, total: progress.bytesTotal)
            if progress.bytesDone >= progress.bytesTotal { bar.finish() }
        }
        print(json ? try JSONOutput.encode(report) : ConvertReportText.text(report, outputIsFolder: plan.outputIsFolder, output: output), terminator: json ? "\n" : "")
    }
}

/// The `--dry-run` view of a plan.
struct ConvertPlanSummary: Encodable {
    struct Tensor: Encodable {
        var name: String, sourceDType: String, storedType: String, byteCount: Int, rule: String
    }
    struct PackEntry: Encodable {
        var path: String, component: String, fileByteCount: Int, tensors: [Tensor], notes: [String]
    }
    var packs: [PackEntry]
    var totalOutputByteCount: Int
    var freeDiskByteCount: Int?
    var estimatedPeakMemoryByteCount: Int
    var notes: [String]

    init(_ plan: ConversionPlan) {
        packs = zip(plan.packs, plan.fileByteCounts).map { pack, size in
            PackEntry(path: pack.outputPath, component: pack.component, fileByteCount: size,
                      tensors: pack.tensors.map { Tensor(name: $0.record.originalName, sourceDType: $0.record.sourceDType.rawValue,
                                                          storedType: $0.outputs[0].type.name, byteCount: $0.outputByteCount, rule: $0.record.rule) },
                      notes: pack.tensors.flatMap { plan in plan.notes.map { "\(plan.record.originalName): \($0)" } })
        }
        totalOutputByteCount = plan.totalOutputByteCount
        freeDiskByteCount = plan.freeDiskByteCount
        estimatedPeakMemoryByteCount = plan.estimatedPeakMemoryByteCount
        notes = plan.notes
    }

    func text() -> String {
        var lines: [String] = []
        for pack in packs {
            lines.append("\(pack.path)  (\(pack.component), \(pack.tensors.count) tensors, \(ProgressBar.bytes(pack.fileByteCount)))")
            let width = min(72, pack.tensors.map(\.name.count).max() ?? 0)
            for t in pack.tensors {
                let name = t.name.padding(toLength: max(width, t.name.count), withPad: " ", startingAt: 0)
                lines.append("  \(name)  \(t.sourceDType) -> \(t.storedType)  \(ProgressBar.bytes(t.byteCount))  \(t.rule)")
            }
        }
        lines.append("total output: \(ProgressBar.bytes(totalOutputByteCount)); free disk: \(freeDiskByteCount.map(ProgressBar.bytes) ?? "unknown")"
            + (freeDiskByteCount.map { $0 < totalOutputByteCount ? "  NOT ENOUGH" : "" } ?? ""))
        lines.append("expected peak memory: \(ProgressBar.bytes(estimatedPeakMemoryByteCount)) (independent of checkpoint size)")
        lines.append(contentsOf: notes.map { "note: \($0)" })
        lines.append("dry run: nothing written")
        return lines.joined(separator: "\n") + "\n"
    }
}

enum ConvertReportText {
    static func text(_ report: ConversionReport, outputIsFolder: Bool, output: String) -> String {
        var lines: [String] = []
        for pack in report.packs {
            let casts = pack.tensors.filter { $0.sourceDType.lowercased() != $0.storedType && $0.encoding == "plain" }
            lines.append("\(pack.path): \(pack.component), \(pack.tensorCount) tensors, \(ProgressBar.bytes(pack.fileByteCount))"
                + (pack.verified ? ", checksums verified" : ""))
            for t in pack.tensors where t.overflowedToInfinity > 0 || t.flushedToZero > 0 {
                lines.append("  \(t.name): \(t.sourceDType) -> \(t.storedType): \(t.overflowedToInfinity) overflowed to inf, \(t.flushedToZero) flushed to zero")
            }
            for t in pack.tensors { for note in t.notes { lines.append("  \(t.name): \(note)") } }
            if !casts.isEmpty {
                let overflow = casts.reduce(0) { $0 + $1.overflowedToInfinity }
                let flushed = casts.reduce(0) { $0 + $1.flushedToZero }
                lines.append("  \(casts.count) tensors cast; \(overflow) values overflowed to inf, \(flushed) flushed to zero in total")
            }
        }
        lines.append(contentsOf: report.notes.map { "note: \($0)" })
        lines.append(outputIsFolder ? "packs are in \(output)/" : "pack written to \(output)")
        return lines.joined(separator: "\n") + "\n"
    }
}
