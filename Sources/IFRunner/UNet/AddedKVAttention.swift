/// diffusers `Attention` with `AttnAddedKVProcessor` (IF's simple cross-attention): the image tokens
/// attend to the projected text tokens and to themselves, text keys/values first.
///
///     enc = norm_cross(text)            GroupNorm(32, eps 1e-5) over the text width, per sample
///     h   = group_norm(x)               GroupNorm(norm_num_groups, eps 1e-5) over the block width
///     q   = to_q(h);  k = [add_k_proj(enc); to_k(h)];  v = [add_v_proj(enc); to_v(h)]
///     out = to_out.0(softmax(q k^T / sqrt(head_dim)) v) + x      (per head, fp32 softmax)
///
/// `only_cross_attention` drops `to_k`/`to_v` (text keys only).
struct AddedKVAttention {
    let name: String
    let channels: Int
    let heads: Int
    let headDim: Int
    let crossDim: Int
    let groups: Int
    let groupNormWeight: [Float], groupNormBias: [Float]
    let normCrossWeight: [Float]?, normCrossBias: [Float]?
    let toQ: LinearWeight
    let toK: LinearWeight?, toV: LinearWeight?
    let addK: LinearWeight, addV: LinearWeight
    let toOut: LinearWeight

    /// Floats of attention scores per tile of queries (16 MiB).
    static let scoreElementBudget = 1 << 22
    /// diffusers builds `norm_cross` with `cross_attention_norm_num_groups`, which IF leaves at 32.
    static let crossNormGroups = 32
    static let epsilon: Float = 1e-5

    var inner: Int { heads * headDim }

    init(store: any WeightStore, name: String, channels: Int, headDim: Int, onlyCrossAttention: Bool, config: UNetConfig) throws {
        self.name = name
        self.channels = channels
        self.headDim = headDim
        heads = channels / headDim  // diffusers: out_channels // attention_head_dim (truncating)
        crossDim = config.crossAttentionDim
        groups = config.normGroups
        let inner = heads * headDim
        groupNormWeight = try parameter(store, name + ".group_norm.weight", count: channels)
        groupNormBias = try parameter(store, name + ".group_norm.bias", count: channels)
        if config.crossAttentionGroupNorm {
            guard crossDim % Self.crossNormGroups == 0 else {
                throw RunnerError.badConfig("\(name): cross_attention_dim \(crossDim) is not divisible by \(Self.crossNormGroups) norm_cross groups")
            }
            normCrossWeight = try parameter(store, name + ".norm_cross.weight", count: crossDim)
            normCrossBias = try parameter(store, name + ".norm_cross.bias", count: crossDim)
        } else {
            normCrossWeight = nil
            normCrossBias = nil
        }
        toQ = try store.linear(weight: name + ".to_q.weight", bias: name + ".to_q.bias", outFeatures: inner, inFeatures: channels)
        if onlyCrossAttention {
            toK = nil
            toV = nil
        } else {
            toK = try store.linear(weight: name + ".to_k.weight", bias: name + ".to_k.bias", outFeatures: inner, inFeatures: channels)
            toV = try store.linear(weight: name + ".to_v.weight", bias: name + ".to_v.bias", outFeatures: inner, inFeatures: channels)
        }
        addK = try store.linear(weight: name + ".add_k_proj.weight", bias: name + ".add_k_proj.bias", outFeatures: inner, inFeatures: crossDim)
        addV = try store.linear(weight: name + ".add_v_proj.weight", bias: name + ".add_v_proj.bias", outFeatures: inner, inFeatures: crossDim)
        toOut = try store.linear(weight: name + ".to_out.0.weight", bias: name + ".to_out.0.bias", outFeatures: channels, inFeatures: inner)
    }

