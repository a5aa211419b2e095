import IFCore

/// What the policy decided for one tensor, and why. `rule` goes into the pack's record and into
/// `--dry-run` output.
public struct TensorDecision: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    /// The tensor's type before quantizing (the float pack's storage type).
    public let sourceType: GGMLType
    /// What the tensor becomes (after any fallback).
    public let target: TargetEncoding
    /// The rule that chose the target, e.g. "default: 1-D tensor (bias, norm scale)".
    public let rule: String
    /// Set when the chosen scheme did not fit and a fallback was taken: why.
    public let fallback: String?

    /// GGUF storage type of the result (I8 for int8_rowwise).
    public var storageType: GGMLType {
        switch target {
        case .keep: sourceType
        case .f32: .f32
        case .f16: .f16
        case .quantized(let scheme): scheme.storageType
        }
    }

    public var isQuantized: Bool {
        if case .quantized = target { return true }
        return false
    }

    /// Stored bytes (int8 includes its F32 scales).
    public var byteCount: Int {
        let (rows, rowLength) = PackStorage.rowView(of: shape)
        switch target {
        case .quantized(let scheme): return scheme.byteCount(rows: rows, rowLength: rowLength) ?? 0
        default: return storageType.byteCount(elementCount: rows * rowLength) ?? 0
        }
    }

    /// The text recorded in the pack (`rule` plus the fallback reason).
    public var provenance: String {
        fallback.map { "\(rule); fallback: \($0)" } ?? rule
    }
}

/// Chooses each tensor's encoding: user rules first (first match wins), then the defaults below.
///
/// Defaults keep in float: 1-D tensors (biases, norm scales), anything named like a norm or bias,
/// embedding tables, positional and relative-attention tables, the first and last convolutions
/// (conv_in/conv_out; `input_blocks.0.0`/`out.2` in the original layout), and T5's FFN `wo`
/// (transformers keeps it in fp32: its products overflow fp16). Every other weight with two or more
/// dimensions (Linear [out, in], Conv [out, in, kh, kw] viewed as [out, in*kh*kw]) is quantized.
///
/// A row length that is not a whole number of blocks falls back: q4_k -> q4_0 when the row is a
/// multiple of 32 (the same 4.5 bits per weight), otherwise the tensor keeps its float type, so the
/// pack holds only types every GGUF reader knows. int8 is row-wise and fits every row.
public struct QuantPolicy: Sendable {
    public let scheme: QuantScheme
    public let rules: [QuantRule]

    public init(scheme: QuantScheme, rules: [QuantRule] = []) {
        self.scheme = scheme
        self.rules = rules
    }

    /// Source types the policy may quantize or cast; others are always kept.
    static let floatTypes: Set<GGMLType> = [.f32, .f16, .bf16, .f64]

    /// The default rules in order: (label, test, keep?). The first that matches decides.
    static let keepRules: [(label: String, matches: @Sendable (String, [Int]) -> Bool)] = [
        ("default: 1-D tensor (bias, norm scale)", { _, shape in shape.count < 2 }),
        ("default: bias", { name, _ in name.hasSuffix(".bias") }),
        ("default: normalization", { name, _ in name.split(separator: ".").contains { $0.lowercased().contains("norm") } }),
        ("default: embedding table", { name, _ in
            name == "shared.weight" || name.hasSuffix("embed_tokens.weight") || name.hasSuffix("word_embeddings.weight") }),
        ("default: positional / relative-attention table", { name, _ in
            name.contains("positional_embedding") || name.contains("relative_attention_bias") || name.contains("pos_embed") }),
        ("default: first convolution (conv_in)", { name, _ in name.hasPrefix("conv_in.") || name.hasPrefix("input_blocks.0.0.") }),
        ("default: last convolution (conv_out)", { name, _ in name.hasPrefix("conv_out.") || name.hasPrefix("out.2.") }),
        ("default: T5 FFN wo (kept as stored, fp32 in the published checkpoints)", { name, _ in name.hasSuffix("DenseReluDense.wo.weight") }),
    ]

    public func decide(name: String, shape: [Int], sourceType: GGMLType) -> TensorDecision {
        func decision(_ target: TargetEncoding, _ rule: String, _ fallback: String? = nil) -> TensorDecision {
            TensorDecision(name: name, shape: shape, sourceType: sourceType, target: target, rule: rule, fallback: fallback)
        }
        guard Self.floatTypes.contains(sourceType) else {
            return decision(.keep, sourceType.isQuantized ? "already \(sourceType.name)" : "default: not a float tensor (\(sourceType.name))")
        }
        if let rule = rules.first(where: { $0.matches(name) }) {
            return fitted(decision(rule.target, rule.description))
        }
        for rule in Self.keepRules where rule.matches(name, shape) {
            return decision(.keep, rule.label)
        }
        guard name.hasSuffix("weight") else { return decision(.keep, "default: not a weight") }
        let kind = shape.count == 2 ? "Linear" : (shape.count == 4 ? "Conv" : "\(shape.count)-D")
        return fitted(decision(.quantized(scheme), "default: \(kind) weight -> \(scheme.rawValue)"))
    }

    /// Applies the row-length fallback to a quantized choice.
    func fitted(_ d: TensorDecision) -> TensorDecision {
        guard case .quantized(let chosen) = d.target else { return d }
        let (_, rowLength) = PackStorage.rowView(of: d.shape)
        if rowLength > 0, rowLength % chosen.blockSize == 0 { return d }
        let why = "row length \(rowLength) (\(PackStorage.rowViewDescription(of: d.shape))) is not a multiple of \(chosen.rawValue)'s block of \(chosen.blockSize)"
        if chosen == .q4_k, rowLength > 0, rowLength % QuantScheme.q4_0.blockSize == 0 {
            return TensorDecision(name: d.name, shape: d.shape, sourceType: d.sourceType, target: .quantized(.q4_0),
                                  rule: d.rule, fallback: why + "; q4_0 instead")
        }
        return TensorDecision(name: d.name, shape: d.shape, sourceType: d.sourceType, target: .keep,
                              rule: d.rule, fallback: why + "; kept as \(d.sourceType.name)")
    }

    /// Decisions for a whole tensor list, in order.
    public func plan(_ tensors: [(name: String, shape: [Int], sourceType: GGMLType)]) -> [TensorDecision] {
        tensors.map { decide(name: $0.name, shape: $0.shape, sourceType: $0.sourceType) }
    }
}
