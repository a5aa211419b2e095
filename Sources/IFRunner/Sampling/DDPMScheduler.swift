import Foundation

/// diffusers `DDPMScheduler` as IF configures it, reproducing its float32 arithmetic op for op:
/// betas from `betas_for_alpha_bar` (Double, rounded to Float), `alphas_cumprod` accumulated in
/// Double (torch's CPU cumprod does) and rounded per entry, every per-step scalar a float32 tensor
/// op (`** 0.5` is `sqrt`), dynamic thresholding with torch.quantile's linear interpolation.
public struct DDPMScheduler: Sendable {
    public enum VarianceType: String, Sendable {
        case fixedSmall = "fixed_small", fixedSmallLog = "fixed_small_log", fixedLarge = "fixed_large"
        case fixedLargeLog = "fixed_large_log", learned, learnedRange = "learned_range"
    }

    public enum PredictionType: String, Sendable {
        case epsilon, sample
        case vPrediction = "v_prediction"
    }

    public struct Config: Sendable, Equatable {
        public var trainTimesteps = 1000
        public var betaSchedule = "linear"
        public var betaStart: Double = 0.0001
        public var betaEnd: Double = 0.02
        public var varianceType = "fixed_small"
        public var clipSample = true
        public var clipSampleRange: Float = 1
        public var predictionType = "epsilon"
        public var thresholding = false
        public var dynamicThresholdingRatio: Float = 0.995
        public var sampleMaxValue: Float = 1
        public var timestepSpacing = "leading"
        public var stepsOffset = 0

        public init() {}

        /// Reads a diffusers `scheduler_config.json` (unknown keys such as `lambda_min_clipped` are
        /// ignored, as DDPMScheduler ignores them).
        public init(contentsOf url: URL) throws(RunnerError) {
            let data: Data
            do { data = try Data(contentsOf: url) } catch {
                throw .badConfig("cannot read \(url.path): \(error.localizedDescription)")
            }
            try self.init(json: data, origin: url.path)
        }

        public init(json data: Data, origin: String) throws(RunnerError) {
            let r = ConfigReader(dict: try JSONValue.parse(data, origin: origin), origin: origin)
            if let cls = try r.optionalString("_class_name"), cls != "DDPMScheduler" {
                throw .unsupported("\(origin): scheduler '\(cls)' (the runner implements DDPMScheduler, as IF uses)")
            }
            if r.isSet("trained_betas") { throw .unsupported("\(origin): trained_betas") }
            if try r.bool("rescale_betas_zero_snr", default: false) { throw .unsupported("\(origin): rescale_betas_zero_snr") }
            trainTimesteps = try r.int("num_train_timesteps", default: 1000)
            betaSchedule = try r.string("beta_schedule", default: "linear")
            betaStart = try r.optionalDouble("beta_start") ?? 0.0001
            betaEnd = try r.optionalDouble("beta_end") ?? 0.02
            varianceType = try r.string("variance_type", default: "fixed_small")
            clipSample = try r.bool("clip_sample", default: true)
            clipSampleRange = try r.float("clip_sample_range", default: 1)
            predictionType = try r.string("prediction_type", default: "epsilon")
            thresholding = try r.bool("thresholding", default: false)
            dynamicThresholdingRatio = try r.float("dynamic_thresholding_ratio", default: 0.995)
            sampleMaxValue = try r.float("sample_max_value", default: 1)
            timestepSpacing = try r.string("timestep_spacing", default: "leading")
            stepsOffset = try r.int("steps_offset", default: 0)
        }
    }

    public let config: Config
    public let varianceType: VarianceType
    public let predictionType: PredictionType
    public let betas: [Float]
    public let alphasCumprod: [Float]

    public init(config: Config) throws(RunnerError) {
        self.config = config
        guard let v = VarianceType(rawValue: config.varianceType) else {
            throw .unsupported("scheduler variance_type '\(config.varianceType)'")
        }
        guard let p = PredictionType(rawValue: config.predictionType) else {
            throw .unsupported("scheduler prediction_type '\(config.predictionType)'")
        }
        varianceType = v
        predictionType = p
        let n = config.trainTimesteps
        guard n > 0 else { throw .badConfig("scheduler num_train_timesteps \(n)") }
        switch config.betaSchedule {
        case "squaredcos_cap_v2":
            func alphaBar(_ t: Double) -> Double {
                let c = cos((t + 0.008) / 1.008 * Double.pi / 2)
                return c * c
            }
            betas = (0..<n).map { i in
                Float(min(1 - alphaBar(Double(i + 1) / Double(n)) / alphaBar(Double(i) / Double(n)), 0.999))
            }
        case "linear":
            betas = Self.linspace(Float(config.betaStart), Float(config.betaEnd), n)
        case "scaled_linear":
            betas = Self.linspace(Float(config.betaStart.squareRoot()), Float(config.betaEnd.squareRoot()), n).map { $0 * $0 }
        default:
            throw .unsupported("scheduler beta_schedule '\(config.betaSchedule)'")
        }
        var product = 1.0
        alphasCumprod = betas.map { beta in
            product *= Double(1 - beta)
            return Float(product)
        }
    }

