import Foundation
import IFCore
import SafetensorsReader
import Testing
@testable import IFRunner

/// The CPU runner on a UNet read from the original layout (config.yml + pytorch_model.bin, mapped
/// onto diffusers names, config derived from config.yml) computes exactly what it computes on the
/// diffusers files, and both match the diffusers reference bundle.
@Suite("Runner on the original layout")
struct OriginalLayoutRunnerTests {
    /// The forward of `model` on the unet-II reference inputs, and the reference output.
    func referenceForward(_ model: IFUNet) throws -> (output: [Float], expected: [Float]) {
        let bundle = try SafetensorsFile(readingAt: repositoryRoot().appendingPathComponent("fixtures/reference/unet-II.safetensors").path)
        let sample = try bundle.tensor(named: "in.sample")
        let text = try bundle.tensor(named: "in.encoder_hidden_states")
        let batch = sample.shape[0]
        var timesteps = try bundle.tensor(named: "in.timestep").floats()
        if timesteps.count == 1 { timesteps = Array(repeating: timesteps[0], count: batch) }
        let labels = bundle.tensorNames.contains("in.class_labels") ? try bundle.tensor(named: "in.class_labels").floats() : nil
        let output = try model.forward(sample: try sample.floats(), batch: batch, height: sample.shape[2], width: sample.shape[3],
                                       timesteps: timesteps, encoderHiddenStates: try text.floats(), sequenceLength: text.shape[1],
                                       classLabels: labels)
        return (output, try bundle.tensor(named: "out.sample").floats())
    }

    @Test("IF-II-tiny: packs converted from either layout run to identical outputs")
    func packsFromEitherLayout() throws {
        let snapshot = repositoryRoot().appendingPathComponent("fixtures/IF-II-tiny").path
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ifconvert-origrun-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var outputs: [[Float]] = []
        for (original, variant) in [(true, nil), (false, "fp16")] as [(Bool, String?)] {
            let pack = folder + "/unet-\(original).gguf"
            let request = ConvertRequest(sourcePath: snapshot, outputPath: pack, policy: FloatCastPolicy(target: nil),
                                         variant: variant, component: "unet", original: original)
            _ = try Converter.run(try Converter.plan(request), request: request)
            let model = try StageModel(path: pack)
            let config = try UNetConfig(json: try #require(try model.configJSON(for: .unet)), origin: pack)
            let (output, expected) = try referenceForward(try IFUNet(config: config, weights: try model.weights(for: .unet)))
            #expect(relativeL2(output, expected) <= 1e-5)
            outputs.append(output)
        }
        #expect(outputs[0] == outputs[1])
    }

    @Test("IF-II-tiny: original layout forward == diffusers layout forward, and matches unet-II reference")
    func stageIIForward() throws {
        let root = repositoryRoot()
        let snapshot = root.appendingPathComponent("fixtures/IF-II-tiny")
        let original = try OriginalLayoutSource(configAt: snapshot.appendingPathComponent("config.yml").path,
                                                checkpointAt: snapshot.appendingPathComponent("pytorch_model.bin").path)
        let unetDir = snapshot.appendingPathComponent("unet")
        let models = [
            try IFUNet(config: try UNetConfig(json: Data(original.config.jsonText.utf8), origin: "derived from config.yml"),
                       weights: TensorSourceWeightStore(source: original)),
            try IFUNet(config: try UNetConfig(contentsOf: unetDir.appendingPathComponent("config.json")),
                       weights: TensorSourceWeightStore(source: try SafetensorsFile(
                           readingAt: unetDir.appendingPathComponent("diffusion_pytorch_model.fp16.safetensors").path))),
        ]
        #expect(models[0].config == models[1].config)
        let runs = try models.map { try referenceForward($0) }
        let outputs = runs.map(\.output)
        #expect(outputs[0] == outputs[1])
        let expected = runs[0].expected
        #expect(relativeL2(outputs[0], expected) <= 1e-5)
    }
}
