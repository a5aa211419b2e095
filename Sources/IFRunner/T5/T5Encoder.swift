#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import IFCore

/// transformers' `T5EncoderModel` forward in fp32, as `modeling_t5.py` (transformers 5.24) computes it:
/// embedding lookup without scaling; per block `h += o(attn(RMSNorm(h)))` with scores `q k^T` (no
/// 1/sqrt(d)), plus the bucketed bidirectional relative position bias of block 0 (shared by all
/// blocks) and the additive mask (float32 min at masked keys, as the SDPA/eager paths add); then
/// `h += wo(act(wi_0 x) * wi_1 x)` with `x = RMSNorm(h)`; final RMSNorm. Dropout is inference-off.
/// Weights stay in their store (memory-mapped); only activations are fp32 in memory.
public final class T5Encoder: Sendable {
    public let config: T5Config
    let embedding: LinearWeight
    let positionBiasTable: [Float]  // [buckets, heads]
    let blocks: [Block]
    let finalNorm: [Float]

    struct Block: Sendable {
        let attentionNorm: [Float]
        let q: LinearWeight, k: LinearWeight, v: LinearWeight, o: LinearWeight
        let feedForwardNorm: [Float]
        let wi0: LinearWeight
        let wi1: LinearWeight?
        let wo: LinearWeight
    }

    /// Loads (maps) every weight the encoder needs. `config` defaults to one inferred from shapes.
    /// The text encoder of a pack, snapshot or component folder, with its config when it has one.
    static func load(model: StageModel) throws -> (encoder: T5Encoder, weights: any WeightStore) {
        let weights = try model.weights(for: .textEncoder)
        let config = try model.configJSON(for: .textEncoder).map { try T5Config(configJSON: $0) }
        return (try T5Encoder(weights: weights, config: config), weights)
    }

    public init(weights: any WeightStore, config: T5Config? = nil) throws {
        let config = try config ?? T5Config.inferred(from: weights)
        let inferred = try T5Config.inferred(from: weights, base: config)
        guard inferred == config else {
            throw RunnerError.badConfig("config \(config) disagrees with the weight shapes, which imply \(inferred)")
        }
        guard ["gelu_new", "gelu", "relu"].contains(config.denseActivation) else {
            throw RunnerError.unsupported("T5 dense activation '\(config.denseActivation)' (supported: gelu_new, gelu, relu)")
        }
        self.config = config
        let d = config.dModel, inner = config.numHeads * config.dKV, ff = config.dFF
        embedding = try weights.linear(weight: T5Names.embedding(in: weights), bias: nil, outFeatures: config.vocabSize, inFeatures: d)
        positionBiasTable = try weights.floats(named: T5Names.relativeAttentionBias,
                                               count: config.relativeAttentionNumBuckets * config.numHeads)
        var blocks: [Block] = []
        for i in 0..<config.numLayers {
            blocks.append(Block(
                attentionNorm: try weights.floats(named: T5Names.attentionNorm(i), count: d),
                q: try weights.linear(weight: T5Names.attention(i, "q"), outFeatures: inner, inFeatures: d),
                k: try weights.linear(weight: T5Names.attention(i, "k"), outFeatures: inner, inFeatures: d),
                v: try weights.linear(weight: T5Names.attention(i, "v"), outFeatures: inner, inFeatures: d),
                o: try weights.linear(weight: T5Names.attention(i, "o"), outFeatures: d, inFeatures: inner),
                feedForwardNorm: try weights.floats(named: T5Names.feedForwardNorm(i), count: d),
                wi0: try weights.linear(weight: T5Names.feedForward(i, config.isGated ? "wi_0" : "wi"), outFeatures: ff, inFeatures: d),
                wi1: config.isGated ? try weights.linear(weight: T5Names.feedForward(i, "wi_1"), outFeatures: ff, inFeatures: d) : nil,
                wo: try weights.linear(weight: T5Names.feedForward(i, "wo"), outFeatures: d, inFeatures: ff)))
        }
        self.blocks = blocks
        finalNorm = try weights.floats(named: T5Names.finalLayerNorm, count: d)
    }

    /// Faults every weight page in now (part of loading), so `encode` times computation only.
    public func prefetchWeights() {
        embedding.decoder.prefault()
        for block in blocks {
            for linear in [block.q, block.k, block.v, block.o, block.wi0, block.wo] + (block.wi1.map { [$0] } ?? []) {
                linear.decoder.prefault()
            }
        }
    }

    /// Largest |value| seen in one block, for the fp16-range audit (fp16 overflows past 65504).
    public struct RangeRecord: Sendable, Equatable {
        public let module: String
        /// max |h| after the attention residual add.
        public let afterAttention: Float
        /// max |act(wi_0 x) * wi_1 x|, the input of `wo`.
        public let feedForwardInner: Float
        /// max |h| after the feed-forward residual add (the block output).
        public let blockOutput: Float
        public var maximum: Float { max(afterAttention, feedForwardInner, blockOutput) }
        public var overflowsHalf: Bool { maximum > Float(Float16.greatestFiniteMagnitude) }
    }

