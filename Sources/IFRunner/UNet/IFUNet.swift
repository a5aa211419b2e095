import Foundation

/// IF's stage I / stage II UNet: diffusers `UNet2DConditionModel` restricted to what IF's configs use
/// (see `UNetConfig`), computed in fp32 from a `WeightStore` (safetensors snapshot or pack; weights
/// stay in their stored type and are decoded by tiles inside each GEMM).
///
/// Forward, as diffusers orders it:
///   emb = time_embedding(sinusoid(t)) [+ class_embedding(sinusoid(noise_level))] [+ add_embedding(text)]
///   emb = time_embed_act(emb);  text = encoder_hid_proj(text)
///   conv_in -> down blocks (skips pushed) -> mid block -> up blocks (skips popped, `cat([h, skip])`)
///   -> conv_norm_out -> act -> conv_out
public final class IFUNet: @unchecked Sendable {
    // SAFETY: weights are immutable; the buffer pool makes forwards on one instance sequential
    // (callers run one forward at a time per model).
    public let config: UNetConfig

    struct DownLevel {
        let resnets: [ResnetBlock]
        let attentions: [AddedKVAttention]
        let downsampler: ResnetBlock?
    }

    struct UpLevel {
        let resnets: [ResnetBlock]
        let attentions: [AddedKVAttention]
        let upsampler: ResnetBlock?
    }

    let timeEmbedding: TimestepMLP
    let classEmbedding: TimestepMLP?
    let addEmbedding: TextTimeEmbedding?
    let encoderHidProjection: LinearWeight?
    let convIn: LinearWeight
    let down: [DownLevel]
    let midResnets: [ResnetBlock]
    let midAttentions: [AddedKVAttention]
    let up: [UpLevel]
    let convNormOutWeight: [Float], convNormOutBias: [Float]
    let convOut: LinearWeight
    let pool = BufferPool()

    /// Width of the text states the UNet takes (`encoder_hid_dim`, else `cross_attention_dim`).
    public var textWidth: Int { config.encoderHidDim ?? config.crossAttentionDim }

