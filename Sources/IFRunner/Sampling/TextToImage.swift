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
    }

    public static func generate(
        textEncoder: StageModel, stageI: StageModel, stageII: StageModel?, options o: Options,
        progress: (String) -> Void = { _ in }
    ) throws -> Result {
        let tokenizer = try textEncoder.tokenizer()
        let encoder = try T5Encoder.load(model: textEncoder).encoder
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
        let schedulerI = try UNetStageSupport.schedulers(model: stageI, stageII: false).sampling
        let sizeI = unetI.config.sampleSize ?? 64
        var request = StageRequest(promptEmbeds: promptEmbeds, negativePromptEmbeds: negativeEmbeds, batch: 1, sequenceLength: length,
                                   height: sizeI, width: sizeI, guidanceScale: o.stageIGuidance, timesteps: nil, steps: o.stageISteps)
        var image = try StageSampler.run(unet: unetI, scheduler: schedulerI, request: request, noise: &noise) { step in
            progress("stage I step \(step.index + 1)/\(o.stageISteps) (t = \(step.timestep))")
        }
        unetI.releaseBuffers()
        guard let stageII else { return Result(image: image, size: sizeI) }

        let (unetII, _) = try UNetStageSupport.loadUNet(model: stageII)
        let schedulersII = try UNetStageSupport.schedulers(model: stageII, stageII: true)
        let sizeII = unetII.config.sampleSize ?? 256
        request = StageRequest(promptEmbeds: promptEmbeds, negativePromptEmbeds: negativeEmbeds, batch: 1, sequenceLength: length,
                               height: sizeII, width: sizeII, guidanceScale: o.stageIIGuidance, timesteps: nil, steps: o.stageIISteps)
        request.lowResImage = image
        request.lowResHeight = sizeI
        request.lowResWidth = sizeI
        request.noiseLevel = o.noiseLevel
        noise = NoiseSource(seed: o.seed &+ 1)
        image = try StageSampler.run(unet: unetII, scheduler: schedulersII.sampling, imageNoisingScheduler: schedulersII.noising, request: request, noise: &noise) { step in
            progress("stage II step \(step.index + 1)/\(o.stageIISteps) (t = \(step.timestep))")
        }
        return Result(image: image, size: sizeII)
    }

    /// Writes a `[1, 3, size, size]` image in [-1, 1] as an 8-bit RGB PNG (diffusers' mapping:
    /// `round(clamp(x / 2 + 0.5, 0, 1) * 255)`).
    public static func writePNG(_ image: [Float], size: Int, to path: String) throws {
        let plane = size * size
        var rgb = [UInt8](repeating: 0, count: 3 * plane)
        for p in 0..<plane {
            for c in 0..<3 { rgb[p * 3 + c] = ImageComparison.pixelByte(image[c * plane + p]) }
        }
        try PNGWriter.write(rgb: rgb, width: size, height: size, to: path)
    }
}
