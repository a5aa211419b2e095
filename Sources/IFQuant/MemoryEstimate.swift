import Foundation
import IFCore

/// GPU memory one component needs in each variant: its weights exactly (from its tensor list and
/// the policy) plus an activation estimate from its structure.
///
/// The activation estimate assumes fp16 activations, classifier-free guidance (batch 2), UNets at
/// their sample size (64 px stage I, 256 px stage II), 77 text tokens, and attention score matrices
/// materialized (diffusers' AttnAddedKVProcessor; memory-efficient attention needs less):
/// - UNet: every skip activation kept for the up path (conv_in, each down resnet/attention output,
///   each downsampler), plus 4 feature maps of the widest level in flight, plus the largest
///   attention score matrix (heads x HW x (HW + 77)).
/// - T5 encoder: 4 hidden states, the gated FFN's 3 d_ff-wide activations, and the scores.
/// A fixed `runtimeOverheadBytes` covers the CUDA context, kernels and allocator slack. These are
/// estimates for planning, not measurements.
public struct MemoryEstimate: Sendable, Equatable, Codable {
    public struct Variant: Sendable, Equatable, Codable {
        /// "float" (as stored), "q8_0", "int8", "q4_0", "q4_k".
        public let name: String
        public let weightBytes: Int
    }

    public let component: String
    public let parameterCount: Int
    public let variants: [Variant]
    public let activationBytes: Int
    /// How the activation figure was obtained.
    public let activationBasis: String

    public static let runtimeOverheadBytes = 1_000_000_000
    public static let variantNames = ["float"] + QuantScheme.allCases.map(\.rawValue)

    public func totalBytes(variant: String) -> Int? {
        variants.first { $0.name == variant }.map { $0.weightBytes + activationBytes + Self.runtimeOverheadBytes }
    }

    /// Estimates for a tensor list (names, PyTorch shapes, stored types) under default rules plus `rules`.
    public init(component: String, tensors: [(name: String, shape: [Int], sourceType: GGMLType)], rules: [QuantRule] = []) {
        self.component = component
        parameterCount = tensors.reduce(0) { $0 + $1.shape.reduce(1, *) }
        var variants = [Variant(name: "float", weightBytes: tensors.reduce(0) {
            $0 + ($1.sourceType.byteCount(elementCount: $1.shape.reduce(1, *)) ?? 0) })]
        for scheme in QuantScheme.allCases {
            let plan = QuantPolicy(scheme: scheme, rules: rules).plan(tensors)
            variants.append(Variant(name: scheme.rawValue, weightBytes: plan.reduce(0) { $0 + $1.byteCount }))
        }
        self.variants = variants
        (activationBytes, activationBasis) = Self.activations(tensors.map { ($0.name, $0.shape) })
    }

    static let bytesPerActivation = 2
    static let batch = 2
    static let textTokens = 77

    static func activations(_ tensors: [(String, [Int])]) -> (Int, String) {
        let shapes = Dictionary(tensors.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        if let convIn = shapes["conv_in.weight"], convIn.count == 4 {
            let size = convIn[1] == 3 ? 64 : 256
            var level = 0
            var skips = 0, widest = 0, scores = 0
            var side = size
            skips += convIn[0] * side * side
            while let first = shapes["down_blocks.\(level).resnets.0.conv2.weight"] {
                let channels = first[0]
                var layers = 0
                while shapes["down_blocks.\(level).resnets.\(layers).conv2.weight"] != nil { layers += 1 }
                let map = channels * side * side
                widest = max(widest, map)
                skips += layers * map
                if shapes["down_blocks.\(level).attentions.0.to_q.weight"] != nil {
                    let heads = max(1, channels / 64)
                    scores = max(scores, heads * side * side * (side * side + textTokens))
                }
                let hasDownsampler = tensors.contains { $0.0.hasPrefix("down_blocks.\(level).downsamplers.") }
                if hasDownsampler {
                    side /= 2
                    skips += channels * side * side
                }
                level += 1
            }
            let elements = batch * (skips + 4 * widest + scores)
            return (elements * bytesPerActivation,
                    "UNet at \(size)x\(size), batch \(batch) (CFG), fp16: skips + 4 widest maps + largest attention scores")
        }
        if let q = shapes["encoder.block.0.layer.0.SelfAttention.q.weight"],
           let wi = shapes["encoder.block.0.layer.1.DenseReluDense.wi_0.weight"] ?? shapes["encoder.block.0.layer.1.DenseReluDense.wi.weight"] {
            let dModel = q[1], dFF = wi[0]
            let heads = shapes["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]?[1] ?? max(1, dModel / 64)
            let perToken = 4 * dModel + 3 * dFF
            let elements = batch * (textTokens * perToken + heads * textTokens * textTokens)
            return (elements * bytesPerActivation, "T5 encoder, batch \(batch) x \(textTokens) tokens, fp16")
        }
        return (0, "unknown structure: no activation estimate")
    }
}

/// Tensor lists of the published IF stages and T5-v1.1-XXL (generated, see PublishedStages+Data.swift),
/// for the "what fits in my GPU" table of every report.
public enum PublishedStages {
    public static let names = ["IF-I-XL", "IF-I-M (stand-in)", "IF-II-L", "T5-v1.1-XXL"]

    public static func tensors(of stage: String) -> [(name: String, shape: [Int], sourceType: GGMLType)] {
        guard let list = parsed[stage] else { return [] }
        return list
    }

    private static let parsed: [String: [(name: String, shape: [Int], sourceType: GGMLType)]] = {
        var result: [String: [(name: String, shape: [Int], sourceType: GGMLType)]] = [:]
        guard let data = shapesJSON.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: [[Any]]] else { return [:] }
        for (stage, entries) in object {
            result[stage] = entries.compactMap { entry in
                guard entry.count == 3, let name = entry[0] as? String, let shape = entry[1] as? [Int],
                      let type = entry[2] as? String else { return nil }
                return (name, shape, type == "F32" ? GGMLType.f32 : .f16)
            }
        }
        return result
    }()

    /// Memory estimates for each published component, default policy.
    public static func estimates(rules: [QuantRule] = []) -> [MemoryEstimate] {
        names.map { MemoryEstimate(component: $0, tensors: tensors(of: $0), rules: rules) }
    }
}
