import Foundation

/// Where a sampling loop's randomness comes from: the arrays a reference bundle recorded
/// (`in.initial_noise`, `in.noise`, `step<i>.variance_noise`), so the loop replays diffusers
/// exactly, else our own seeded Gaussian generator (not torch's: same distribution, other numbers).
public struct NoiseSource: Sendable {
    public var initialNoise: [Float]?
    public var upscaleNoise: [Float]?
    public var varianceNoise: [Int: [Float]]
    public var generator: GaussianGenerator

    public init(seed: UInt64, initialNoise: [Float]? = nil, upscaleNoise: [Float]? = nil, varianceNoise: [Int: [Float]] = [:]) {
        self.initialNoise = initialNoise
        self.upscaleNoise = upscaleNoise
        self.varianceNoise = varianceNoise
        generator = GaussianGenerator(seed: seed)
    }

    mutating func initial(count: Int) throws -> [Float] {
        try recorded(initialNoise, count: count, name: "in.initial_noise") ?? generator.normals(count)
    }

    mutating func upscale(count: Int) throws -> [Float] {
        try recorded(upscaleNoise, count: count, name: "in.noise") ?? generator.normals(count)
    }

    mutating func variance(step: Int, count: Int) throws -> [Float] {
        try recorded(varianceNoise[step], count: count, name: "step\(step).variance_noise") ?? generator.normals(count)
    }

    private func recorded(_ values: [Float]?, count: Int, name: String) throws -> [Float]? {
        guard let values else { return nil }
        guard values.count == count else {
            throw RunnerError.badConfig("\(name) has \(values.count) values, the loop needs \(count)")
        }
        return values
    }
}

/// Standard normal floats from SplitMix64 + Box-Muller (deterministic for a seed).
public struct GaussianGenerator: Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    private mutating func nextUniform() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return (Double(z >> 11) + 0.5) / Double(1 << 53)  // (0, 1)
    }

    public mutating func normals(_ count: Int) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(count + 1)
        while out.count < count {
            let r = (-2 * log(nextUniform())).squareRoot(), theta = 2 * Double.pi * nextUniform()
            out.append(Float(r * cos(theta)))
            out.append(Float(r * sin(theta)))
        }
        return Array(out.prefix(count))
    }
}

/// What one stage's loop needs besides the models. Text states are `[batch, length, width]`.
public struct StageRequest: Sendable {
    public var promptEmbeds: [Float]
    /// Needed when `guidanceScale > 1` (classifier-free guidance, batch `[uncond, cond]`).
    public var negativePromptEmbeds: [Float]?
    public var batch: Int
    public var sequenceLength: Int
    public var height: Int
    public var width: Int
    public var guidanceScale: Float
    /// Explicit descending timesteps, else `steps` with the scheduler's spacing.
    public var timesteps: [Int]?
    public var steps: Int
    /// Stage II: the stage I image `[batch, 3, h, w]` in [-1, 1], its size, and the noise level.
    public var lowResImage: [Float]?
    public var lowResHeight = 0
    public var lowResWidth = 0
    public var noiseLevel = 250

    public init(promptEmbeds: [Float], negativePromptEmbeds: [Float]?, batch: Int, sequenceLength: Int,
                height: Int, width: Int, guidanceScale: Float, timesteps: [Int]?, steps: Int) {
        self.promptEmbeds = promptEmbeds
        self.negativePromptEmbeds = negativePromptEmbeds
        self.batch = batch
        self.sequenceLength = sequenceLength
        self.height = height
        self.width = width
        self.guidanceScale = guidanceScale
        self.timesteps = timesteps
        self.steps = steps
    }
}

/// What one denoising step produced.
public struct SamplingStep: Sendable {
    public let index: Int
    public let timestep: Int
    /// The guided output handed to `scheduler.step`: `cat([eps, v_cond], 1)`, `[batch, 6, H, W]`.
    public let modelOutput: [Float]
    /// The scheduler's `prev_sample`, `[batch, C, H, W]`.
    public let previousSample: [Float]
}

