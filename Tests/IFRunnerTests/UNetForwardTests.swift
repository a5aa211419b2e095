import Foundation
import IFCore
import Testing
@testable import IFRunner

/// Collects every activation the model reports.
final class RecordingObserver: ActivationObserver {
    var values: [String: (shape: [Int], values: [Float])] = [:]
    let filter: Set<String>?
    init(filter: Set<String>? = nil) { self.filter = filter }
    func wants(_ name: String) -> Bool { filter?.contains(name) ?? true }
    func record(name: String, shape: [Int], values: [Float]) { self.values[name] = (shape, values) }
}

@Suite("UNet forward vs diffusers")
struct UNetForwardTests {
    @Test(arguments: ["I", "II"])
    func forwardMatchesReference(stage: String) throws {
        let root = unetRepositoryRoot()
        let unetDir = root.appendingPathComponent("fixtures/IF-\(stage)-tiny/unet")
        let config = try UNetConfig(contentsOf: unetDir.appendingPathComponent("config.json"))
        let weights = TensorSourceWeightStore(source: try UNetTestSafetensors(path: unetDir.appendingPathComponent("diffusion_pytorch_model.fp16.safetensors").path))
        let model = try IFUNet(config: config, weights: weights)
        let bundle = try UNetTestSafetensors(path: root.appendingPathComponent("fixtures/reference/unet-\(stage).safetensors").path)
        let sample = try bundle.tensor(named: "in.sample")
        let text = try bundle.tensor(named: "in.encoder_hidden_states")
        let batch = sample.shape[0]
        var timesteps = try bundle.tensor(named: "in.timestep").floats()
        if timesteps.count == 1 { timesteps = Array(repeating: timesteps[0], count: batch) }
        let labels = bundle.tensorNames.contains("in.class_labels") ? try bundle.tensor(named: "in.class_labels").floats() : nil
        let observer = RecordingObserver()
        let out = try model.forward(sample: try sample.floats(), batch: batch, height: sample.shape[2], width: sample.shape[3],
                                    timesteps: timesteps, encoderHiddenStates: try text.floats(), sequenceLength: text.shape[1],
                                    classLabels: labels, observer: observer)
        let expected = try bundle.tensor(named: "out.sample").floats()
        for name in bundle.tensorNames where name.hasPrefix("act.") {
            let key = String(name.dropFirst(4))
            guard let ours = observer.values[key] else { print("no activation for \(key)"); continue }
            let ref = try bundle.tensor(named: name).floats()
            print(stage, key, ours.values.count == ref.count ? relativeL2(ours.values, ref) : -1)
        }
        let err = relativeL2(out, expected)
        print(stage, "out.sample rel L2", err, "max abs", maxAbsDifference(out, expected))
        #expect(err <= 1e-5)
    }
}
