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
            InspectCommand.self,
            CompressCommand.self,
            DecompressCommand.self,
            BenchReadCommand.self,
            ConvertCommand.self,
            ExportCommand.self,
            CheckCommand.self,
            QuantizeCommand.self,
            BenchQuantizeCommand.self,
            VerifyCommand.self,
            TokenizeCommand.self,
            GenerateCommand.self,
        ]
    )
}
