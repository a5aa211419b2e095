import ArgumentParser
import Foundation
import IFRunner

/// `ifconvert verify MODEL --reference BUNDLE`: runs a stage on a reference bundle's inputs and
/// compares with its outputs. Exit 0 within tolerance, 1 not, 2 on bad input.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that a pack or snapshot computes what a reference bundle (transformers/diffusers) says.",
        discussion: """
            MODEL is a GGUF pack, a snapshot folder (the one with model_index.json), one component folder \
            (e.g. text_encoder/) or a safetensors file. BUNDLE is a reference bundle (docs/VERIFY.md); its \
            kind (t5, tokenizer, unet, loop-I, loop-II) is read from its metadata or tensors. Exit status: \
            0 within tolerance, 1 outside it, 2 bad input.
            """)

    @Argument(help: "Pack, snapshot folder, component folder or safetensors file.")
    var model: String

    @Option(name: .long, help: "Reference bundle (safetensors).")
    var reference: String

    @Option(name: .long, help: "Relative L2 bound for every float output (default: by weight type, see docs/VERIFY.md).")
    var tolerance: Double?

    @Option(name: .long, help: "Weight-file variant to read from a snapshot folder (e.g. fp16); default: full precision, else the only one.")
    var variant: String?

    @Option(name: .customLong("image-out"), help: "Folder for comparison PNGs of image outputs (reference | ours | amplified difference).")
    var imageOut: String?

    @Option(name: .customLong("repeat"), help: "Run the stage N times; with N >= 2 the first is a warm-up and the reported compute times are medians of the rest (benchmarks).")
    var repeats: Int = 1

    @Flag(name: .long, help: "Print the report as JSON on stdout.")
    var json = false

    func validate() throws {
        if let tolerance, !(tolerance >= 0) { throw ValidationError("--tolerance must be a number >= 0") }
        if repeats < 1 { throw ValidationError("--repeat must be at least 1") }
    }

    func run() throws {
        let report = try Console.exitingOnError("verify") {
            let model = try StageModel(path: model, variant: variant, fallbackToAnyVariant: variant == nil)
            let bundle = try Verifier.openBundle(at: reference)
            return try Verifier.verify(model: model, bundle: bundle, tolerance: tolerance, imageDirectory: imageOut, repeats: repeats)
        }
        print(json ? try report.jsonText() : report.text)
        if !report.passed { throw ExitCode(1) }
    }
}
