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

        let missing = try PackCommandsTests.ifconvert(["convert", snapshot + "/unet", "--original", "-o", folder + "/x.gguf"])
        #expect(missing.status != 0 && missing.stdout.isEmpty)
        #expect(missing.stderr.contains("--original needs config.yml and pytorch_model.bin"))
    }
}