    public init(config: UNetConfig, weights store: any WeightStore) throws {
        self.config = config
        let c = config, boc = c.blockOutChannels, levels = c.levelCount, ted = c.timeEmbedDim
        timeEmbedding = try TimestepMLP(store: store, name: "time_embedding", inFeatures: boc[0], outFeatures: ted, activation: c.activation)
        classEmbedding = c.classEmbedTimestep
            ? try TimestepMLP(store: store, name: "class_embedding", inFeatures: boc[0], outFeatures: ted, activation: c.activation)
            : nil
        addEmbedding = c.textAdditionEmbedding
            ? try TextTimeEmbedding(store: store, name: "add_embedding", width: c.encoderHidDim ?? c.crossAttentionDim,
                                    timeEmbedDim: ted, heads: c.additionEmbedHeads)
            : nil
        encoderHidProjection = try c.encoderHidDim.map { width in
            try store.linear(weight: "encoder_hid_proj.weight", bias: "encoder_hid_proj.bias",
                             outFeatures: c.crossAttentionDim, inFeatures: width)
        }
        convIn = try convolution(store, "conv_in", inChannels: c.inChannels, outChannels: boc[0], kernel: 3)

        var downLevels: [DownLevel] = []
        var outputChannel = boc[0]
        for level in 0..<levels {
            let inputChannel = outputChannel
            outputChannel = boc[level]
            let prefix = "down_blocks.\(level)"
            var resnets: [ResnetBlock] = [], attentions: [AddedKVAttention] = []
            for j in 0..<c.layersPerBlock[level] {
                resnets.append(try ResnetBlock(store: store, name: "\(prefix).resnets.\(j)", inChannels: j == 0 ? inputChannel : outputChannel,
                                               outChannels: outputChannel, timeEmbedDim: ted, resample: .none, config: c,
                                               outputScaleFactor: c.resnetOutScaleFactor))
                if c.downBlocks[level] == .simpleCrossAttention {
                    attentions.append(try AddedKVAttention(store: store, name: "\(prefix).attentions.\(j)", channels: outputChannel,
                                                           headDim: c.attentionHeadDim[level],
                                                           onlyCrossAttention: c.onlyCrossAttention[level], config: c))
                }
            }
            let downsampler = level == levels - 1 ? nil
                : try ResnetBlock(store: store, name: "\(prefix).downsamplers.0", inChannels: outputChannel, outChannels: outputChannel,
                                  timeEmbedDim: ted, resample: .down, config: c, outputScaleFactor: c.resnetOutScaleFactor)
            downLevels.append(DownLevel(resnets: resnets, attentions: attentions, downsampler: downsampler))
        }
        down = downLevels

        let midChannels = boc[levels - 1]
        if c.hasMidBlock {
            midResnets = try (0..<2).map { j in
                try ResnetBlock(store: store, name: "mid_block.resnets.\(j)", inChannels: midChannels, outChannels: midChannels,
                                timeEmbedDim: ted, resample: .none, config: c, outputScaleFactor: c.midBlockScaleFactor)
            }
            midAttentions = [try AddedKVAttention(store: store, name: "mid_block.attentions.0", channels: midChannels,
                                                  headDim: c.attentionHeadDim[levels - 1],
                                                  onlyCrossAttention: c.midBlockOnlyCrossAttention, config: c)]
        } else {
            midResnets = []
            midAttentions = []
        }

        let reversed = Array(boc.reversed()), reversedLayers = Array(c.layersPerBlock.reversed())
        let reversedOnlyCross = Array(c.onlyCrossAttention.reversed())
        var upLevels: [UpLevel] = []
        outputChannel = reversed[0]
        for i in 0..<levels {
            let previousOutput = outputChannel
            outputChannel = reversed[i]
            let inputChannel = reversed[min(i + 1, levels - 1)]
            let layers = reversedLayers[i] + 1
            let prefix = "up_blocks.\(i)"
            var resnets: [ResnetBlock] = [], attentions: [AddedKVAttention] = []
            for j in 0..<layers {
                let skip = j == layers - 1 ? inputChannel : outputChannel
                let resnetIn = j == 0 ? previousOutput : outputChannel
                resnets.append(try ResnetBlock(store: store, name: "\(prefix).resnets.\(j)", inChannels: resnetIn + skip,
                                               outChannels: outputChannel, timeEmbedDim: ted, resample: .none, config: c,
                                               outputScaleFactor: c.resnetOutScaleFactor))
                if c.upBlocks[i] == .simpleCrossAttention {
                    // diffusers indexes attention_head_dim by i here (not reversed), only_cross_attention reversed.
                    attentions.append(try AddedKVAttention(store: store, name: "\(prefix).attentions.\(j)", channels: outputChannel,
                                                           headDim: c.attentionHeadDim[i],
                                                           onlyCrossAttention: reversedOnlyCross[i], config: c))
                }
            }
            let upsampler = i == levels - 1 ? nil
                : try ResnetBlock(store: store, name: "\(prefix).upsamplers.0", inChannels: outputChannel, outChannels: outputChannel,
                                  timeEmbedDim: ted, resample: .up, config: c, outputScaleFactor: c.resnetOutScaleFactor)
            upLevels.append(UpLevel(resnets: resnets, attentions: attentions, upsampler: upsampler))
        }
        up = upLevels
        convNormOutWeight = try parameter(store, "conv_norm_out.weight", count: boc[0])
        convNormOutBias = try parameter(store, "conv_norm_out.bias", count: boc[0])
        convOut = try convolution(store, "conv_out", inChannels: boc[0], outChannels: c.outChannels, kernel: 3)
    }

    /// Bytes of activation buffers the model held at peak so far.
    public var peakActivationBytes: Int { pool.peakAllocatedFloats * MemoryLayout<Float>.size }

    /// Frees the idle activation buffers (they are kept between forwards of a sampling loop).
    public func releaseBuffers() { pool.trim() }

