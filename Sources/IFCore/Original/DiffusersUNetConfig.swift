/// Which cascade stage an original checkpoint is: stage II (`SuperResUNetModel`) has `aug_proj.*`.
public enum OriginalStage: String, Sendable, Equatable {
    case stageI = "I"
    case stageII = "II"

    /// Stage II iff the checkpoint has the noise-augmentation embedding `aug_proj`.
    public init(tensorNames: [String]) {
        self = tensorNames.contains { $0.hasPrefix("aug_proj.") } ? .stageII : .stageI
    }
}

/// A JSON scalar or list as diffusers writes it in `unet/config.json`. Numbers keep their spelling
/// (`1` vs `1.0`) so the output reads like the file diffusers saves.
public enum ConfigJSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case list([ConfigJSONValue])

    static func int(_ value: Int) -> Self { .number(String(value)) }
    static func ints(_ values: [Int]) -> Self { .list(values.map { .number(String($0)) }) }
    static func strings(_ values: [String]) -> Self { .list(values.map { .string($0) }) }

    var jsonText: String {
        switch self {
        case .null: "null"
        case let .bool(value): value ? "true" : "false"
        case let .number(text): text
        case let .string(text): "\"" + Self.escape(text) + "\""
        case let .list(values): "[" + values.map(\.jsonText).joined(separator: ", ") + "]"
        }
    }

    private static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case _ where scalar.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// The diffusers `UNet2DConditionModel` configuration an original IF checkpoint implies (the rules of
/// diffusers' `scripts/convert_if.py`, IF-FACTS §5, with two fixes: `att_pool_heads` is carried into
/// `addition_embed_type_num_heads`, and any `num_res_blocks`, int or per level, is handled).
public struct DiffusersUNetConfig: Sendable, Equatable {
    public let stage: OriginalStage
    public let sampleSize: Int
    public let inChannels: Int
    public let outChannels: Int
    public let blockOutChannels: [Int]
    /// Residual blocks per down level (diffusers `layers_per_block`).
    public let layersPerBlock: [Int]
    /// Whether `layers_per_block` is written as a list (it was per level in config.yml).
    public let layersPerBlockIsList: Bool
    /// Per down level: a SimpleCrossAttn block (true) or a ResnetDownsample block.
    public let levelHasAttention: [Bool]
    /// Per down level: attention without self-attention (`only_cross_attention`).
    public let levelCrossAttentionOnly: [Bool]
    public let midCrossAttentionOnly: Bool
    public let attentionHeadDim: Int
    public let crossAttentionDim: Int
    /// The T5 width when a projection `encoder_hid_proj` exists (encoder_dim != encoder_channels).
    public let encoderHidDim: Int?
    /// Width of the text input of the pooled text embedding (`add_embedding`).
    public let textEmbedDim: Int
    public let additionEmbedNumHeads: Int
    public let timeEmbedDim: Int
    /// Written explicitly when it differs from diffusers' default 4 x block_out_channels[0] (and for stage II).
    public let timeEmbeddingDimIsExplicit: Bool
    public let actFn: String
    public let scaleShift: Bool
    /// `efficient_activation`: the activation runs once on the summed embedding (stage II).
    public let skipTimeAct: Bool
    /// `scale_skip_connection`: residual sums are divided by 1/0.7071 (stage II).
    public let scaleSkipConnection: Bool

    /// diffusers' spelling of 1/0.7071 (`resnet_out_scale_factor` of IF-II-L).
    public static let skipScaleText = "1.4142271248762552"

    public init(original params: OriginalUNetParams, stage: OriginalStage) {
        self.stage = stage
        sampleSize = params.imageSize
        inChannels = params.inChannels
        outChannels = params.outChannels
        blockOutChannels = params.levelChannels
        layersPerBlock = params.numResBlocks
        layersPerBlockIsList = params.numResBlocksPerLevel
        levelHasAttention = params.channelMult.indices.map { params.attentionRates.contains(1 << $0) }
        levelCrossAttentionOnly = params.channelMult.indices.map {
            params.attentionRates.contains(1 << $0) && params.crossAttentionOnlyRates.contains(1 << $0)
        }
        midCrossAttentionOnly = params.crossAttentionOnlyRates.contains(1 << (params.channelMult.count - 1))
        attentionHeadDim = params.numHeadChannels
        crossAttentionDim = params.encoderChannels
        encoderHidDim = params.encoderDim == params.encoderChannels ? nil : params.encoderDim
        textEmbedDim = params.encoderDim
        additionEmbedNumHeads = params.attPoolHeads
        timeEmbedDim = params.timeEmbedDim
        timeEmbeddingDimIsExplicit = stage == .stageII || params.timeEmbedDim != 4 * params.modelChannels
        actFn = params.activation
        scaleShift = params.useScaleShiftNorm
        skipTimeAct = params.efficientActivation
        scaleSkipConnection = params.scaleSkipConnection
    }

    public var levelCount: Int { blockOutChannels.count }

