import Foundation
import Testing
@testable import IFCore

/// `convert` from either layout of the IF-II-tiny snapshot gives packs with identical tensors.
@Suite("Packs from the original layout")
struct OriginalPackTests {
    static let snapshot = originalTestsRepositoryRoot().appendingPathComponent("fixtures/IF-II-tiny").path

    func convert(original: Bool, variant: String?, cast: FloatStorageType?, into folder: String) throws -> (Pack, ConversionReport) {
        let request = ConvertRequest(sourcePath: Self.snapshot, outputPath: folder + "/unet.gguf", policy: FloatCastPolicy(target: cast),
                                     variant: variant, component: "unet", original: original)
        let report = try Converter.run(try Converter.plan(request), request: request)
        return (try Pack(readingAt: folder + "/unet.gguf"), report)
    }

    /// (diffusers variant, cast): the fp16 files as they are, and the fp32 files cast to f16 (they hold
    /// widened fp16 values, so the cast is exact).
    @Test("original and diffusers packs hold identical tensors", arguments: [("fp16", nil), (nil, FloatStorageType.f16)] as [(String?, FloatStorageType?)])
    func identicalTensors(variant: String?, cast: FloatStorageType?) throws {
        let a = makePackTestFolder("orig-a"), b = makePackTestFolder("orig-b")
        defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
        let (fromDiffusers, diffusersReport) = try convert(original: false, variant: variant, cast: cast, into: a)
        let (fromOriginal, originalReport) = try convert(original: true, variant: nil, cast: cast, into: b)
        #expect(diffusersReport.notes.contains { $0.contains("converted from the diffusers files") && $0.contains("--original") })
        #expect(originalReport.notes.contains { $0.contains("converted from the original IF layout") })
        #expect(fromDiffusers.tensorNames.count == 331)
        #expect(Set(fromDiffusers.tensorNames) == Set(fromOriginal.tensorNames))
        for name in fromDiffusers.tensorNames {
            let x = try fromDiffusers.packTensor(named: name), y = try fromOriginal.packTensor(named: name)
            #expect(x.type == y.type && x.shape == y.shape, "\(name)")
            #expect(x.data.copyBytes() == y.data.copyBytes(), "\(name)")
        }
        let config = try #require(PackAttachments(metadata: fromOriginal.ggufMetadata).configJSON)
        #expect(config.contains("\"addition_embed_type_num_heads\": 8"))
    }

    @Test("--original on a snapshot without the root files says what is missing")
    func originalMissing() throws {
        let folder = makePackTestFolder("orig-missing")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = originalTestsRepositoryRoot().appendingPathComponent("fixtures/IF-II-tiny/unet").path
        let request = ConvertRequest(sourcePath: source, outputPath: folder, policy: FloatCastPolicy(target: nil), original: true)
        #expect {
            try Converter.plan(request)
        } throws: { error in
            "\(error)".contains("--original needs config.yml and pytorch_model.bin")
        }
    }
}
