/// State shared by the layers of one forward: the buffer pool, the batch's time embedding
/// (plain and activated, both `[batch, timeEmbedDim]`) and the projected text states.
struct ForwardContext {
    let pool: BufferPool
    let batch: Int
    /// `emb` after `time_embed_act` (what the blocks receive).
    let timeEmbedding: [Float]
    /// `act(emb)`, computed once for the resnets that apply the activation before `time_emb_proj`.
    let activatedTimeEmbedding: [Float]
    /// Text states after `encoder_hid_proj`, `[batch, sequenceLength, crossAttentionDim]`.
    let encoderStates: [Float]
    let sequenceLength: Int
    let observer: ActivationObserver?

    func observe(_ name: String, _ map: FeatureMap) {
        guard let observer, observer.wants(name) else { return }
        observer.record(name: name, shape: map.shapeNCHW, values: map.nchw())
    }
}

/// Receives intermediate activations by diffusers module path (`down_blocks.1`, `mid_block`, ...),
/// in PyTorch layout. `wants` is asked first so unneeded copies are skipped.
public protocol ActivationObserver: AnyObject {
    func wants(_ name: String) -> Bool
    func record(name: String, shape: [Int], values: [Float])
}

/// Loads a 1-D parameter and checks its length.
func parameter(_ store: any WeightStore, _ name: String, count: Int) throws -> [Float] {
    try store.floats(named: name, count: count)
}

/// A convolution's weight as a `LinearWeight` `[out, in*k*k]`, its kernel size checked from the shape.
func convolution(
    _ store: any WeightStore, _ prefix: String, inChannels: Int, outChannels: Int, kernel: Int
) throws -> LinearWeight {
    let name = prefix + ".weight"
    let info = try store.info(named: name)
    guard info.shape == [outChannels, inChannels, kernel, kernel] else {
        throw RunnerError.badTensor(name: name, message: "shape \(info.shape), expected [\(outChannels), \(inChannels), \(kernel), \(kernel)]")
    }
    return try store.linear(weight: name, bias: prefix + ".bias", outFeatures: outChannels, inFeatures: inChannels * kernel * kernel)
}

/// diffusers `ResnetBlock2D` as IF configures it: GroupNorm -> act -> [nearest x2 | avg-pool /2 on
/// both paths] -> conv3x3 -> GroupNorm -> `h * (1 + scale) + shift` (scale_shift time conditioning)
/// -> act -> conv3x3 -> `(shortcut(x) + h) / output_scale_factor`.
struct ResnetBlock {
    enum Resample { case none, up, down }

    let name: String
    let inChannels: Int
    let outChannels: Int
    let norm1Weight: [Float], norm1Bias: [Float]
    let conv1: LinearWeight
    let timeProjection: LinearWeight
    let norm2Weight: [Float], norm2Bias: [Float]
    let conv2: LinearWeight
    let shortcut: LinearWeight?
    let resample: Resample
    let groups: Int
    let epsilon: Float
    let activation: UNetConfig.Activation
    let skipTimeActivation: Bool
    let outputScaleFactor: Float

    init(
        store: any WeightStore, name: String, inChannels: Int, outChannels: Int, timeEmbedDim: Int,
        resample: Resample, config: UNetConfig, outputScaleFactor: Float
    ) throws {
        self.name = name
        self.inChannels = inChannels
        self.outChannels = outChannels
        norm1Weight = try parameter(store, name + ".norm1.weight", count: inChannels)
        norm1Bias = try parameter(store, name + ".norm1.bias", count: inChannels)
        conv1 = try convolution(store, name + ".conv1", inChannels: inChannels, outChannels: outChannels, kernel: 3)
        timeProjection = try store.linear(weight: name + ".time_emb_proj.weight", bias: name + ".time_emb_proj.bias",
                                          outFeatures: 2 * outChannels, inFeatures: timeEmbedDim)
        norm2Weight = try parameter(store, name + ".norm2.weight", count: outChannels)
        norm2Bias = try parameter(store, name + ".norm2.bias", count: outChannels)
        conv2 = try convolution(store, name + ".conv2", inChannels: outChannels, outChannels: outChannels, kernel: 3)
        shortcut = inChannels != outChannels
            ? try convolution(store, name + ".conv_shortcut", inChannels: inChannels, outChannels: outChannels, kernel: 1)
            : nil
        self.resample = resample
        groups = config.normGroups
        epsilon = config.normEpsilon
        activation = config.activation
        skipTimeActivation = config.resnetSkipTimeAct
        self.outputScaleFactor = outputScaleFactor
        guard inChannels % groups == 0, outChannels % groups == 0 else {
            throw RunnerError.badConfig("\(name): channels \(inChannels)/\(outChannels) not divisible by \(groups) groups")
        }
    }

