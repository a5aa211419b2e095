import Foundation
import IFCore
import SafetensorsReader
import Testing
@testable import IFRunner

/// Collects every activation the model reports.
final class RecordingObserver: ActivationObserver {
    var values: [String: (shape: [Int], values: [Float])] = [:]
    func wants(_ name: String) -> Bool { true }
    func record(name: String, shape: [Int], values: [Float]) { self.values[name] = (shape, values) }
}

/// The fixture UNets against diffusers' fp32 forwards (fixtures/reference/unet-{I,II}.safetensors,
/// AttnAddedKVProcessor, weights as stored in the snapshots).
@Suite("UNet forward vs diffusers")
struct UNetForwardTests {
    static func snapshot(_ stage: String) -> String { repositoryRoot().appendingPathComponent("fixtures/IF-\(stage)-tiny").path }
    static func bundlePath(_ name: String) -> String { repositoryRoot().appendingPathComponent("fixtures/reference/\(name).safetensors").path }

    static func bundle(_ stage: String) throws -> ReferenceBundle { try Verifier.openBundle(at: bundlePath("unet-\(stage)")) }

    @Test(arguments: ["I", "II"], ["fp16", nil] as [String?])
    func verifyPassesWithinFloatTolerance(stage: String, variant: String?) throws {
        let model = try StageModel(path: Self.snapshot(stage), variant: variant)
        let report = try Verifier.verify(model: model, bundle: try Verifier.openBundle(at: Self.bundlePath("unet-\(stage)")))
        #expect(report.kind == .unet)
        #expect(report.tolerance == .float)
        #expect(report.passed, "\(report.text)")
        #expect(report.outputs.count == 1 && report.outputs[0].metrics.relativeL2Error <= 1e-5)
        // Every activation of the bundle is attributed, in execution order (the sinusoid first).
        #expect(try report.layers.count == Self.bundle(stage).names(withPrefix: "act.").count)
        #expect(report.layers.first?.name == "act.time_proj")
        #expect(report.layers.last?.name == "act.conv_out")
        // Inner layers measure <= 2.0e-6 (stage I) / 4.4e-6 (stage II); 1e-4 leaves room for a
        // layer that is less well conditioned than the output and still flags a wrong op.
        #expect(report.layers.allSatisfy { $0.metrics.relativeL2Error <= 1e-4 })
        #expect(report.fp16RangeAudit.contains { $0.module == "mid_block" })
    }

    @Test func perturbedReferenceFails() throws {
        let bundle = try Verifier.openBundle(at: Self.bundlePath("unet-I"))
        // 1e-4 relative nudge on one element's neighbourhood: far above fp32 rounding, far below visibility.
        let perturbed = try UNetPerturbedSource(base: bundle.source, name: "out.sample") { values in
            var v = values
            for i in stride(from: 0, to: v.count, by: 97) { v[i] *= 1.001 }
            return v
        }
        let report = try Verifier.verify(model: try StageModel(path: Self.snapshot("I"), variant: "fp16"),
                                         bundle: ReferenceBundle(path: bundle.path, source: perturbed))
        #expect(!report.passed)
        #expect(report.outputs[0].metrics.relativeL2Error > 1e-5)
    }

    @Test func activationsCoverEveryBlock() throws {
        let model = try StageModel(path: Self.snapshot("II"), variant: "fp16")
        let (unet, _) = try UNetStageSupport.loadUNet(model: model)
        let bundle = try Verifier.openBundle(at: Self.bundlePath("unet-II"))
        let observer = RecordingObserver()
        let sample = try bundle.view("in.sample")
        _ = try unet.forward(sample: try bundle.floats("in.sample"), batch: 2, height: sample.shape[2], width: sample.shape[3],
                             timesteps: [999, 400], encoderHiddenStates: try bundle.floats("in.encoder_hidden_states"),
                             sequenceLength: try bundle.view("in.encoder_hidden_states").shape[1], classLabels: [250, 250], observer: observer)
        for level in 0..<3 {
            #expect(observer.values["down_blocks.\(level)"] != nil)
            #expect(observer.values["up_blocks.\(level)"] != nil)
        }
        for name in ["time_embedding", "class_embedding", "add_embedding", "encoder_hid_proj", "conv_in", "mid_block", "conv_out"] {
            #expect(observer.values[name] != nil, "\(name)")
        }
        // Buffers are pooled: a second forward allocates nothing new.
        let before = unet.peakActivationBytes
        _ = try unet.forward(sample: try bundle.floats("in.sample"), batch: 2, height: sample.shape[2], width: sample.shape[3],
                             timesteps: [999, 400], encoderHiddenStates: try bundle.floats("in.encoder_hidden_states"),
                             sequenceLength: try bundle.view("in.encoder_hidden_states").shape[1], classLabels: [250, 250])
        #expect(unet.peakActivationBytes == before)
    }

    @Test func rejectsInputsThatDoNotFit() throws {
        let (unet, _) = try UNetStageSupport.loadUNet(model: try StageModel(path: Self.snapshot("I"), variant: "fp16"))
        #expect(throws: RunnerError.self) {  // 18 is not a multiple of 4 (3 levels)
            _ = try unet.forward(sample: [Float](repeating: 0, count: 3 * 18 * 18), batch: 1, height: 18, width: 18, timesteps: [1],
                                 encoderHiddenStates: [Float](repeating: 0, count: 77 * 64), sequenceLength: 77)
        }
        #expect(throws: RunnerError.self) {  // wrong text width
            _ = try unet.forward(sample: [Float](repeating: 0, count: 3 * 16 * 16), batch: 1, height: 16, width: 16, timesteps: [1],
                                 encoderHiddenStates: [Float](repeating: 0, count: 77 * 32), sequenceLength: 77)
        }
    }
}
