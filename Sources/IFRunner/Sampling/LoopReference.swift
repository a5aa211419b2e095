import IFCore

/// A stage loop reference bundle (docs/VERIFY.md): inputs `in.initial_noise`, `in.prompt_embeds`,
/// `in.negative_prompt_embeds`, optional `in.timesteps`, `step<i>.variance_noise`; stage II adds
/// `in.low_res`, `in.noise_level`, `in.noise`; `__metadata__` holds `guidance_scale` (and
/// `num_inference_steps` when there is no `in.timesteps`); expected `out.image` and optional
/// `step<i>.prev_sample`.
public struct LoopReference: Sendable {
    public let isStageII: Bool
    public var request: StageRequest
    public var noise: NoiseSource
    public let expectedImage: [Float]
    /// `[batch, channels, height, width]`.
    public let imageShape: [Int]
    public let expectedSteps: [Int: [Float]]

    public init(bundle: any TensorSource, path: String) throws {
        func bad(_ message: String) -> RunnerError { .badReference(path: path, message: message) }
        func tensor(_ name: String) throws -> TensorView {
            do { return try bundle.tensor(named: name) } catch { throw bad("missing '\(name)'") }
        }
        func floats(_ name: String) throws -> [Float] {
            do { return try tensor(name).floats() } catch let e as RunnerError { throw e } catch { throw bad("cannot read '\(name)': \(error)") }
        }
        let names = Set(bundle.tensorNames)
        let kind = bundle.metadata["kind"]
        isStageII = kind == "loop-II" || names.contains("in.low_res")
        let initial = try tensor("in.initial_noise")
        guard initial.shape.count == 4 else { throw bad("in.initial_noise has shape \(initial.shape), expected [B, C, H, W]") }
        imageShape = initial.shape
        let prompt = try tensor("in.prompt_embeds")
        guard prompt.shape.count == 3, prompt.shape[0] == initial.shape[0] else {
            throw bad("in.prompt_embeds has shape \(prompt.shape), expected [\(initial.shape[0]), L, D]")
        }
        guard let scaleText = bundle.metadata["guidance_scale"], let scale = Float(scaleText) else {
            throw bad("__metadata__ needs a numeric 'guidance_scale'")
        }
        var timesteps: [Int]?
        if names.contains("in.timesteps") { timesteps = try floats("in.timesteps").map { Int($0) } }
        let steps = timesteps?.count ?? Int(bundle.metadata["num_inference_steps"] ?? "") ?? 0
        guard steps > 0 else { throw bad("needs in.timesteps or __metadata__ num_inference_steps") }
        request = StageRequest(
            promptEmbeds: try floats("in.prompt_embeds"),
            negativePromptEmbeds: names.contains("in.negative_prompt_embeds") ? try floats("in.negative_prompt_embeds") : nil,
            batch: initial.shape[0], sequenceLength: prompt.shape[1], height: initial.shape[2], width: initial.shape[3],
            guidanceScale: scale, timesteps: timesteps, steps: steps)
        var variance: [Int: [Float]] = [:]
        var expectedSteps: [Int: [Float]] = [:]
        for i in 0..<steps {
            if names.contains("step\(i).variance_noise") { variance[i] = try floats("step\(i).variance_noise") }
            if names.contains("step\(i).prev_sample") { expectedSteps[i] = try floats("step\(i).prev_sample") }
        }
        self.expectedSteps = expectedSteps
        noise = NoiseSource(seed: 0, initialNoise: try floats("in.initial_noise"),
                            upscaleNoise: names.contains("in.noise") ? try floats("in.noise") : nil, varianceNoise: variance)
        if isStageII {
            let low = try tensor("in.low_res")
            guard low.shape.count == 4, low.shape[0] == initial.shape[0] else {
                throw bad("in.low_res has shape \(low.shape), expected [\(initial.shape[0]), C, h, w]")
            }
            request.lowResImage = try floats("in.low_res")
            request.lowResHeight = low.shape[2]
            request.lowResWidth = low.shape[3]
            if names.contains("in.noise_level") {
                request.noiseLevel = Int(try floats("in.noise_level").first ?? 250)
            } else if let level = bundle.metadata["noise_level"].flatMap({ Int($0) }) {
                request.noiseLevel = level
            }
        }
        expectedImage = try floats("out.image")
        guard expectedImage.count == initial.elementCount else {
            throw bad("out.image has \(expectedImage.count) values, expected the shape of in.initial_noise \(initial.shape)")
        }
    }
}