    /// torch.linspace in float32: `start + i * step` for the first half, `end - (n-1-i) * step` after.
    static func linspace(_ start: Float, _ end: Float, _ n: Int) -> [Float] {
        guard n > 1 else { return [start] }
        let step = (end - start) / Float(n - 1)
        let half = n / 2
        return (0..<n).map { i in i < half ? start + step * Float(i) : end - step * Float(n - 1 - i) }
    }

    /// `set_timesteps(num_inference_steps)`: the configured spacing, descending.
    public func timesteps(steps: Int) throws(RunnerError) -> [Int] {
        let n = config.trainTimesteps
        guard steps > 0, steps <= n else { throw .badConfig("num_inference_steps \(steps) must be in 1...\(n)") }
        switch config.timestepSpacing {
        case "leading":
            let ratio = n / steps
            return (0..<steps).reversed().map { $0 * ratio + config.stepsOffset }
        case "trailing":
            // np.round(np.arange(n, 0, -ratio)) - 1
            let ratio = Double(n) / Double(steps)
            let count = Int((Double(n) / ratio).rounded(.up))
            return (0..<count).map { i in Int((Double(n) - Double(i) * ratio).rounded(.toNearestOrEven)) - 1 }
        case "linspace":
            // np.linspace(0, n - 1, steps).round()[::-1]
            let step = steps > 1 ? Double(n - 1) / Double(steps - 1) : 0
            return (0..<steps).map { i in Int((Double(i) * step).rounded(.toNearestOrEven)) }.reversed()
        default:
            throw .unsupported("scheduler timestep_spacing '\(config.timestepSpacing)'")
        }
    }

    /// `set_timesteps(timesteps=...)`: checks a custom list the way diffusers does.
    public func validate(customTimesteps ts: [Int]) throws(RunnerError) {
        guard let first = ts.first else { throw .badConfig("empty timestep list") }
        for i in 1..<max(1, ts.count) where ts[i] >= ts[i - 1] {
            throw .badConfig("timesteps must be strictly descending; \(ts[i]) follows \(ts[i - 1])")
        }
        guard first < config.trainTimesteps, ts.last! >= 0 else {
            throw .badConfig("timesteps must lie in 0..<\(config.trainTimesteps); got \(first)...\(ts.last!)")
        }
    }

