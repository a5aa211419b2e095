import Foundation
import IFCore
import SafetensorsReader
import Testing
@testable import IFRunner

/// The fixture stage loops against diffusers' IFPipeline / IFSuperResolutionPipeline
/// (fixtures/reference/loop-{I,II}.safetensors: recorded noise, per-step samples).
@Suite("Sampling loops vs diffusers")
struct SamplingLoopTests {
    /// Final-image bound for float weights. The scheduler step itself matches diffusers to 1 ulp
    /// (same float32 op order); what differs is each UNet forward, by fp32 summation order
    /// (~1e-6 relative). Guidance multiplies eps differences by up to 1 + 2s (15 at s = 7),
    /// x0 = (x - sqrt(1-a) eps) / sqrt(a) divides by sqrt(a) (0.3 at t = 800), and the next forward
    /// sees the perturbed sample: the fixture loops grow the error ~3x per step, to 1.9e-4
    /// (stage I, 5 leading steps, s = 7) and 2.5e-4 (stage II, steps 999, 800, 799, 400, 0, s = 4;
    /// PSNR 99.4 / 95.9 dB). Both UNets have cross_attention_dim 128: with 32, stage II's one-channel
    /// norm_cross groups put torch's own fp32 forward 8.5e-6 from fp64 and this loop at 3.2e-3.
    /// 4e-3 is half of one 8-bit level (2/255 in [-1, 1]): at most a rounding flip of a pixel.
    static let imageMaxAbsBound: Float = 4e-3

    @Test(arguments: ["I", "II"])
    func verifyReplaysTheLoop(stage: String) throws {
        let root = repositoryRoot()
        let images = FileManager.default.temporaryDirectory.appendingPathComponent("ifconvert-loop-\(stage)-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: images) }
        let model = try StageModel(path: root.appendingPathComponent("fixtures/IF-\(stage)-tiny").path, variant: "fp16")
        let bundle = try Verifier.openBundle(at: root.appendingPathComponent("fixtures/reference/loop-\(stage).safetensors").path)
        let report = try Verifier.verify(model: model, bundle: bundle, imageDirectory: images)
        #expect(report.kind == (stage == "I" ? .loopI : .loopII))
        #expect(report.passed, "\(report.text)")
        let image = try #require(report.outputs.first { $0.name == "out.image" })
        #expect(Float(image.metrics.maxAbsError) <= Self.imageMaxAbsBound)
        // Every recorded step is compared; the error stays at the fp32-rounding level throughout.
        let recorded = bundle.names(withPrefix: "step").filter { $0.hasSuffix(".prev_sample") || $0.hasSuffix(".model_output") }
        #expect(report.layers.count == recorded.count)
        #expect(report.layers.filter { $0.name.hasSuffix(".prev_sample") }.allSatisfy { Float($0.metrics.maxAbsError) <= Self.imageMaxAbsBound })
        let comparison = try #require(report.images.first)
        #expect((comparison.psnr ?? .infinity) > 80)
        let png = try #require(comparison.pngPath)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
        #expect(bytes.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
    }

    @Test func perturbedLoopReferenceFails() throws {
        let root = repositoryRoot()
        let bundle = try Verifier.openBundle(at: root.appendingPathComponent("fixtures/reference/loop-I.safetensors").path)
        let perturbed = try UNetPerturbedSource(base: bundle.source, name: "out.image") { $0.map { $0 + 0.01 } }
        let report = try Verifier.verify(model: try StageModel(path: root.appendingPathComponent("fixtures/IF-I-tiny").path, variant: "fp16"),
                                         bundle: ReferenceBundle(path: bundle.path, source: perturbed))
        #expect(!report.passed)
    }

    @Test func seededNoiseIsDeterministicAndNormal() {
        var a = GaussianGenerator(seed: 7), b = GaussianGenerator(seed: 7)
        let x = a.normals(20001), y = b.normals(20001)
        #expect(x == y)
        let mean = x.reduce(0, +) / Float(x.count)
        let variance = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(x.count)
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
    }
}

@Suite("Text to image")
struct TextToImageTests {
    @Test func generatesDeterministicImagesFromTheFixtures() throws {
        let root = repositoryRoot()
        let stageI = try StageModel(path: root.appendingPathComponent("fixtures/IF-I-tiny").path, variant: "fp16")
        let stageII = try StageModel(path: root.appendingPathComponent("fixtures/IF-II-tiny").path, variant: "fp16")
        var options = TextToImage.Options(prompt: "a red fox in the snow")
        options.stageISteps = 2
        options.stageIISteps = 2
        let a = try TextToImage.generate(textEncoder: stageI, stageI: stageI, stageII: stageII, options: options)
        let b = try TextToImage.generate(textEncoder: stageI, stageI: stageI, stageII: stageII, options: options)
        options.seed = 1
        let c = try TextToImage.generate(textEncoder: stageI, stageI: stageI, stageII: nil, options: options)
        #expect(a.size == 32 && a.image.count == 3 * 32 * 32)
        #expect(a.image == b.image)
        #expect(c.size == 16 && c.image.count == 3 * 16 * 16)
        #expect(a.image.allSatisfy { $0.isFinite && abs($0) <= 1 })  // stage II thresholding clips to [-1, 1]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ifconvert-gen-\(getpid()).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try TextToImage.writePNG(a.image, size: a.size, to: path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count > 3 * 32 * 32)
    }
}
