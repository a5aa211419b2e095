import Foundation
import Testing

/// `verify` on UNet / loop bundles and `generate`, end to end through the built binary.
@Suite struct DiffusionCommandsTests {
    @Test func verifyLoopWritesComparisonPNGAndJSON() throws {
        let folder = NSTemporaryDirectory() + "ifconvert-diffusion-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let root = PackCommandsTests.repoRoot
        let result = try PackCommandsTests.ifconvert(["verify", root + "/fixtures/IF-II-tiny", "--variant", "fp16",
                                                      "--reference", root + "/fixtures/reference/loop-II.safetensors",
                                                      "--image-out", folder, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["kind"] as? String == "loop-II")
        #expect(report["compute_seconds"] is Double && report["load_seconds"] is Double && report["peak_memory_bytes"] is Int)
        let images = try #require(report["images"] as? [[String: Any]])
        let png = try #require(images.first?["png"] as? String)
        #expect(FileManager.default.fileExists(atPath: png))
        #expect((images.first?["psnr_db"] as? Double ?? 0) > 60)
    }

    @Test func verifyUNetFailsOnAMismatchedBundle() throws {
        let root = PackCommandsTests.repoRoot
        // Stage I weights against the stage II bundle: bad input (shapes), exit 2 with a message.
        let result = try PackCommandsTests.ifconvert(["verify", root + "/fixtures/IF-I-tiny", "--variant", "fp16",
                                                      "--reference", root + "/fixtures/reference/unet-II.safetensors"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("ifconvert verify:"))
    }

    @Test func generateWritesAPNG() throws {
        let path = NSTemporaryDirectory() + "ifconvert-generate-" + UUID().uuidString + ".png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let root = PackCommandsTests.repoRoot
        let result = try PackCommandsTests.ifconvert(["generate", "--stage1", root + "/fixtures/IF-I-tiny", "--text-encoder", root + "/fixtures/IF-I-tiny",
                                                      "--variant", "fp16", "--prompt", "a red fox", "--steps", "2", "-o", path])
        #expect(result.status == 0, "\(result.stderr)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
    }
}