/// IFPipeline / IFSuperResolutionPipeline denoising loops (diffusers `__call__` with
/// `output_type="pt"`), minus text encoding, safety checker and watermark.
public enum StageSampler {
    /// Runs the loop; `onStep` sees each step's model output and `prev_sample`. Returns the final sample
    /// `[batch, C, height, width]` (unclamped, as `output_type="pt"` returns it).
    public static func run(
        unet: IFUNet, scheduler: DDPMScheduler, imageNoisingScheduler: DDPMScheduler? = nil,
        request r: StageRequest, noise: inout NoiseSource,
        onStep: (SamplingStep) throws -> Void = { _ in }
    ) throws -> [Float] {
        let stageII = r.lowResImage != nil
        let channels = stageII ? unet.config.inChannels / 2 : unet.config.inChannels
        let plane = r.height * r.width, perSample = channels * plane
        let timesteps: [Int]
        if let explicit = r.timesteps {
            try scheduler.validate(customTimesteps: explicit)
            timesteps = explicit
        } else {
            timesteps = try scheduler.timesteps(steps: r.steps)
        }
        let guided = r.guidanceScale > 1
        let textCount = r.batch * r.sequenceLength * unet.textWidth
        guard r.promptEmbeds.count == textCount else {
            throw RunnerError.badConfig("prompt embeds have \(r.promptEmbeds.count) values, expected [\(r.batch), \(r.sequenceLength), \(unet.textWidth)]")
        }
        var text = r.promptEmbeds
        if guided {
            guard let negative = r.negativePromptEmbeds, negative.count == textCount else {
                throw RunnerError.badConfig("guidance scale \(r.guidanceScale) > 1 needs negative prompt embeds shaped like the prompt embeds")
            }
            text = negative + r.promptEmbeds
        }
        let modelBatch = guided ? 2 * r.batch : r.batch

        var x = try noise.initial(count: r.batch * perSample)  // init_noise_sigma = 1
        var upscaled: [Float] = []
        var labels: [Float]?
        if let low = r.lowResImage {
            guard let noising = imageNoisingScheduler else {
                throw RunnerError.badConfig("stage II needs the image_noising_scheduler")
            }
            guard low.count == r.batch * channels * r.lowResHeight * r.lowResWidth else {
                throw RunnerError.badConfig("low-res image has \(low.count) values, expected [\(r.batch), \(channels), \(r.lowResHeight), \(r.lowResWidth)]")
            }
            guard r.noiseLevel >= 0, r.noiseLevel < noising.config.trainTimesteps else {
                throw RunnerError.badConfig("noise level \(r.noiseLevel) must be in 0..<\(noising.config.trainTimesteps)")
            }
            var resized = [Float](repeating: 0, count: r.batch * perSample)
            low.withUnsafeBufferPointer { src in
                resized.withUnsafeMutableBufferPointer { dst in
                    UNetOps.resizeBilinearAlignCorners(src.baseAddress!, planes: r.batch * channels, height: r.lowResHeight, width: r.lowResWidth,
                                                       outputHeight: r.height, outputWidth: r.width, output: dst.baseAddress!)
                }
            }
            let z = try noise.upscale(count: resized.count)
            upscaled = noising.addNoise(resized, noise: z, timesteps: Array(repeating: r.noiseLevel, count: r.batch))
            labels = Array(repeating: Float(r.noiseLevel), count: modelBatch)
        }

        let outPerSample = unet.config.outChannels * plane
        for (i, t) in timesteps.enumerated() {
            var modelInput: [Float]
            if stageII {
                modelInput = []
                modelInput.reserveCapacity(2 * r.batch * perSample)
                for b in 0..<r.batch {
                    modelInput += x[(b * perSample)..<((b + 1) * perSample)]
                    modelInput += upscaled[(b * perSample)..<((b + 1) * perSample)]
                }
            } else {
                modelInput = x
            }
            if guided { modelInput += modelInput }
            let out = try unet.forward(sample: modelInput, batch: modelBatch, height: r.height, width: r.width,
                                       timesteps: Array(repeating: Float(t), count: modelBatch), encoderHiddenStates: text,
                                       sequenceLength: r.sequenceLength, classLabels: labels)
            var prediction: [Float]
            if guided {
                // eps = eps_u + s * (eps_c - eps_u); variance channels from the cond half.
                prediction = [Float](repeating: 0, count: r.batch * outPerSample)
                let s = r.guidanceScale
                for b in 0..<r.batch {
                    let u = b * outPerSample, c = (r.batch + b) * outPerSample
                    for j in 0..<perSample { prediction[u + j] = out[u + j] + s * (out[c + j] - out[u + j]) }
                    for j in perSample..<outPerSample { prediction[u + j] = out[c + j] }
                }
            } else {
                prediction = out
            }
            if scheduler.varianceType != .learned && scheduler.varianceType != .learnedRange {
                prediction = (0..<r.batch).flatMap { b in prediction[(b * outPerSample)..<(b * outPerSample + perSample)] }
            }
            let previous = i + 1 < timesteps.count ? timesteps[i + 1] : -1
            x = try scheduler.step(modelOutput: prediction, timestep: t, previousTimestep: previous, sample: x, batch: r.batch) {
                try noise.variance(step: i, count: r.batch * perSample)
            }
            try onStep(SamplingStep(index: i, timestep: t, modelOutput: prediction, previousSample: x))
        }
        return x
    }
}
