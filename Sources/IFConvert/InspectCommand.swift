import ArgumentParser
import IFCore

/// `ifconvert inspect PATH [--json] [--variant fp16]`: what a checkpoint holds, from headers only.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List the tensors of a checkpoint or pack (snapshot or component folder, .safetensors, PyTorch .bin/.pt/.ckpt, shard index, .gguf, or a compressed .zst).",
        discussion: """
            Reads headers only. For a diffusers snapshot (a folder with model_index.json) every component's \
            weights file is picked the way diffusers picks it (safetensors over .bin; --variant fp16 selects \
            *.fp16.* files). PyTorch checkpoints are read without running their pickle: objects outside the \
            allowlist are listed as skipped, and a nested state dict's prefix is reported. --json prints the \
            stable schema documented in docs/CLI.md.
            """
    )

    @Argument(help: "A snapshot folder, a component folder, a .safetensors, .bin/.pt/.pth/.ckpt or .gguf file, a *.index*.json file, or a .safetensors.zst / .gguf.zst archive.")
    var path: String

    @Flag(help: "Print JSON (schema in docs/CLI.md) instead of tables.")
    var json = false

    @Option(help: "Weights variant to pick, as diffusers' variant= (e.g. fp16).")
    var variant: String?

    /// The text `run()` prints (tests call this directly).
    func output() throws -> String {
        let report = try InspectReport.make(path: path, variant: variant)
        return json ? report.json().serialized(pretty: true) + "\n" : report.humanText()
    }

    func run() throws {
        print(try output(), terminator: "")
    }
}
