import IFCore

/// `in.input_ids`, `in.attention_mask` (I64 [B, L]) -> `out.last_hidden_state` [B, L, d_model],
/// plus `act.encoder.embed_tokens`, `act.encoder.block.<i>`, `act.encoder.final_layer_norm`.
public struct T5StageRunner: StageRunner {
    public let encoder: T5Encoder
    public let storageLabels: Set<String>

    public static func load(model: StageModel, bundle: ReferenceBundle) throws -> T5StageRunner {
        let (encoder, weights) = try T5Encoder.load(model: model)
        encoder.prefetchWeights()  // page faults belong to load_seconds, as torch's reads do
        let labels = Set(weights.tensorNames.filter { $0.hasSuffix(".weight") && !$0.contains("layer_norm") && !$0.contains("relative_attention_bias") }
            .map { weights.storageLabel(of: $0) })
        return T5StageRunner(encoder: encoder, storageLabels: labels)
    }

    public func compute(bundle: ReferenceBundle) throws -> StageResult {
        let (ids, shape) = try bundle.integers("in.input_ids")
        guard shape.count == 2 else {
            throw RunnerError.badReference(path: bundle.path, message: "in.input_ids has shape \(shape), expected [batch, length]")
        }
        let mask: [Int]
        if bundle.has("in.attention_mask") {
            let (values, maskShape) = try bundle.integers("in.attention_mask")
            guard maskShape == shape else {
                throw RunnerError.badReference(path: bundle.path, message: "in.attention_mask has shape \(maskShape), in.input_ids \(shape)")
            }
            mask = values
        } else {
            mask = [Int](repeating: 1, count: ids.count)
        }
        let output = try encoder.encode(inputIDs: ids, attentionMask: mask, batch: shape[0], length: shape[1], captureActivations: true)
        let d = encoder.config.dModel
        var tensors = [ComputedTensor(name: "out.last_hidden_state", shape: [shape[0], shape[1], d], values: output.lastHiddenState)]
        var order = ["encoder.embed_tokens"] + (0..<encoder.config.numLayers).map { "encoder.block.\($0)" }
        order.append("encoder.final_layer_norm")
        for name in order {
            if let values = output.activations[name] {
                tensors.append(ComputedTensor(name: "act.\(name)", shape: [shape[0], shape[1], d], values: values))
            }
        }
        let audit = output.ranges.map { record -> RangeAuditEntry in
            let sites = [(record.afterAttention, "residual after attention"), (record.feedForwardInner, "feed-forward inner (wo input)"),
                         (record.blockOutput, "block output")]
            let peak = sites.max { $0.0 < $1.0 }!
            return RangeAuditEntry(module: record.module, maxAbs: Double(peak.0), site: peak.1)
        }
        return StageResult(tensors: tensors, rangeAudit: audit)
    }
}

/// `__metadata__["prompts"]` -> `out.input_ids`, `out.attention_mask` ([B, 77], exact).
public struct TokenizerStageRunner: StageRunner {
    public let tokenizer: T5Tokenizer
    public var storageLabels: Set<String> { [] }
    public var defaultTolerance: VerifyTolerance { .exact }

    public static func load(model: StageModel, bundle: ReferenceBundle) throws -> TokenizerStageRunner {
        TokenizerStageRunner(tokenizer: try model.tokenizer())
    }

    public func compute(bundle: ReferenceBundle) throws -> StageResult {
        let prompts = try bundle.stringList("prompts")
        var ids: [Float] = [], mask: [Float] = []
        for prompt in prompts {
            let encoding = try tokenizer.encode(prompt)
            ids += encoding.inputIDs.map(Float.init)
            mask += encoding.attentionMask.map(Float.init)
        }
        let shape = [prompts.count, tokenizer.maxLength]
        return StageResult(tensors: [
            ComputedTensor(name: "out.input_ids", shape: shape, values: ids, isExact: true),
            ComputedTensor(name: "out.attention_mask", shape: shape, values: mask, isExact: true),
        ])
    }
}