    public struct Output: Sendable {
        public let batch: Int
        public let length: Int
        /// `last_hidden_state`, [batch, length, d_model].
        public let lastHiddenState: [Float]
        /// Module outputs by transformers module path ("encoder.embed_tokens", "encoder.block.3",
        /// "encoder.final_layer_norm"), when requested.
        public let activations: [String: [Float]]
        public let ranges: [RangeRecord]
    }

    /// Runs the encoder on `batch x length` ids with a 0/1 attention mask of the same shape.
    public func encode(inputIDs: [Int], attentionMask: [Int], batch: Int, length: Int,
                       captureActivations: Bool = false) throws -> Output {
        guard batch > 0, length > 0, inputIDs.count == batch * length, attentionMask.count == batch * length else {
            throw RunnerError.badTensor(name: "input_ids", message: "expected \(batch) x \(length) ids and mask values, got \(inputIDs.count) ids and \(attentionMask.count) mask values")
        }
        if let bad = inputIDs.first(where: { $0 < 0 || $0 >= config.vocabSize }) {
            throw RunnerError.badTensor(name: "input_ids", message: "id \(bad) outside the vocabulary [0, \(config.vocabSize))")
        }
        let d = config.dModel, rows = batch * length, inner = config.numHeads * config.dKV
        var activations: [String: [Float]] = [:]
        var ranges: [RangeRecord] = []

        // Embedding: one row decoded per token (works for every stored type).
        var hidden = [Float](repeating: 0, count: rows * d)
        hidden.withUnsafeMutableBufferPointer { h in
            for (r, id) in inputIDs.enumerated() { embedding.decoder.decodeRows(id..<(id + 1), into: h.baseAddress! + r * d) }
        }
        if captureActivations { activations["encoder.embed_tokens"] = hidden }

        let bias = positionBias(length: length)  // [heads, length, length]
        var normed = [Float](repeating: 0, count: rows * d)
        var q = [Float](repeating: 0, count: rows * inner), k = q, v = q, context = q
        var projected = [Float](repeating: 0, count: rows * d)
        var gate = [Float](repeating: 0, count: rows * config.dFF)
        var linear = gate
        for (index, block) in blocks.enumerated() {
            // Self-attention sub-layer.
            Kernels.rmsNorm(hidden, rows: rows, columns: d, weight: block.attentionNorm, epsilon: config.layerNormEpsilon, output: &normed)
            normed.withUnsafeBufferPointer { x in
                q.withUnsafeMutableBufferPointer { block.q.apply(x.baseAddress!, rows: rows, output: $0.baseAddress!) }
                k.withUnsafeMutableBufferPointer { block.k.apply(x.baseAddress!, rows: rows, output: $0.baseAddress!) }
                v.withUnsafeMutableBufferPointer { block.v.apply(x.baseAddress!, rows: rows, output: $0.baseAddress!) }
            }
            attention(q: q, k: k, v: v, bias: bias, mask: attentionMask, batch: batch, length: length, into: &context)
            context.withUnsafeBufferPointer { c in
                projected.withUnsafeMutableBufferPointer { block.o.apply(c.baseAddress!, rows: rows, output: $0.baseAddress!) }
            }
            let afterAttention = Self.addInPlace(&hidden, projected)

            // Feed-forward sub-layer.
            Kernels.rmsNorm(hidden, rows: rows, columns: d, weight: block.feedForwardNorm, epsilon: config.layerNormEpsilon, output: &normed)
            normed.withUnsafeBufferPointer { x in
                gate.withUnsafeMutableBufferPointer { block.wi0.apply(x.baseAddress!, rows: rows, output: $0.baseAddress!) }
                if let wi1 = block.wi1 {
                    linear.withUnsafeMutableBufferPointer { wi1.apply(x.baseAddress!, rows: rows, output: $0.baseAddress!) }
                }
            }
            let innerMaximum = activate(&gate, gatedBy: block.wi1 == nil ? nil : linear)
            gate.withUnsafeBufferPointer { g in
                projected.withUnsafeMutableBufferPointer { block.wo.apply(g.baseAddress!, rows: rows, output: $0.baseAddress!) }
            }
            let blockOutput = Self.addInPlace(&hidden, projected)
            let name = "encoder.block.\(index)"
            ranges.append(RangeRecord(module: name, afterAttention: afterAttention, feedForwardInner: innerMaximum, blockOutput: blockOutput))
            if captureActivations { activations[name] = hidden }
        }
        Kernels.rmsNorm(hidden, rows: rows, columns: d, weight: finalNorm, epsilon: config.layerNormEpsilon, output: &normed)
        if captureActivations { activations["encoder.final_layer_norm"] = normed }
        return Output(batch: batch, length: length, lastHiddenState: normed, activations: activations, ranges: ranges)
    }

    // MARK: - Pieces

