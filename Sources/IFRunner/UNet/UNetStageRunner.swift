import Foundation
import IFCore

/// Collects `act.*` activations a bundle holds, in execution order, and the largest |value| of
/// every block output (the fp16 range audit).
final class BundleActivationObserver: ActivationObserver {
    let bundle: ReferenceBundle
    private(set) var tensors: [ComputedTensor] = []
    private(set) var ranges: [RangeAuditEntry] = []

    init(bundle: ReferenceBundle) { self.bundle = bundle }

    static func isBlockOutput(_ name: String) -> Bool {
        let parts = name.split(separator: ".")
        return name == "mid_block" || name == "conv_in" || name == "conv_out"
            || (parts.count == 2 && (parts[0] == "down_blocks" || parts[0] == "up_blocks"))
    }

    func wants(_ name: String) -> Bool { bundle.has("act." + name) || Self.isBlockOutput(name) }

    func record(name: String, shape: [Int], values: [Float]) {
        if Self.isBlockOutput(name) {
            let peak = values.reduce(Float(0)) { max($0, abs($1)) }
            ranges.append(RangeAuditEntry(module: name, maxAbs: Double(peak), site: "block output"))
        }
        if bundle.has("act." + name) { tensors.append(ComputedTensor(name: "act." + name, shape: shape, values: values)) }
    }
}

/// Loading a stage's UNet (and schedulers) from a `StageModel`.
enum UNetStageSupport {
    static func loadUNet(model: StageModel) throws -> (IFUNet, Set<String>) {
        guard let json = try model.configJSON(for: .unet) else {
            throw RunnerError.badConfig("\(model.path): no UNet config.json (a snapshot's unet/config.json, or one stored in the pack)")
        }
        let config = try UNetConfig(json: json, origin: "\(model.path) unet config")
        let weights = try model.weights(for: .unet)
        let labels = Set(weights.tensorNames.filter { $0.hasSuffix(".weight") && !$0.contains("norm") }.map { weights.storageLabel(of: $0) })
        return (try IFUNet(config: config, weights: weights), labels)
    }

    /// The stage's sampling scheduler and, for stage II, its image-noising scheduler: the configs
    /// stored with the model, else IF's defaults (`fromFile` says which, for messages).
    static func schedulers(model: StageModel, stageII: Bool) throws -> (sampling: DDPMScheduler, noising: DDPMScheduler?, fromFile: Bool) {
        let stored = try schedulerConfig(model: model, folder: "scheduler")
        let sampling = try DDPMScheduler(config: stored ?? defaultIFScheduler(stageII: stageII))
        guard stageII else { return (sampling, nil, stored != nil) }
        let noising = try DDPMScheduler(config: try schedulerConfig(model: model, folder: "image_noising_scheduler") ?? defaultImageNoisingScheduler())
        return (sampling, noising, stored != nil)
    }

    /// The scheduler config `name` ("scheduler", "image_noising_scheduler"): a snapshot's
    /// `<name>/scheduler_config.json` (next to a unet/ folder given alone), or the copy a UNet pack
    /// carries; nil when the model has none (single safetensors files).
    static func schedulerConfig(model: StageModel, folder name: String) throws -> DDPMScheduler.Config? {
        let base: String
        switch model.layout {
        case .snapshotRoot: base = model.path
        case .componentFolder: base = (model.path as NSString).deletingLastPathComponent
        case .pack:
            let stored = try PackStageSupport.open(model.path, component: .unet).attachments.schedulers.first { $0.name == name }
            return try stored.map { try DDPMScheduler.Config(json: Data($0.json.utf8), origin: "\(model.path) \(name) config") }
        case .safetensorsFile: return nil
        }
        let file = ((base as NSString).appendingPathComponent(name) as NSString).appendingPathComponent("scheduler_config.json")
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        return try DDPMScheduler.Config(contentsOf: URL(fileURLWithPath: file))
    }

