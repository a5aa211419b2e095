import Foundation
import IFCore

/// The T5 encoder hyper-parameters the runner needs, read from transformers' `config.json` and
/// checked against (or, without a config, inferred from) the weight shapes.
public struct T5Config: Sendable, Equatable, Codable {
    public var vocabSize: Int
    public var dModel: Int
    public var dKV: Int
    public var dFF: Int
    public var numHeads: Int
    public var numLayers: Int
    public var relativeAttentionNumBuckets: Int
    public var relativeAttentionMaxDistance: Int
    public var layerNormEpsilon: Float
    /// transformers' `dense_act_fn`: "gelu_new" (T5 v1.1), "gelu", "relu".
    public var denseActivation: String
    /// `is_gated_act` (T5 v1.1 "gated-gelu": act(wi_0 x) * wi_1 x).
    public var isGated: Bool

    /// Defaults of T5 v1.1 where neither the config nor the shapes say otherwise.
    public static let defaultEpsilon: Float = 1e-6
    public static let defaultMaxDistance = 128

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", dModel = "d_model", dKV = "d_kv", dFF = "d_ff", numHeads = "num_heads"
        case numLayers = "num_layers", relativeAttentionNumBuckets = "relative_attention_num_buckets"
        case relativeAttentionMaxDistance = "relative_attention_max_distance"
        case layerNormEpsilon = "layer_norm_epsilon", denseActivation = "dense_act_fn", isGated = "is_gated_act"
    }

    public init(vocabSize: Int, dModel: Int, dKV: Int, dFF: Int, numHeads: Int, numLayers: Int,
                relativeAttentionNumBuckets: Int = 32, relativeAttentionMaxDistance: Int = T5Config.defaultMaxDistance,
                layerNormEpsilon: Float = T5Config.defaultEpsilon, denseActivation: String = "gelu_new", isGated: Bool = true) {
        self.vocabSize = vocabSize; self.dModel = dModel; self.dKV = dKV; self.dFF = dFF
        self.numHeads = numHeads; self.numLayers = numLayers
        self.relativeAttentionNumBuckets = relativeAttentionNumBuckets
        self.relativeAttentionMaxDistance = relativeAttentionMaxDistance
        self.layerNormEpsilon = layerNormEpsilon; self.denseActivation = denseActivation; self.isGated = isGated
    }

    /// Parses transformers' config.json. Like transformers' T5Config, the activation and gating come
    /// from `feed_forward_proj` alone (default "relu"; "gated-gelu" means gelu_new), whatever
    /// `dense_act_fn`/`is_gated_act` the file also holds.
    public init(configJSON data: Data) throws(RunnerError) {
        let object: [String: Any]
        do {
            guard let parsed = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw RunnerError.badConfig("config.json is not a JSON object")
            }
            object = parsed
        } catch let error as RunnerError { throw error } catch { throw .badConfig("config.json: \(error.localizedDescription)") }
        func int(_ key: String, _ fallback: Int? = nil) throws(RunnerError) -> Int {
            if let v = object[key] as? Int { return v }
            if let fallback { return fallback }
            throw .badConfig("config.json lacks integer '\(key)'")
        }
        let projection = (object["feed_forward_proj"] as? String) ?? "relu"
        let gated = projection.hasPrefix("gated-")
        var activation = gated ? String(projection.dropFirst("gated-".count)) : projection
        if activation == "gelu" && gated { activation = "gelu_new" }  // transformers' T5Config does this rewrite
        self.init(
            vocabSize: try int("vocab_size"), dModel: try int("d_model"), dKV: try int("d_kv"), dFF: try int("d_ff"),
            numHeads: try int("num_heads"), numLayers: try int("num_layers"),
            relativeAttentionNumBuckets: try int("relative_attention_num_buckets", 32),
            relativeAttentionMaxDistance: try int("relative_attention_max_distance", Self.defaultMaxDistance),
            layerNormEpsilon: Float((object["layer_norm_epsilon"] as? Double) ?? Double(Self.defaultEpsilon)),
            denseActivation: activation, isGated: gated)
    }

    /// Infers the shape parameters from the weights (epsilon and max distance are not recoverable from
    /// shapes and take T5 v1.1's defaults unless `base` gives them).
    public static func inferred(from store: any WeightStore, base: T5Config? = nil) throws -> T5Config {
        let embedding = try store.info(named: T5Names.embedding(in: store))
        guard embedding.shape.count == 2 else { throw RunnerError.badTensor(name: embedding.name, message: "shape \(embedding.shape), expected [vocab, d_model]") }
        let bias = try store.info(named: T5Names.relativeAttentionBias)
        guard bias.shape.count == 2 else { throw RunnerError.badTensor(name: bias.name, message: "shape \(bias.shape), expected [buckets, heads]") }
        let heads = bias.shape[1]
        let q = try store.info(named: T5Names.attention(0, "q"))
        guard q.shape.count == 2, heads > 0, q.shape[0] % heads == 0 else {
            throw RunnerError.badTensor(name: q.name, message: "shape \(q.shape) does not split into \(heads) heads")
        }
        let gated = store.has(T5Names.feedForward(0, "wi_0"))
        let wi = try store.info(named: T5Names.feedForward(0, gated ? "wi_0" : "wi"))
        var layers = 0
        while store.has(T5Names.attention(layers, "q")) { layers += 1 }
        return T5Config(
            vocabSize: embedding.shape[0], dModel: embedding.shape[1], dKV: q.shape[0] / heads, dFF: wi.shape[0],
            numHeads: heads, numLayers: layers, relativeAttentionNumBuckets: bias.shape[0],
            relativeAttentionMaxDistance: base?.relativeAttentionMaxDistance ?? defaultMaxDistance,
            layerNormEpsilon: base?.layerNormEpsilon ?? defaultEpsilon,
            denseActivation: base?.denseActivation ?? (gated ? "gelu_new" : "relu"), isGated: gated)
    }
}

/// Checkpoint tensor names of transformers' `T5EncoderModel`.
public enum T5Names {
    public static let sharedEmbedding = "shared.weight"
    public static let encoderEmbedding = "encoder.embed_tokens.weight"
    public static let relativeAttentionBias = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
    public static let finalLayerNorm = "encoder.final_layer_norm.weight"

    /// `shared.weight` (what IF stores; `encoder.embed_tokens` is tied to it) or the encoder's own.
    public static func embedding(in store: any WeightStore) -> String {
        store.has(sharedEmbedding) ? sharedEmbedding : encoderEmbedding
    }

    public static func attention(_ block: Int, _ projection: String) -> String {
        "encoder.block.\(block).layer.0.SelfAttention.\(projection).weight"
    }

    public static func attentionNorm(_ block: Int) -> String { "encoder.block.\(block).layer.0.layer_norm.weight" }
    public static func feedForward(_ block: Int, _ projection: String) -> String {
        "encoder.block.\(block).layer.1.DenseReluDense.\(projection).weight"
    }

    public static func feedForwardNorm(_ block: Int) -> String { "encoder.block.\(block).layer.1.layer_norm.weight" }
}