    /// One `step`: `modelOutput` is `[batch, 2*C or C, H, W]` (the variance half only with a
    /// learned variance type), `sample` `[batch, C, H, W]`; `noise` is drawn only when `t > 0`
    /// (`noise()` is called at most once, in that case). Returns the previous sample.
    public func step(
        modelOutput: [Float], timestep t: Int, previousTimestep prevT: Int, sample: [Float], batch: Int,
        noise: () throws -> [Float]
    ) rethrows -> [Float] {
        let count = sample.count, perSample = count / batch
        let learned = (varianceType == .learned || varianceType == .learnedRange) && modelOutput.count == 2 * count
        precondition(modelOutput.count == count || learned, "model output does not match the sample")
        let outChannelsPerSample = modelOutput.count / batch
        func eps(_ i: Int) -> Float { modelOutput[(i / perSample) * outChannelsPerSample + i % perSample] }
        func predictedVariance(_ i: Int) -> Float { modelOutput[(i / perSample) * outChannelsPerSample + perSample + i % perSample] }

        let alphaProd = alphasCumprod[t]
        let alphaProdPrev: Float = prevT >= 0 ? alphasCumprod[prevT] : 1
        let betaProd = 1 - alphaProd
        let betaProdPrev = 1 - alphaProdPrev
        let currentAlpha = alphaProd / alphaProdPrev
        let currentBeta = 1 - currentAlpha

        var x0 = [Float](repeating: 0, count: count)
        switch predictionType {
        case .epsilon:
            let sb = betaProd.squareRoot(), sa = alphaProd.squareRoot()
            for i in 0..<count { x0[i] = (sample[i] - sb * eps(i)) / sa }
        case .sample:
            for i in 0..<count { x0[i] = eps(i) }
        case .vPrediction:
            let sa = alphaProd.squareRoot(), sb = betaProd.squareRoot()
            for i in 0..<count { x0[i] = sa * sample[i] - sb * eps(i) }
        }
        if config.thresholding {
            Self.dynamicThreshold(&x0, batch: batch, ratio: config.dynamicThresholdingRatio, maxValue: config.sampleMaxValue)
        } else if config.clipSample {
            let r = config.clipSampleRange
            for i in 0..<count { x0[i] = min(max(x0[i], -r), r) }
        }
        let x0Coefficient = (alphaProdPrev.squareRoot() * currentBeta) / betaProd
        let sampleCoefficient = currentAlpha.squareRoot() * betaProdPrev / betaProd
        var prev = [Float](repeating: 0, count: count)
        for i in 0..<count { prev[i] = x0Coefficient * x0[i] + sampleCoefficient * sample[i] }
        guard t > 0 else { return prev }

        let z = try noise()
        precondition(z.count == count, "variance noise does not match the sample")
        // _get_variance
        var variance = (1 - alphaProdPrev) / (1 - alphaProd) * currentBeta
        variance = max(variance, 1e-20)
        switch varianceType {
        case .learnedRange where learned:
            let minLog = logf(variance), maxLog = logf(currentBeta)
            for i in 0..<count {
                let frac = (predictedVariance(i) + 1) / 2
                let v = frac * maxLog + (1 - frac) * minLog
                prev[i] = prev[i] + expf(0.5 * v) * z[i]
            }
        case .learned where learned:
            for i in 0..<count { prev[i] = prev[i] + predictedVariance(i).squareRoot() * z[i] }
        case .fixedSmallLog:
            let s = expf(0.5 * logf(variance))
            for i in 0..<count { prev[i] = prev[i] + s * z[i] }
        case .fixedLarge:
            let s = currentBeta.squareRoot()
            for i in 0..<count { prev[i] = prev[i] + s * z[i] }
        case .fixedLargeLog:
            let s = logf(currentBeta).squareRoot()
            for i in 0..<count { prev[i] = prev[i] + s * z[i] }
        default:
            let s = variance.squareRoot()
            for i in 0..<count { prev[i] = prev[i] + s * z[i] }
        }
        return prev
    }

    /// `add_noise`: `sqrt(a[t]) * x + sqrt(1 - a[t]) * noise` per sample.
    public func addNoise(_ x: [Float], noise: [Float], timesteps: [Int]) -> [Float] {
        precondition(x.count == noise.count && x.count % timesteps.count == 0)
        let per = x.count / timesteps.count
        var out = [Float](repeating: 0, count: x.count)
        for (b, t) in timesteps.enumerated() {
            let sa = alphasCumprod[t].squareRoot(), sb = (1 - alphasCumprod[t]).squareRoot()
            for i in (b * per)..<((b + 1) * per) { out[i] = sa * x[i] + sb * noise[i] }
        }
        return out
    }

    /// `_threshold_sample`: per sample, `s = clamp(quantile(|x0|, ratio), 1, maxValue)`, then
    /// `clamp(x0, -s, s) / s`.
    static func dynamicThreshold(_ x: inout [Float], batch: Int, ratio: Float, maxValue: Float) {
        let per = x.count / batch
        for b in 0..<batch {
            let range = (b * per)..<((b + 1) * per)
            let s = min(max(quantile(x[range].map { abs($0) }, ratio), 1), maxValue)
            for i in range { x[i] = min(max(x[i], -s), s) / s }
        }
    }

    /// torch.quantile (linear interpolation) in float32: rank `q * (n - 1)`, then torch's lerp
    /// (fused multiply-add, from the lower end for weights below 0.5, from the upper end otherwise).
    /// NaN anywhere gives NaN, as in torch.
    static func quantile(_ values: [Float], _ q: Float) -> Float {
        precondition(!values.isEmpty)
        if values.contains(where: \.isNaN) { return .nan }
        let sorted = values.sorted()
        let rank = q * Float(sorted.count - 1)
        let below = Int(rank), above = Int(rank.rounded(.up))
        let weight = rank - Float(below)
        let a = sorted[below], b = sorted[min(above, sorted.count - 1)]
        let difference = b - a
        return abs(weight) < 0.5 ? a.addingProduct(weight, difference) : b.addingProduct(-(1 - weight), difference)
    }
}
