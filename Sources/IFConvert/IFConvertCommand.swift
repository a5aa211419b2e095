import ArgumentParser
import IFCore

/// The root command only lists subcommands; each subcommand lives in its own file.
@main
struct IFConvertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ifconvert",
        abstract: "Convert DeepFloyd IF checkpoints to GGUF packs (fp16/int8/4-bit) and verify them on the CPU.",
        version: IFConvertVersion.string,
        subcommands: [
            // The workflow in order: look, convert, quantize, prove, move.
            InspectCommand.self,
            ConvertCommand.self,
            QuantizeCommand.self,
            ExportCommand.self,
            CheckCommand.self,
            VerifyCommand.self,
            TokenizeCommand.self,
            GenerateCommand.self,
            CompressCommand.self,
            DecompressCommand.self,
            // Hidden benchmark helpers (scripts/bench/).
            BenchReadCommand.self,
            BenchQuantizeCommand.self,
        ]
    )
}
