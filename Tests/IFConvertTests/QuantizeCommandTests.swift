import Foundation
import Testing
@testable import IFConvert
import IFCore

/// `ifconvert quantize` and `convert --type q8_0` through the built binary, on fixtures/IF-I-tiny.
@Suite struct QuantizeCommandTests {
    @Test func quantizeReportsRefusesRequantizingAndConvertQuantizes() throws {
        let folder = NSTemporaryDirectory() + "ifconvert-quant-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let unet = PackCommandsTests.repoRoot + "/fixtures/IF-I-tiny/unet/diffusion_pytorch_model.fp16.safetensors"

        let float = try PackCommandsTests.ifconvert(["convert", unet, "-o", folder + "/f16.gguf"])
        #expect(float.status == 0, "\(float.stderr)")

        let q = try PackCommandsTests.ifconvert(["quantize", folder + "/f16.gguf", "-o", folder + "/q8.gguf", "--type", "q8_0",
                                                 "--report", folder + "/r.json"])
        #expect(q.status == 0, "\(q.stderr)")
        #expect(q.stdout.contains("tensors quantized to q8_0"))
        #expect(q.stdout.contains("IF-I-XL + T5-v1.1-XXL"))
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/r.json"))) as? [String: Any]
        let tensors = try #require(report?["tensors"] as? [[String: Any]])
        let toQ = try #require(tensors.first { $0["name"] as? String == "down_blocks.1.attentions.0.to_q.weight" })
        #expect(toQ["target"] as? String == "q8_0")
        #expect((toQ["relativeRMSError"] as? Double).map { $0 > 0 && $0 < 0.02 } == true)
        #expect(try Pack(readingAt: folder + "/q8.gguf").record(named: "conv_in.weight")?.encoding == .plain)

        let again = try PackCommandsTests.ifconvert(["quantize", folder + "/q8.gguf", "-o", folder + "/again.gguf", "--type", "q4_0"])
        #expect(again.status != 0)
        #expect(again.stderr.contains("--allow-requantize"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/again.gguf"))

        let dry = try PackCommandsTests.ifconvert(["quantize", folder + "/f16.gguf", "--type", "q4_k", "--dry-run",
                                                   "--rule", "^conv_in\\.weight$=int8"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("conv_in.weight\t[32,3,3,3]\tf16 -> i8\t--rule '^conv_in\\.weight$=int8'"))
        #expect(dry.stdout.contains("q4_0 instead"))

        let badRule = try PackCommandsTests.ifconvert(["quantize", folder + "/f16.gguf", "--type", "q8_0", "--dry-run", "--rule", "x=q5_1"])
        #expect(badRule.status != 0 && badRule.stderr.contains("unknown TYPE 'q5_1'"))

        let converted = try PackCommandsTests.ifconvert(["convert", unet, "-o", folder + "/c.gguf", "--type", "int8"])
        #expect(converted.status == 0, "\(converted.stderr)")
        let pack = try Pack(readingAt: folder + "/c.gguf")
        #expect(pack.record(named: "down_blocks.1.attentions.0.to_q.weight")?.encoding == .int8Rowwise)
        #expect(pack.requestedTypeForTests == "int8")
    }

    @Test func helpListsSchemesAndRules() throws {
        let help = QuantizeCommand.helpMessage(columns: 100)
        for needle in ["--type <type>", "q8_0", "int8", "q4_0", "q4_k", "--rule <REGEX=TYPE>", "--dry-run", "--report", "--allow-requantize"] {
            #expect(help.contains(needle), "\(needle)")
        }
    }
}

extension Pack {
    var requestedTypeForTests: String? { ggufMetadata[PackKeys.requestedType]?.stringValue }
}
