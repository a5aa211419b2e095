#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// diffusers `TimestepEmbedding`: `linear_2(act(linear_1(x)))`.
struct TimestepMLP {
    let linear1: LinearWeight
    let linear2: LinearWeight
    let activation: UNetConfig.Activation

    init(store: any WeightStore, name: String, inFeatures: Int, outFeatures: Int, activation: UNetConfig.Activation) throws {
        linear1 = try store.linear(weight: name + ".linear_1.weight", bias: name + ".linear_1.bias", outFeatures: outFeatures, inFeatures: inFeatures)
        linear2 = try store.linear(weight: name + ".linear_2.weight", bias: name + ".linear_2.bias", outFeatures: outFeatures, inFeatures: outFeatures)
        self.activation = activation
    }

    func callAsFunction(_ x: [Float], rows: Int) -> [Float] {
        var h = linear1.apply(x, rows: rows)
        h.withUnsafeMutableBufferPointer { UNetOps.activate($0.baseAddress!, count: $0.count, activation) }
        return linear2.apply(h, rows: rows)
    }
}

/// diffusers `TextTimeEmbedding` (IF's `encoder_pooling`): LayerNorm over the T5 width ->
/// `AttentionPooling` -> Linear -> LayerNorm, on the raw text states (before `encoder_hid_proj`).
///
/// AttentionPooling: `cls = mean_L(x) + positional_embedding`; q from cls, k and v from
/// `[cls; x]`; per head (`width / heads` dims) weights `softmax((q s)(k s)^T)` with
/// `s = dim_head^-1/4` on each side, fp32 softmax; returns the cls output.
struct TextTimeEmbedding {
    let width: Int
    let heads: Int
    let norm1Weight: [Float], norm1Bias: [Float]
    let positionalEmbedding: [Float]
    let qProj: LinearWeight, kProj: LinearWeight, vProj: LinearWeight
    let proj: LinearWeight
    let norm2Weight: [Float], norm2Bias: [Float]
    let timeEmbedDim: Int
    /// torch `nn.LayerNorm` default.
    static let epsilon: Float = 1e-5

    init(store: any WeightStore, name: String, width: Int, timeEmbedDim: Int, heads: Int) throws {
        guard heads > 0, width % heads == 0 else {
            throw RunnerError.badConfig("\(name): width \(width) is not divisible by addition_embed_type_num_heads \(heads)")
        }
        self.width = width
        self.heads = heads
        self.timeEmbedDim = timeEmbedDim
        norm1Weight = try parameter(store, name + ".norm1.weight", count: width)
        norm1Bias = try parameter(store, name + ".norm1.bias", count: width)
        positionalEmbedding = try parameter(store, name + ".pool.positional_embedding", count: width)
        qProj = try store.linear(weight: name + ".pool.q_proj.weight", bias: name + ".pool.q_proj.bias", outFeatures: width, inFeatures: width)
        kProj = try store.linear(weight: name + ".pool.k_proj.weight", bias: name + ".pool.k_proj.bias", outFeatures: width, inFeatures: width)
        vProj = try store.linear(weight: name + ".pool.v_proj.weight", bias: name + ".pool.v_proj.bias", outFeatures: width, inFeatures: width)
        proj = try store.linear(weight: name + ".proj.weight", bias: name + ".proj.bias", outFeatures: timeEmbedDim, inFeatures: width)
        norm2Weight = try parameter(store, name + ".norm2.weight", count: timeEmbedDim)
        norm2Bias = try parameter(store, name + ".norm2.bias", count: timeEmbedDim)
    }

    /// `text` is `[batch, length, width]`; returns `[batch, timeEmbedDim]`.
    func callAsFunction(_ text: [Float], batch: Int, length: Int) -> [Float] {
        let w = width, tokens = length + 1, dph = width / heads
        var normed = [Float](repeating: 0, count: batch * length * w)
        Kernels.layerNorm(text, rows: batch * length, columns: w, weight: norm1Weight, bias: norm1Bias,
                          epsilon: Self.epsilon, output: &normed)
        var pooled = [Float](repeating: 0, count: batch * w)
        let sideScale = 1 / Float(dph).squareRoot().squareRoot()
        for b in 0..<batch {
            // [cls; x]
            var sequence = [Float](repeating: 0, count: tokens * w)
            for c in 0..<w {
                var s = 0.0
                for t in 0..<length { s += Double(normed[(b * length + t) * w + c]) }
                sequence[c] = Float(s / Double(length)) + positionalEmbedding[c]
            }
            for t in 0..<length {
                for c in 0..<w { sequence[(t + 1) * w + c] = normed[(b * length + t) * w + c] }
            }
            let q = qProj.apply(Array(sequence[0..<w]), rows: 1)
            let k = kProj.apply(sequence, rows: tokens)
            let v = vProj.apply(sequence, rows: tokens)
            var weights = [Float](repeating: 0, count: tokens)
            for head in 0..<heads {
                let off = head * dph
                for t in 0..<tokens {
                    var dot: Float = 0
                    for c in 0..<dph { dot += (q[off + c] * sideScale) * (k[t * w + off + c] * sideScale) }
                    weights[t] = dot
                }
                Kernels.softmaxRows(&weights, rows: 1, columns: tokens)
                for c in 0..<dph {
                    var a: Float = 0
                    for t in 0..<tokens { a += weights[t] * v[t * w + off + c] }
                    pooled[b * w + off + c] = a
                }
            }
        }
        var projected = proj.apply(pooled, rows: batch)
        projected.withUnsafeMutableBufferPointer { p in
            Kernels.layerNorm(p.baseAddress!, rows: batch, columns: timeEmbedDim, weight: norm2Weight, bias: norm2Bias,
                              epsilon: Self.epsilon, output: p.baseAddress!)
        }
        return projected
    }
}