    /// IF's schedulers as `scripts/convert_if.py` builds them (IF-FACTS §3.5), for models that
    /// carry no scheduler config: cosine betas, learned_range, dynamic thresholding at 0.95 with
    /// sample_max_value 1.5 (stage I) or 1.0 (stage II); the image-noising scheduler is a plain
    /// cosine DDPMScheduler.
    static func defaultIFScheduler(stageII: Bool) -> DDPMScheduler.Config {
        var c = DDPMScheduler.Config()
        c.betaSchedule = "squaredcos_cap_v2"
        c.varianceType = "learned_range"
        c.thresholding = true
        c.dynamicThresholdingRatio = 0.95
        c.sampleMaxValue = stageII ? 1.0 : 1.5
        return c
    }

    static let eightBit = VerifyTolerance(
        relativeL2: 0.15,
        reason: "8-bit UNet weights: per-weight rounding of up to half a step, amplified through ~30 layers and sharp cross-attention")
    static let fourBit = VerifyTolerance(
        relativeL2: 0.6,
        reason: "4-bit UNet weights: 16 levels per block; only the direction of the output is kept (cosine ~0.9 on the fixtures)")

    static func tolerance(forStorageLabels labels: Set<String>) -> VerifyTolerance {
        let base = VerifyTolerance.defaultTolerance(forStorageLabels: labels)
        if base == .eightBit { return eightBit }
        if base == .fourBit { return fourBit }
        return base
    }

    static func defaultImageNoisingScheduler() -> DDPMScheduler.Config {
        var c = DDPMScheduler.Config()
        c.betaSchedule = "squaredcos_cap_v2"
        return c
    }
}

/// `in.sample`, `in.timestep`, `in.encoder_hidden_states`, optional `in.class_labels` ->
/// `out.sample`, plus the `act.<module path>` activations the bundle holds.
public struct UNetStageRunner: StageRunner {
    public let unet: IFUNet
    public let storageLabels: Set<String>

    /// The float class as everywhere (summation order only). Quantized classes are wider than T5's:
    /// the fixture UNets are random-weight nets whose ~30 layers and sharp cross-attention amplify
    /// per-weight rounding. Measured on the fixtures (cross_attention_dim 128 in both):
    /// q8_0 2.5e-2 / 4.0e-2 and int8 3.0e-2 / 5.1e-2 (stage I / II), q4_0 0.35 / 0.41.
    public var defaultTolerance: VerifyTolerance { UNetStageSupport.tolerance(forStorageLabels: storageLabels) }

    public static func load(model: StageModel, bundle: ReferenceBundle) throws -> UNetStageRunner {
        let (unet, labels) = try UNetStageSupport.loadUNet(model: model)
        return UNetStageRunner(unet: unet, storageLabels: labels)
    }

    public func compute(bundle: ReferenceBundle) throws -> StageResult {
        func bad(_ message: String) -> RunnerError { .badReference(path: bundle.path, message: message) }
        let sample = try bundle.view("in.sample")
        guard sample.shape.count == 4 else { throw bad("in.sample has shape \(sample.shape), expected [B, C, H, W]") }
        let text = try bundle.view("in.encoder_hidden_states")
        guard text.shape.count == 3, text.shape[0] == sample.shape[0] else {
            throw bad("in.encoder_hidden_states has shape \(text.shape), expected [\(sample.shape[0]), L, D]")
        }
        let batch = sample.shape[0]
        var timesteps = try bundle.floats("in.timestep")
        if timesteps.count == 1 { timesteps = Array(repeating: timesteps[0], count: batch) }
        guard timesteps.count == batch else { throw bad("in.timestep has \(timesteps.count) values for batch \(batch)") }
        var labels: [Float]?
        if bundle.has("in.class_labels") {
            labels = try bundle.floats("in.class_labels")
            if labels!.count == 1 { labels = Array(repeating: labels![0], count: batch) }
        }
        let observer = BundleActivationObserver(bundle: bundle)
        let out = try unet.forward(sample: try bundle.floats("in.sample"), batch: batch, height: sample.shape[2], width: sample.shape[3],
                                   timesteps: timesteps, encoderHiddenStates: try bundle.floats("in.encoder_hidden_states"),
                                   sequenceLength: text.shape[1], classLabels: labels, observer: observer)
        let shape = [batch, unet.config.outChannels, sample.shape[2], sample.shape[3]]
        return StageResult(tensors: [ComputedTensor(name: "out.sample", shape: shape, values: out)] + observer.tensors,
                           rangeAudit: observer.ranges)
    }
}
