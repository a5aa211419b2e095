import Foundation
import Testing
@testable import IFConvert
import IFCore

/// `ifconvert convert --original` through the built binary: says which UNet form it read.
@Suite struct ConvertOriginalTests {
    @Test func convertSaysWhichLayoutItUsed() throws {
        let folder = NSTemporaryDirectory() + "ifconvert-origcli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let snapshot = PackCommandsTests.repoRoot + "/fixtures/IF-II-tiny"

        let original = try PackCommandsTests.ifconvert(["convert", snapshot, "--component", "unet", "--original", "-o", folder + "/orig.gguf"])
        #expect(original.status == 0, "\(original.stderr)")
        #expect(original.stdout.contains("note: unet: converted from the original IF layout (config.yml + pytorch_model.bin)"))

        let diffusers = try PackCommandsTests.ifconvert(["convert", snapshot, "--component", "unet", "--variant", "fp16", "-o", folder + "/diff.gguf"])
        #expect(diffusers.status == 0, "\(diffusers.stderr)")
        #expect(diffusers.stdout.contains("converted from the diffusers files (diffusion_pytorch_model.fp16.safetensors)"))
        #expect(diffusers.stdout.contains("pass --original"))

        let a = try Pack(readingAt: folder + "/orig.gguf"), b = try Pack(readingAt: folder + "/diff.gguf")
        #expect(Set(a.tensorNames) == Set(b.tensorNames))
        for name in a.tensorNames {
            #expect(try a.packTensor(named: name).data.copyBytes() == b.packTensor(named: name).data.copyBytes(), "\(name)")
        }

        // verify against the same reference: identical outputs and per-layer metrics (timings differ).
        var reports: [[String: Any]] = []
        for pack in ["orig", "diff"] {
            let run = try PackCommandsTests.ifconvert(["verify", folder + "/\(pack).gguf", "--reference",
                                                       PackCommandsTests.repoRoot + "/fixtures/reference/unet-II.safetensors", "--json"])
            #expect(run.status == 0, "\(run.stderr)")
            reports.append(try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]))
        }
        #expect((reports[0]["outputs"] as? [Any])?.isEmpty == false && (reports[0]["layers"] as? [Any])?.isEmpty == false)
        for key in ["outputs", "layers", "passed", "storage_types"] {
            let x = try JSONSerialization.data(withJSONObject: ["v": reports[0][key] ?? NSNull()], options: .sortedKeys)
            let y = try JSONSerialization.data(withJSONObject: ["v": reports[1][key] ?? NSNull()], options: .sortedKeys)
            #expect(x == y, "verify '\(key)' differs between the packs")
        }

        let missing = try PackCommandsTests.ifconvert(["convert", snapshot + "/unet", "--original", "-o", folder + "/x.gguf"])
        #expect(missing.status != 0 && missing.stdout.isEmpty)
        #expect(missing.stderr.contains("--original needs config.yml and pytorch_model.bin"))
    }
}
