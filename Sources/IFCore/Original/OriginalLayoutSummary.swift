import SafetensorsReader

/// What `inspect` says about an original-layout checkpoint: the stage, the diffusers config it implies
/// and how its tensors map.
public struct OriginalLayoutSummary: Sendable {
    public let stage: OriginalStage
    public let config: DiffusersUNetConfig
    public let originalTensorCount: Int
    public let diffusersTensorCount: Int
    /// diffusers tensors cut out of a fused qkv / encoder_kv weight.
    public let splitTensorCount: Int

    public init(_ source: OriginalLayoutSource) {
        stage = source.config.stage
        config = source.config
        originalTensorCount = source.checkpoint.tensorNames.count
        diffusersTensorCount = source.plan.tensors.count
        splitTensorCount = source.plan.tensors.filter {
            if case .headChunks = $0.recipe { return true }
            return false
        }.count
    }

    /// One line for `inspect`'s human output.
    public var text: String {
        let layers = config.layersPerBlockIsList ? "\(config.layersPerBlock)" : "\(config.layersPerBlock[0])"
        return "original IF UNet, stage \(stage.rawValue) -> diffusers UNet2DConditionModel: block_out_channels "
            + "\(config.blockOutChannels), layers_per_block \(layers), attention_head_dim \(config.attentionHeadDim), "
            + "addition_embed_type_num_heads \(config.additionEmbedNumHeads); \(originalTensorCount) original -> "
            + "\(diffusersTensorCount) diffusers tensors (\(splitTensorCount) split from fused qkv/encoder_kv)"
    }

    public var json: JSONValue {
        var object = JSONObject()
        object.append("layout", .string("original-if-unet"))
        object.append("stage", .string(stage.rawValue))
        object.append("original_tensor_count", .int(originalTensorCount))
        object.append("diffusers_tensor_count", .int(diffusersTensorCount))
        object.append("split_tensor_count", .int(splitTensorCount))
        var config = JSONObject()
        for entry in self.config.entries { config.append(entry.key, entry.value.jsonValue) }
        object.append("diffusers_config", .object(config))
        return .object(object)
    }
}

extension ConfigJSONValue {
    /// The same value in the reader's JSON type.
    public var jsonValue: JSONValue {
        switch self {
        case .null: .null
        case let .bool(value): .bool(value)
        case let .number(text): .number(text)
        case let .string(text): .string(text)
        case let .list(values): .array(values.map(\.jsonValue))
        }
    }
}
