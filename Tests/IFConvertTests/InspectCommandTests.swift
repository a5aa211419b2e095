import Foundation
import Testing
@testable import IFConvert
import IFCore
import SafetensorsReader

@Suite struct InspectCommandTests {
    /// A one-component folder written with our writer (the tiny IF fixtures are tested in IFCoreTests).
    final class Folder {
        let path = NSTemporaryDirectory() + "ifconvert-cli-" + UUID().uuidString
        init() throws {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try #"{"_class_name": "UNet2DConditionModel"}"#.write(toFile: path + "/config.json", atomically: true, encoding: .utf8)
            var writer = SafetensorsWriter()
            try writer.append(name: "conv_in.weight", dtype: .f16, shape: [2, 3], bytes: [UInt8](repeating: 0, count: 12))
            try writer.append(name: "time_embedding.linear_1.bias", dtype: .f32, shape: [5], bytes: [UInt8](repeating: 0, count: 20))
            try writer.write(to: path + "/diffusion_pytorch_model.safetensors")
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test func jsonThroughTheCommand() throws {
        let folder = try Folder()
        let output = try InspectCommand.parse([folder.path, "--json"]).output()
        let json = try JSONParser.parse(Array(output.utf8), path: "stdout")
        let root = try #require(json.objectValue)
        #expect(root["format"] == .string("safetensors"))
        #expect(root["layout"] == .string("component"))
        #expect(root["parameter_count"] == .int(11))
        #expect(root["tensors"]?.arrayValue?.compactMap { $0.objectValue?["name"]?.stringValue } == ["conv_in.weight", "time_embedding.linear_1.bias"])
        #expect(root["tensors"]?.arrayValue?.first?.objectValue?["dtype"] == .string("F16"))
    }

    @Test func humanThroughTheCommand() throws {
        let folder = try Folder()
        let output = try InspectCommand.parse([folder.path]).output()
        #expect(output.contains("tensors     2\n"))
        #expect(output.contains("by dtype    F32 20, F16 12\n"))
        #expect(output.contains("time_embedding.linear_1.bias  F32    [5]        20\n"))
    }

    /// The built `ifconvert` binary (next to the test bundle): results on stdout, errors on stderr
    /// with exit status 1.
    @Test func endToEndBinary() throws {
        let folder = try Folder()
        let ok = try Self.run(["inspect", folder.path + "/diffusion_pytorch_model.safetensors", "--json"])
        #expect(ok.status == 0 && ok.stderr.isEmpty)
        #expect(try JSONParser.parse(Array(ok.stdout.utf8), path: "stdout").objectValue?["tensor_count"] == .int(2))

        let bad = try Self.run(["inspect", CLI.repoRoot + "/fixtures/malformed/duplicate_keys.safetensors"])
        #expect(bad.status == 1)
        #expect(bad.stdout.isEmpty)
        #expect(bad.stderr.contains("duplicate_keys.safetensors: invalid JSON at byte"))
        #expect(bad.stderr.contains("duplicate key 'a'"))
    }

    /// PyTorch files through the binary: skipped objects and the state dict prefix in the JSON; a
    /// hostile archive is one error line on stderr.
    @Test func endToEndPyTorch() throws {
        let ok = try Self.run(["inspect", CLI.repoRoot + "/fixtures/torch/nested.ckpt", "--json"])
        #expect(ok.status == 0 && ok.stderr.isEmpty)
        let root = try #require(try JSONParser.parse(Array(ok.stdout.utf8), path: "stdout").objectValue)
        #expect(root["format"] == .string("pytorch-zip"))
        let component = try #require(root["components"]?.arrayValue?.first?.objectValue)
        #expect(component["state_dict_prefix"] == .string("state_dict"))
        #expect(component["skipped_objects"]?.arrayValue?.first == .object(JSONObject([
            ("path", .string("hyper_parameters")), ("global", .string("argparse.Namespace"))])))

        let bad = try Self.run(["inspect", CLI.repoRoot + "/fixtures/torch/hostile/path_traversal.pt"])
        #expect(bad.status == 1 && bad.stdout.isEmpty)
        #expect(bad.stderr.contains("'../../etc/passwd' escapes the archive folder (path traversal)"))
        #expect(bad.stderr.split(separator: "\n").count == 1)
    }

    @Test func helpSnapshot() {
        let help = IFConvertCommand.helpMessage(for: InspectCommand.self, columns: 100)
        #expect(help == """
            OVERVIEW: List the tensors of a checkpoint or pack (snapshot or component folder, .safetensors,
            PyTorch .bin/.pt/.ckpt, shard index, .gguf, or a compressed .zst).

            Reads headers only. For a diffusers snapshot (a folder with model_index.json) every component's
            weights file is picked the way diffusers picks it (safetensors over .bin; --variant fp16 selects
            *.fp16.* files). PyTorch checkpoints are read without running their pickle: objects outside the
            allowlist are listed as skipped, and a nested state dict's prefix is reported. --json prints the
            stable schema documented in docs/CLI.md.

            USAGE: ifconvert inspect <path> [--json] [--variant <variant>]

            ARGUMENTS:
              <path>                  A snapshot folder, a component folder, a .safetensors,
                                      .bin/.pt/.pth/.ckpt or .gguf file, a *.index*.json file, or a
                                      .safetensors.zst / .gguf.zst archive.

            OPTIONS:
              --json                  Print JSON (schema in docs/CLI.md) instead of tables.
              --variant <variant>     Weights variant to pick, as diffusers' variant= (e.g. fp16).
              --version               Show the version.
              -h, --help              Show help information.

            """)
    }

    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try #require(FileManager.default.isExecutableFile(atPath: CLI.binaryURL.path), "ifconvert binary not built next to the tests")
        let result = try CLI.run(arguments)
        return (result.status, result.stdout, result.stderr)
    }
}

@Suite struct InspectFixtureEndToEndTests {
    /// `ifconvert inspect fixtures/IF-I-tiny --variant fp16 --json` through the built binary.
    @Test func tinySnapshotJSON() throws {
        let path = CLI.repoRoot + "/fixtures/IF-I-tiny"
        let result = try InspectCommandTests.run(["inspect", path, "--variant", "fp16", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let root = try #require(try JSONParser.parse(Array(result.stdout.utf8), path: "stdout").objectValue)
        #expect(root["format"] == .string("diffusers-pipeline") && root["variant"] == .string("fp16"))
        let list = try #require(root["tensors"]?.arrayValue)
        let tensors = list.compactMap { $0.objectValue }
        // Every listed tensor agrees with its file's header.
        var sum = 0
        var files: [String: any TensorSource] = [:]
        for tensor in tensors {
            let component = try #require(tensor["component"]?.stringValue)
            let file = try #require(tensor["file"]?.stringValue)
            let name = try #require(tensor["name"]?.stringValue)
            // "original" is the root config.yml + pytorch_model.bin checkpoint, beside the component folders.
            let filePath = component == "original" ? "\(path)/\(file)" : "\(path)/\(component)/\(file)"
            if files[filePath] == nil { files[filePath] = try openSource(atPath: filePath) }
            let info = try #require(files[filePath]).info(named: name)
            #expect(tensor["dtype"] == .string(info.dtype.rawValue) && tensor["shape"] == .ints(info.shape)
                    && tensor["byte_count"] == .int(info.byteCount))
            sum += info.elementCount
        }
        #expect(root["parameter_count"] == .int(sum))
        #expect(Set(tensors.compactMap { $0["component"]?.stringValue }) == ["unet", "text_encoder", "original"])
    }

    @Test func humanTableOnTheFixture() throws {
        let output = try InspectCommand.parse([CLI.repoRoot + "/fixtures/IF-I-tiny/text_encoder"]).output()
        #expect(output.contains("format      safetensors-sharded\n"))
        #expect(output.contains("encoder.block.0.layer.1.DenseReluDense.wo.weight"))
    }
}
