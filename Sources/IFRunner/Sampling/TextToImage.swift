import Foundation

/// Prompt -> image with IF's stages on the CPU: T5 (lowercase + strip preprocessing, 77 tokens, the
/// empty prompt as negative), the stage I loop, optionally the stage II loop, as IFPipeline /
/// IFSuperResolutionPipeline run them, with our seeded noise (not torch's generator: same
/// distribution, other numbers than diffusers for the same seed).
public enum TextToImage {
    public struct Options: Sendable {
        public var prompt: String
        public var negativePrompt = ""
        public var stageISteps = 100
        public var stageIISteps = 50
        public var stageIGuidance: Float = 7
        public var stageIIGuidance: Float = 4
        public var noiseLevel = 250
        public var seed: UInt64 = 0

        public init(prompt: String) { self.prompt = prompt }
    }

    /// The generated image, `[1, 3, size, size]` in [-1, 1], and its side length.
    public struct Result: Sendable {
        public let image: [Float]
        public let size: Int
        public let stageISeconds: Double
        public let stageIISeconds: Double?
    }

    public static func generate(
        textEncoder: StageModel, stageI: StageModel, stageII: StageModel?, options o: Options,
        progress: (String) -> Void = { _ in }
    ) throws -> Result {
        let tokenizer = try textEncoder.tokenizer()
        let weights = try textEncoder.weights(for: .textEncoder)
        let config = try textEncoder.configJSON(for: .textEncoder).map { try T5Config(configJSON: $0) }
        let encoder = try T5Encoder(weights: weights, config: config)
        let positive = try tokenizer.encode(o.prompt), negative = try tokenizer.encode(o.negativePrompt)
        let length = tokenizer.maxLength
        let text = try encoder.encode(inputIDs: negative.inputIDs + positive.inputIDs,
                                      attentionMask: negative.attentionMask + positive.attentionMask, batch: 2, length: length)
        let perPrompt = length * encoder.config.dModel
        let negativeEmbeds = Array(text.lastHiddenState[0..<perPrompt])
        let promptEmbeds = Array(text.lastHiddenState[perPrompt...])
        progress("text encoded (\(length) tokens)")

        var noise = NoiseSource(seed: o.seed)
        let (unetI, _) = try UNetStageSupport.loadUNet(model: stageI)
        let schedulerI = try DDPMScheduler(config: try UNetStageSupport.schedulerConfig(model: stageI, folder: "scheduler")
            ?? UNetStageSupport.defaultIFScheduler(stageII: false))
        let sizeI = unetI.config.sampleSize ?? 64
        var request = StageRequest(promptEmbeds: promptEmbeds, negativePromptEmbeds: negativeEmbeds, batch: 1, sequenceLength: length,
                                   height: sizeI, width: sizeI, guidanceScale: o.stageIGuidance, timesteps: nil, steps: o.stageISteps)
        var start = Date()
        var image = try StageSampler.run(unet: unetI, scheduler: schedulerI, request: request, noise: &noise) { step in
            progress("stage I step \(step.index + 1)/\(o.stageISteps) (t = \(step.timestep))")
        }
        let stageISeconds = Date().timeIntervalSince(start)
        unetI.releaseBuffers()
        guard let stageII else { return Result(image: image, size: sizeI, stageISeconds: stageISeconds, stageIISeconds: nil) }

        let (unetII, _) = try UNetStageSupport.loadUNet(model: stageII)
        let schedulerII = try DDPMScheduler(config: try UNetStageSupport.schedulerConfig(model: stageII, folder: "scheduler")
            ?? UNetStageSupport.defaultIFScheduler(stageII: true))
        let noising = try DDPMScheduler(config: try UNetStageSupport.schedulerConfig(model: stageII, folder: "image_noising_scheduler")
            ?? UNetStageSupport.defaultImageNoisingScheduler())
        let sizeII = unetII.config.sampleSize ?? 256
        request = StageRequest(promptEmbeds: promptEmbeds, negativePromptEmbeds: negativeEmbeds, batch: 1, sequenceLength: length,
                               height: sizeII, width: sizeII, guidanceScale: o.stageIIGuidance, timesteps: nil, steps: o.stageIISteps)
        request.lowResImage = image
        request.lowResHeight = sizeI
        request.lowResWidth = sizeI
        request.noiseLevel = o.noiseLevel
        noise = NoiseSource(seed: o.seed &+ 1)
        start = Date()
        image = try StageSampler.run(unet: unetII, scheduler: schedulerII, imageNoisingScheduler: noising, request: request, noise: &noise) { step in
            progress("stage II step \(step.index + 1)/\(o.stageIISteps) (t = \(step.timestep))")
        }
        return Result(image: image, size: sizeII, stageISeconds: stageISeconds, stageIISeconds: Date().timeIntervalSince(start))
    }

    /// Writes a `[1, 3, size, size]` image in [-1, 1] as an 8-bit RGB PNG (diffusers' mapping:
    /// `round(clamp(x / 2 + 0.5, 0, 1) * 255)`).
    public static func writePNG(_ image: [Float], size: Int, to path: String) throws {
        let plane = size * size
        var rgb = [UInt8](repeating: 0, count: 3 * plane)
        for p in 0..<plane {
            for c in 0..<3 { rgb[p * 3 + c] = UInt8((min(max(Double(image[c * plane + p]) / 2 + 0.5, 0), 1) * 255).rounded()) }
        }
        try PNGWriter.write(rgb: rgb, width: size, height: size, to: path)
    }
}