    /// Returns attention output plus the residual in a new map; `input` stays the caller's.
    func forward(_ input: FeatureMap, _ ctx: ForwardContext) -> FeatureMap {
        let pool = ctx.pool, batch = input.batch, n = input.pixels, l = ctx.sequenceLength
        let inner = self.inner, hd = headDim
        precondition(input.channels == channels)
        // Text states, normalized per attention layer (each has its own norm_cross).
        let encoder = pool.take(batch * l * crossDim)
        defer { pool.give(encoder) }
        ctx.encoderStates.withUnsafeBufferPointer { e in
            if let w = normCrossWeight, let b = normCrossBias {
                UNetOps.groupNorm(e.baseAddress!, batch: batch, pixels: l, channels: crossDim, groups: Self.crossNormGroups,
                                  weight: w, bias: b, epsilon: Self.epsilon, output: encoder.base)
            } else {
                encoder.base.update(from: e.baseAddress!, count: batch * l * crossDim)
            }
        }
        let h = pool.take(batch * n * channels)
        defer { pool.give(h) }
        UNetOps.groupNorm(input.base, batch: batch, pixels: n, channels: channels, groups: groups,
                          weight: groupNormWeight, bias: groupNormBias, epsilon: Self.epsilon, output: h.base)
        let q = pool.take(batch * n * inner)
        defer { pool.give(q) }
        toQ.apply(h.base, rows: batch * n, output: q.base)
        // Keys and values per sample: rows [text (l); image (n)].
        let tokens = toK == nil ? l : l + n
        let keys = pool.take(batch * tokens * inner), values = pool.take(batch * tokens * inner)
        defer { pool.give(keys); pool.give(values) }
        for b in 0..<batch {
            addK.apply(encoder.base + b * l * crossDim, rows: l, output: keys.base + b * tokens * inner)
            addV.apply(encoder.base + b * l * crossDim, rows: l, output: values.base + b * tokens * inner)
            if let toK, let toV {
                toK.apply(h.base + b * n * channels, rows: n, output: keys.base + (b * tokens + l) * inner)
                toV.apply(h.base + b * n * channels, rows: n, output: values.base + (b * tokens + l) * inner)
            }
        }
        // Attention per sample, head and tile of queries; heads are column slices (no copies).
        let attended = pool.take(batch * n * inner)
        defer { pool.give(attended) }
        let tileQueries = max(1, min(n, Self.scoreElementBudget / tokens))
        let scores = pool.take(tileQueries * tokens)
        defer { pool.give(scores) }
        let scale = 1 / Float(hd).squareRoot()
        for b in 0..<batch {
            for head in 0..<heads {
                var q0 = 0
                while q0 < n {
                    let rows = min(tileQueries, n - q0)
                    Kernels.sgemm(transposeA: false, transposeB: true, m: rows, n: tokens, k: hd, alpha: scale,
                                  a: q.base + (b * n + q0) * inner + head * hd, lda: inner,
                                  b: keys.base + b * tokens * inner + head * hd, ldb: inner,
                                  c: scores.base, ldc: tokens)
                    let s = scores.base
                    UNetOps.parallelChunks(rows, minimumChunk: max(1, (1 << 14) / tokens)) { part in
                        Kernels.softmaxRows(s + part.lowerBound * tokens, rows: part.count, columns: tokens)
                    }
                    Kernels.sgemm(transposeA: false, transposeB: false, m: rows, n: hd, k: tokens,
                                  a: scores.base, lda: tokens,
                                  b: values.base + b * tokens * inner + head * hd, ldb: inner,
                                  c: attended.base + (b * n + q0) * inner + head * hd, ldc: inner)
                    q0 += rows
                }
            }
        }
        let out = FeatureMap(pool: pool, batch: batch, height: input.height, width: input.width, channels: channels)
        toOut.apply(attended.base, rows: batch * n, output: out.base)
        let o = out.base, r = input.base
        UNetOps.parallelChunks(out.count) { range in
            for i in range { o[i] = o[i] + r[i] }
        }
        ctx.observe(name, out)
        return out
    }
}
