import ArgumentParser
import IFQuant

/// Hidden: `ifconvert bench-quantize PACK --type q8_0`, the in-process measurement of
/// scripts/bench/quantize.sh (quantizer only: no writing, hashing or verification).
struct BenchQuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-quantize",
        abstract: "Time the quantizer alone on a pack's quantizable tensors (benchmark helper).",
        shouldDisplay: false
    )

    @Argument(help: "A float pack (.gguf).")
    var pack: String

    @Option(help: "Quantization scheme.")
    var type: QuantScheme = .q8_0

    @Option(help: "Worker threads.")
    var threads = 2

    @Option(help: "Repeats.")
    var repeats = 3

    func run() throws {
        let r = try QuantizeBenchmark.run(packPath: pack, scheme: type, threads: threads, repeats: repeats)
        print(try JSONOutput.encode(r))
    }
}