    /// One forward. `sample` is `[batch, in_channels, height, width]`, `timesteps` and `classLabels`
    /// one value per sample, `encoderHiddenStates` `[batch, sequenceLength, textWidth]`. Returns
    /// `[batch, out_channels, height, width]`.
    public func forward(
        sample: [Float], batch: Int, height: Int, width: Int, timesteps: [Float],
        encoderHiddenStates: [Float], sequenceLength: Int, classLabels: [Float]? = nil,
        observer: ActivationObserver? = nil
    ) throws -> [Float] {
        let c = config, boc = c.blockOutChannels
        try validate(sampleCount: sample.count, batch: batch, height: height, width: width, timesteps: timesteps,
                     textCount: encoderHiddenStates.count, sequenceLength: sequenceLength, classLabels: classLabels)
        func record(_ name: String, _ shape: [Int], _ values: [Float]) {
            if let observer, observer.wants(name) { observer.record(name: name, shape: shape, values: values) }
        }
        // Time embedding (+ class, + pooled text), then the optional activation.
        let sinusoid = UNetOps.timestepEmbedding(timesteps, dimension: boc[0], flipSinToCos: c.flipSinToCos, downscaleFreqShift: c.freqShift)
        record("time_proj", [batch, boc[0]], sinusoid)
        var emb = timeEmbedding(sinusoid, rows: batch)
        record("time_embedding", [batch, c.timeEmbedDim], emb)
        if let classEmbedding, let classLabels {
            let classSinusoid = UNetOps.timestepEmbedding(classLabels, dimension: boc[0], flipSinToCos: c.flipSinToCos, downscaleFreqShift: c.freqShift)
            let classEmb = classEmbedding(classSinusoid, rows: batch)
            record("class_embedding", [batch, c.timeEmbedDim], classEmb)
            for i in emb.indices { emb[i] = emb[i] + classEmb[i] }
        }
        if let addEmbedding {
            let aug = addEmbedding(encoderHiddenStates, batch: batch, length: sequenceLength)
            record("add_embedding", [batch, c.timeEmbedDim], aug)
            for i in emb.indices { emb[i] = emb[i] + aug[i] }
        }
        if let act = c.timeEmbeddingActivation {
            emb.withUnsafeMutableBufferPointer { UNetOps.activate($0.baseAddress!, count: $0.count, act) }
            record("time_embed_act", [batch, c.timeEmbedDim], emb)
        }
        var activatedEmb = emb
        activatedEmb.withUnsafeMutableBufferPointer { UNetOps.activate($0.baseAddress!, count: $0.count, c.activation) }
        let text = encoderHidProjection.map { $0.apply(encoderHiddenStates, rows: batch * sequenceLength) } ?? encoderHiddenStates
        if encoderHidProjection != nil { record("encoder_hid_proj", [batch, sequenceLength, c.crossAttentionDim], text) }

        let ctx = ForwardContext(pool: pool, batch: batch, timeEmbedding: emb, activatedTimeEmbedding: activatedEmb,
                                 encoderStates: text, sequenceLength: sequenceLength, observer: observer)

        // conv_in (input to channels-last first)
        let input = FeatureMap(pool: pool, batch: batch, height: height, width: width, channels: c.inChannels)
        sample.withUnsafeBufferPointer {
            UNetOps.channelsFirstToChannelsLast($0.baseAddress!, batch: batch, channels: c.inChannels, pixels: height * width, output: input.base)
        }
        var h = FeatureMap(pool: pool, batch: batch, height: height, width: width, channels: boc[0])
        UNetOps.conv2d(input.base, batch: batch, height: height, width: width, channels: c.inChannels,
                       weight: convIn, kernel: 3, pool: pool, output: h.base)
        input.release(to: pool)
        ctx.observe("conv_in", h)

        // Down path: every block output also goes onto the skip stack (so it is not released here).
        var skips: [FeatureMap] = [h]
        for (level, block) in down.enumerated() {
            for (j, resnet) in block.resnets.enumerated() {
                let r = resnet.forward(h, ctx)
                if j < block.attentions.count {
                    h = block.attentions[j].forward(r, ctx)
                    r.release(to: pool)
                } else {
                    h = r
                }
                skips.append(h)
            }
            if let downsampler = block.downsampler {
                h = downsampler.forward(h, ctx)
                skips.append(h)
            }
            ctx.observe("down_blocks.\(level)", h)
        }

        // Mid block: resnets.0, then (attention, resnet) pairs.
        if !midResnets.isEmpty {
            var m = midResnets[0].forward(h, ctx)
            for (attention, resnet) in zip(midAttentions, midResnets.dropFirst()) {
                let a = attention.forward(m, ctx)
                m.release(to: pool)
                m = resnet.forward(a, ctx)
                a.release(to: pool)
            }
            h = m
            ctx.observe("mid_block", h)
        } else {
            // h is still the last skip; give the up path its own copy to own.
            let copy = FeatureMap(pool: pool, batch: h.batch, height: h.height, width: h.width, channels: h.channels)
            copy.base.update(from: h.base, count: h.count)
            h = copy
        }

        // Up path: pop a skip per resnet, cat([h, skip], channels).
        for (level, block) in up.enumerated() {
            for (j, resnet) in block.resnets.enumerated() {
                let skip = skips.removeLast()
                let joined = concatenateChannels(h, skip)
                h.release(to: pool)
                skip.release(to: pool)
                let r = resnet.forward(joined, ctx)
                joined.release(to: pool)
                if j < block.attentions.count {
                    h = block.attentions[j].forward(r, ctx)
                    r.release(to: pool)
                } else {
                    h = r
                }
            }
            if let upsampler = block.upsampler {
                let u = upsampler.forward(h, ctx)
                h.release(to: pool)
                h = u
            }
            ctx.observe("up_blocks.\(level)", h)
        }
        precondition(skips.isEmpty, "skip stack not consumed")

        // conv_norm_out -> act -> conv_out
        UNetOps.groupNorm(h.base, batch: batch, pixels: h.pixels, channels: boc[0], groups: c.normGroups,
                          weight: convNormOutWeight, bias: convNormOutBias, epsilon: c.normEpsilon, output: h.base)
        ctx.observe("conv_norm_out", h)
        UNetOps.activate(h.base, count: h.count, c.activation)
        ctx.observe("conv_act", h)
        let out = FeatureMap(pool: pool, batch: batch, height: height, width: width, channels: c.outChannels)
        UNetOps.conv2d(h.base, batch: batch, height: height, width: width, channels: boc[0],
                       weight: convOut, kernel: 3, pool: pool, output: out.base)
        h.release(to: pool)
        ctx.observe("conv_out", out)
        let result = out.nchw()
        out.release(to: pool)
        return result
    }