    /// transformers' `_relative_position_bucket(memory - query, bidirectional=True)`, with the large
    /// branch computed in Float32 exactly as torch does (float log, then truncation toward zero).
    public static func relativePositionBucket(_ relativePosition: Int, numBuckets: Int, maxDistance: Int) -> Int {
        let half = numBuckets / 2
        var bucket = relativePosition > 0 ? half : 0
        let distance = abs(relativePosition)
        let maxExact = half / 2
        if distance < maxExact { return bucket + distance }
        let ratio = Float(distance) / Float(maxExact)
        let scaled = logf(ratio) / Float(log(Double(maxDistance) / Double(maxExact))) * Float(half - maxExact)
        bucket += min(maxExact + Int(scaled), half - 1)
        return bucket
    }

    /// `compute_bias(length, length)`: [heads, length, length].
    func positionBias(length: Int) -> [Float] {
        let heads = config.numHeads
        var result = [Float](repeating: 0, count: heads * length * length)
        for i in 0..<length {
            for j in 0..<length {
                let bucket = Self.relativePositionBucket(j - i, numBuckets: config.relativeAttentionNumBuckets,
                                                         maxDistance: config.relativeAttentionMaxDistance)
                for h in 0..<heads { result[(h * length + i) * length + j] = positionBiasTable[bucket * heads + h] }
            }
        }
        return result
    }

    /// Per batch element and head: softmax(q k^T + bias + mask) v, written head-major into `context`
    /// ([rows, heads * d_kv], as transformers' transpose + reshape leaves it).
    func attention(q: [Float], k: [Float], v: [Float], bias: [Float], mask: [Int], batch: Int, length: Int,
                   into context: inout [Float]) {
        let heads = config.numHeads, dkv = config.dKV, stride = heads * dkv
        // transformers adds torch.finfo(float32).min at masked keys (not -inf), so a row whose keys are
        // all masked stays finite (uniform), as in transformers.
        let masked = -Float.greatestFiniteMagnitude
        q.withUnsafeBufferPointer { qp in
            k.withUnsafeBufferPointer { kp in
                v.withUnsafeBufferPointer { vp in
                    context.withUnsafeMutableBufferPointer { cp in
                        let out = UncheckedSendable(cp.baseAddress!)
                        Parallel.forEach(batch * heads) { pair in
                            let b = pair / heads, h = pair % heads
                            var scores = [Float](repeating: 0, count: length * length)
                            let offset = b * length * stride + h * dkv
                            scores.withUnsafeMutableBufferPointer { s in
                                Kernels.sgemm(transposeA: false, transposeB: true, m: length, n: length, k: dkv,
                                              a: qp.baseAddress! + offset, lda: stride, b: kp.baseAddress! + offset, ldb: stride,
                                              c: s.baseAddress!, ldc: length)
                                for i in 0..<length {
                                    for j in 0..<length {
                                        var value = s[i * length + j] + bias[(h * length + i) * length + j]
                                        if mask[b * length + j] == 0 { value += masked }
                                        s[i * length + j] = value
                                    }
                                }
                                Kernels.softmaxRows(s.baseAddress!, rows: length, columns: length)
                                Kernels.sgemm(transposeA: false, transposeB: false, m: length, n: dkv, k: length,
                                              a: s.baseAddress!, lda: length, b: vp.baseAddress! + offset, ldb: stride,
                                              c: out.value + offset, ldc: stride)
                            }
                        }
                    }
                }
            }
        }
    }

    /// `gate = act(gate) * linear` (or `act(gate)` ungated), in place; returns max |result|.
    func activate(_ gate: inout [Float], gatedBy linear: [Float]?) -> Float {
        let activation = config.denseActivation
        let count = gate.count
        var maxima = [Float](repeating: 0, count: 2)
        gate.withUnsafeMutableBufferPointer { g in
            let gp = UncheckedSendable(g.baseAddress!)
            maxima.withUnsafeMutableBufferPointer { m in
                let mp = UncheckedSendable(m.baseAddress!)
                Parallel.forEachRange(count, chunks: 2) { range in
                    let chunk = UnsafeMutableBufferPointer(start: gp.value + range.lowerBound, count: range.count)
                    switch activation {
                    case "gelu_new": Kernels.geluTanh(chunk)
                    case "gelu": Kernels.geluExact(chunk)
                    default: for i in chunk.indices { chunk[i] = max(0, chunk[i]) }
                    }
                    var maximum: Float = 0
                    if let linear {
                        linear.withUnsafeBufferPointer { l in
                            for i in range { gp.value[i] *= l[i]; maximum = max(maximum, abs(gp.value[i])) }
                        }
                    } else {
                        for v in chunk { maximum = max(maximum, abs(v)) }
                    }
                    mp.value[range.lowerBound == 0 ? 0 : 1] = maximum
                }
            }
        }
        return max(maxima[0], maxima[1])
    }

    /// `a += b`; returns max |a| afterwards.
    static func addInPlace(_ a: inout [Float], _ b: [Float]) -> Float {
        var maximum: Float = 0
        for i in a.indices {
            a[i] += b[i]
            maximum = max(maximum, abs(a[i]))
        }
        return maximum
    }
}