    /// Returns the block's output in a new map; `input` stays the caller's.
    func forward(_ input: FeatureMap, _ ctx: ForwardContext) -> FeatureMap {
        let pool = ctx.pool, batch = input.batch
        precondition(input.channels == inChannels)
        // h = act(norm1(x))
        var h = FeatureMap(pool: pool, batch: batch, height: input.height, width: input.width, channels: inChannels)
        UNetOps.groupNorm(input.base, batch: batch, pixels: input.pixels, channels: inChannels, groups: groups,
                          weight: norm1Weight, bias: norm1Bias, epsilon: epsilon, output: h.base)
        UNetOps.activate(h.base, count: h.count, activation)
        var x = input
        var ownsX = false
        switch resample {
        case .none:
            break
        case .up, .down:
            let oh = resample == .up ? input.height * 2 : input.height / 2
            let ow = resample == .up ? input.width * 2 : input.width / 2
            let rx = FeatureMap(pool: pool, batch: batch, height: oh, width: ow, channels: inChannels)
            let rh = FeatureMap(pool: pool, batch: batch, height: oh, width: ow, channels: inChannels)
            if resample == .up {
                UNetOps.upsampleNearest2x(x.base, batch: batch, height: x.height, width: x.width, channels: inChannels, output: rx.base)
                UNetOps.upsampleNearest2x(h.base, batch: batch, height: h.height, width: h.width, channels: inChannels, output: rh.base)
            } else {
                UNetOps.averagePool2x(x.base, batch: batch, height: x.height, width: x.width, channels: inChannels, output: rx.base)
                UNetOps.averagePool2x(h.base, batch: batch, height: h.height, width: h.width, channels: inChannels, output: rh.base)
            }
            h.release(to: pool)
            x = rx; h = rh; ownsX = true
        }
        // h = conv1(h)
        let c1 = FeatureMap(pool: pool, batch: batch, height: h.height, width: h.width, channels: outChannels)
        UNetOps.conv2d(h.base, batch: batch, height: h.height, width: h.width, channels: inChannels,
                       weight: conv1, kernel: 3, pool: pool, output: c1.base)
        h.release(to: pool)
        // temb = time_emb_proj(act(emb)) -> [batch, 2 * out]: scale = first half, shift = second.
        let temb = timeProjection.apply(skipTimeActivation ? ctx.timeEmbedding : ctx.activatedTimeEmbedding, rows: batch)
        // h = norm2(h) * (1 + scale) + shift, then act
        UNetOps.groupNorm(c1.base, batch: batch, pixels: c1.pixels, channels: outChannels, groups: groups,
                          weight: norm2Weight, bias: norm2Bias, epsilon: epsilon, output: c1.base)
        let n = outChannels, pixels = c1.pixels
        for b in 0..<batch {
            let onePlusScale = (0..<n).map { 1 + temb[b * 2 * n + $0] }
            let shift = Array(temb[(b * 2 * n + n)..<(b * 2 * n + 2 * n)])
            onePlusScale.withUnsafeBufferPointer { sc in
                shift.withUnsafeBufferPointer { sh in
                    let base = c1.base + b * pixels * n
                    for p in 0..<pixels {
                        let row = base + p * n
                        for c in 0..<n { row[c] = row[c] * sc[c] + sh[c] }
                    }
                }
            }
        }
        UNetOps.activate(c1.base, count: c1.count, activation)
        // h = conv2(h)
        let out = FeatureMap(pool: pool, batch: batch, height: c1.height, width: c1.width, channels: outChannels)
        UNetOps.conv2d(c1.base, batch: batch, height: c1.height, width: c1.width, channels: outChannels,
                       weight: conv2, kernel: 3, pool: pool, output: out.base)
        c1.release(to: pool)
        // out = (shortcut(x) + h) / output_scale_factor
        var residual = x
        var ownsResidual = ownsX
        if let shortcut {
            let s = FeatureMap(pool: pool, batch: batch, height: x.height, width: x.width, channels: outChannels)
            UNetOps.conv2d(x.base, batch: batch, height: x.height, width: x.width, channels: inChannels,
                           weight: shortcut, kernel: 1, pool: pool, output: s.base)
            if ownsX { x.release(to: pool) }
            residual = s
            ownsResidual = true
        }
        let factor = outputScaleFactor, o = out.base, r = residual.base
        UNetOps.parallelChunks(out.count) { range in
            if factor == 1 {
                for i in range { o[i] = r[i] + o[i] }
            } else {
                for i in range { o[i] = (r[i] + o[i]) / factor }
            }
        }
        if ownsResidual { residual.release(to: pool) }
        ctx.observe(name, out)
        return out
    }
}
