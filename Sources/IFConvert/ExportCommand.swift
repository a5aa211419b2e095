import ArgumentParser
import Foundation
import IFCore

extension PackExporter.Layout: ExpressibleByArgument {}

/// `ifconvert export PACK -o OUT.safetensors`: a pack back to safetensors with the original names.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a pack's tensors back to safetensors with their original (diffusers/transformers) names.",
        discussion: """
            Plain tensors are written exactly as stored (an fp16 pack exports byte-identical fp16 tensors); \
            quantized ones are dequantized to F32. --layout diffusers makes OUT a component folder (config.json + \
            diffusion_pytorch_model.safetensors or model.safetensors) that from_pretrained loads.
            """)

    @Argument(help: "The .gguf pack to export.")
    var pack: String

    @Option(name: .shortAndLong, help: "Output .safetensors file (or folder with --layout diffusers).")
    var output: String

    @Option(help: "file: one .safetensors; diffusers: a component folder with config.json.")
    var layout: PackExporter.Layout = .file

    @Flag(help: "Overwrite existing output.")
    var force = false

    @Flag(help: "Print JSON on stdout.")
    var json = false

    func run() throws {
        TemporaryFiles.removeOnInterrupt()
        let report = try PackExporter.export(packAt: pack, to: output, layout: layout, overwrite: force)
        if json {
            print(try JSONOutput.encode(report))
        } else {
            print("\(report.weightsPath): \(report.tensorCount) tensors" + (report.dequantizedTensors.isEmpty ? "" : " (\(report.dequantizedTensors.count) dequantized to F32)"))
            if let config = report.configPath { print(config) }
        }
    }
}
