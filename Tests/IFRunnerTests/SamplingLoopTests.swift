import Foundation
import IFCore
import Testing
@testable import IFRunner

@Suite("Sampling loops vs diffusers")
struct SamplingLoopTests {
    @Test(arguments: ["I", "II"])
    func loopMatchesReference(stage: String) throws {
        let root = unetRepositoryRoot()
        let snapshot = root.appendingPathComponent("fixtures/IF-\(stage)-tiny")
        let config = try UNetConfig(contentsOf: snapshot.appendingPathComponent("unet/config.json"))
        let weights = TensorSourceWeightStore(source: try UNetTestSafetensors(path: snapshot.appendingPathComponent("unet/diffusion_pytorch_model.fp16.safetensors").path))
        let unet = try IFUNet(config: config, weights: weights)
        let scheduler = try DDPMScheduler(config: .init(contentsOf: snapshot.appendingPathComponent("scheduler/scheduler_config.json")))
        let noising = stage == "II" ? try DDPMScheduler(config: .init(contentsOf: snapshot.appendingPathComponent("image_noising_scheduler/scheduler_config.json"))) : nil
        let path = root.appendingPathComponent("fixtures/reference/loop-\(stage).safetensors").path
        var reference = try LoopReference(bundle: try UNetTestSafetensors(path: path), path: path)
        let image = try StageSampler.run(unet: unet, scheduler: scheduler, imageNoisingScheduler: noising,
                                         request: reference.request, noise: &reference.noise) { i, t, x in
            if let expected = reference.expectedSteps[i] {
                print(stage, "step", i, "t", t, "max abs", maxAbsDifference(x, expected))
            }
        }
        print(stage, "image max abs", maxAbsDifference(image, reference.expectedImage))
        #expect(maxAbsDifference(image, reference.expectedImage) <= 1e-4)
    }
}