    private func concatenateChannels(_ a: FeatureMap, _ b: FeatureMap) -> FeatureMap {
        precondition(a.batch == b.batch && a.height == b.height && a.width == b.width)
        let out = FeatureMap(pool: pool, batch: a.batch, height: a.height, width: a.width, channels: a.channels + b.channels)
        let ca = a.channels, cb = b.channels, co = out.channels
        for r in 0..<a.rows {
            (out.base + r * co).update(from: a.base + r * ca, count: ca)
            (out.base + r * co + ca).update(from: b.base + r * cb, count: cb)
        }
        return out
    }

    private func validate(
        sampleCount: Int, batch: Int, height: Int, width: Int, timesteps: [Float], textCount: Int,
        sequenceLength: Int, classLabels: [Float]?
    ) throws {
        let c = config
        guard batch > 0, height > 0, width > 0, sequenceLength > 0 else {
            throw RunnerError.badConfig("UNet input: batch \(batch), size \(height)x\(width), text length \(sequenceLength) must be positive")
        }
        let factor = 1 << (c.levelCount - 1)
        guard height % factor == 0, width % factor == 0 else {
            throw RunnerError.unsupported("UNet input \(height)x\(width): both sides must be multiples of \(factor) (\(c.levelCount) levels)")
        }
        guard sampleCount == batch * c.inChannels * height * width else {
            throw RunnerError.badConfig("UNet sample has \(sampleCount) values, expected [\(batch), \(c.inChannels), \(height), \(width)]")
        }
        guard timesteps.count == batch else {
            throw RunnerError.badConfig("UNet got \(timesteps.count) timesteps for batch \(batch)")
        }
        guard textCount == batch * sequenceLength * textWidth else {
            throw RunnerError.badConfig("UNet text states have \(textCount) values, expected [\(batch), \(sequenceLength), \(textWidth)]")
        }
        if c.classEmbedTimestep {
            guard let classLabels, classLabels.count == batch else {
                throw RunnerError.badConfig("this UNet (class_embed_type 'timestep') needs one class label (noise level) per sample")
            }
        }
    }
}