    public var downBlockTypes: [String] {
        levelHasAttention.map { $0 ? "SimpleCrossAttnDownBlock2D" : "ResnetDownsampleBlock2D" }
    }

    public var upBlockTypes: [String] {
        levelHasAttention.reversed().map { $0 ? "SimpleCrossAttnUpBlock2D" : "ResnetUpsampleBlock2D" }
    }

    /// `only_cross_attention` and `mid_block_only_cross_attention` as diffusers reads them: one bool
    /// when every attention agrees, else a per-level list plus an explicit mid-block value.
    private var onlyCrossAttentionEntries: (ConfigJSONValue, ConfigJSONValue) {
        let attentive = levelCrossAttentionOnly.enumerated().filter { levelHasAttention[$0.offset] }.map(\.element)
        if attentive.allSatisfy({ !$0 }) && !midCrossAttentionOnly { return (.bool(false), .null) }
        if attentive.allSatisfy({ $0 }) && midCrossAttentionOnly { return (.bool(true), .null) }
        return (.list(levelCrossAttentionOnly.map { .bool($0) }), .bool(midCrossAttentionOnly))
    }

    /// Every key diffusers 0.42 writes for UNet2DConditionModel, sorted as diffusers sorts them.
    public var entries: [(key: String, value: ConfigJSONValue)] {
        let (onlyCross, midOnlyCross) = onlyCrossAttentionEntries
        let scale: ConfigJSONValue = scaleSkipConnection ? .number(Self.skipScaleText) : .number("1.0")
        let midScale: ConfigJSONValue = scaleSkipConnection ? .number(Self.skipScaleText) : .number("1")
        let list: [(String, ConfigJSONValue)] = [
            ("_class_name", .string("UNet2DConditionModel")),
            ("_ifconvert_derived_from", .string("config.yml")),
            ("act_fn", .string(actFn)),
            ("addition_embed_type", .string("text")),
            ("addition_embed_type_num_heads", .int(additionEmbedNumHeads)),
            ("addition_time_embed_dim", .null),
            ("attention_head_dim", .int(attentionHeadDim)),
            ("attention_type", .string("default")),
            ("block_out_channels", .ints(blockOutChannels)),
            ("center_input_sample", .bool(false)),
            ("class_embed_type", stage == .stageII ? .string("timestep") : .null),
            ("class_embeddings_concat", .bool(false)),
            ("conv_in_kernel", .int(3)),
            ("conv_out_kernel", .int(3)),
            ("cross_attention_dim", .int(crossAttentionDim)),
            ("cross_attention_norm", .string("group_norm")),
            ("down_block_types", .strings(downBlockTypes)),
            ("downsample_padding", .int(1)),
            ("dropout", .number("0.0")),
            ("dual_cross_attention", .bool(false)),
            ("encoder_hid_dim", encoderHidDim.map { .int($0) } ?? .null),
            ("encoder_hid_dim_type", encoderHidDim == nil ? .null : .string("text_proj")),
            ("flip_sin_to_cos", .bool(true)),
            ("freq_shift", .int(0)),
            ("in_channels", .int(inChannels)),
            ("layers_per_block", layersPerBlockIsList ? .ints(layersPerBlock) : .int(layersPerBlock[0])),
            ("mid_block_only_cross_attention", midOnlyCross),
            ("mid_block_scale_factor", midScale),
            ("mid_block_type", .string("UNetMidBlock2DSimpleCrossAttn")),
            ("norm_eps", .number("1e-05")),
            ("norm_num_groups", .int(32)),
            ("num_attention_heads", .null),
            ("num_class_embeds", .null),
            ("only_cross_attention", onlyCross),
            ("out_channels", .int(outChannels)),
            ("projection_class_embeddings_input_dim", .null),
            ("resnet_out_scale_factor", scale),
            ("resnet_skip_time_act", .bool(skipTimeAct)),
            ("resnet_time_scale_shift", .string(scaleShift ? "scale_shift" : "default")),
            ("reverse_transformer_layers_per_block", .null),
            ("sample_size", .int(sampleSize)),
            ("time_cond_proj_dim", .null),
            ("time_embedding_act_fn", skipTimeAct ? .string(actFn) : .null),
            ("time_embedding_dim", timeEmbeddingDimIsExplicit ? .int(timeEmbedDim) : .null),
            ("time_embedding_type", .string("positional")),
            ("timestep_post_act", .null),
            ("transformer_layers_per_block", .int(1)),
            ("up_block_types", .strings(upBlockTypes)),
            ("upcast_attention", .bool(false)),
            ("use_linear_projection", .bool(false)),
        ]
        return list.map { (key: $0.0, value: $0.1) }
    }

    /// The value of one key, nil if the key is not written.
    public subscript(key: String) -> ConfigJSONValue? {
        entries.first { $0.key == key }?.value
    }

    /// `unet/config.json` text: two-space indent, sorted keys, trailing newline (as diffusers writes).
    public var jsonText: String {
        "{\n" + entries.map { "  \"\($0.key)\": \($0.value.jsonText)" }.joined(separator: ",\n") + "\n}\n"
    }
}
