import ArgumentParser
import Foundation
import IFCore
import IFQuant

extension QuantScheme: ExpressibleByArgument {}

/// `ifconvert quantize`: a float pack -> a q8_0 / int8 / q4_0 / q4_k pack, with a policy and an
/// error report.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a float pack to q8_0, int8 (row-wise), q4_0 or q4_k, with a per-tensor error report.",
        discussion: """
            Defaults keep biases, norms, embeddings, positional/relative-attention tables, conv_in,
            conv_out and T5's FFN `wo` in float and quantize Linear and Conv weights (convolutions as
            [out, in*kh*kw] rows). Rows that do not fit the block size fall back (q4_k -> q4_0 where
            32 fits, else the float type) with the reason recorded. --rule REGEX=TYPE overrides
            (repeatable, first match wins; REGEX is searched in the original tensor name; TYPE is one
            of keep, f32, f16, q8_0, int8, q4_0, q4_k). See docs/QUANTIZATION.md.
            """)

    @Argument(help: "The float pack (.gguf) to quantize.")
    var pack: String

    @Option(name: .shortAndLong, help: "Output pack path.")
    var output: String?

    @Option(name: .long, help: "Quantization scheme.")
    var type: QuantScheme

    @Option(name: .long, help: ArgumentHelp("Override: REGEX=TYPE (repeatable, first match wins).", valueName: "REGEX=TYPE"))
    var rule: [String] = []

    @Flag(help: "Print every tensor's decision and the memory estimate; write nothing.")
    var dryRun = false

    @Option(help: "Write the full report (per-tensor errors, sizes, GPU memory estimate) as JSON.")
    var report: String?

    @Flag(help: "Quantize a pack that already holds quantized tensors (they are dequantized first).")
    var allowRequantize = false

    @Flag(help: "Skip measuring each tensor's quantization error (faster).")
    var noErrors = false

    @Option(help: "Worker threads (output is identical for any count).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Overwrite the output if it exists.")
    var force = false

    @Flag(help: "Print the report as JSON on stdout.")
    var json = false

    func validate() throws {
        guard dryRun || output != nil else { throw ValidationError("name the output pack with -o (or use --dry-run)") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        _ = try QuantRule.fromOptions(rule)
    }

    func run() throws {
        TemporaryFiles.removeOnInterrupt()
        let rules = try QuantRule.fromOptions(rule)
        let bar = ProgressBar(label: "quantize", quiet: json)
        let outcome = try PackQuantizer.run(
            QuantizeRequest(inputPath: pack, outputPath: output, scheme: type, rules: rules, allowRequantize: allowRequantize,
                            dryRun: dryRun, measureError: !noErrors, overwrite: force, threads: threads),
            progress: { bar.update(done: $0.bytesDone, total: $0.bytesTotal) })
        bar.finish()
        if let report {
            try outcome.report.jsonData().write(to: URL(fileURLWithPath: report), options: .atomic)
        }
        if json {
            print(String(decoding: try outcome.report.jsonData(), as: UTF8.self))
            return
        }
        if dryRun {
            for d in outcome.decisions {
                let shape = "[" + d.shape.map(String.init).joined(separator: ",") + "]"
                print("\(d.name)\t\(shape)\t\(d.sourceType.name) -> \(d.storageType.name)\(d.isQuantized ? "" : " (float)")\t\(d.provenance)")
            }
        }
        for line in outcome.report.summaryLines() { print(line) }
        if let written = outcome.written {
            print("wrote \(written.path) (\(ProgressBar.bytes(written.fileByteCount)), \(written.tensorCount) tensors\(written.verified ? ", verified" : ""))")
        }
    }
}
