/// How one diffusers tensor is made from the original checkpoint.
public enum TensorRecipe: Sendable, Equatable {
    /// The original tensor, renamed.
    case copy(source: String)
    /// The original tensor with its trailing size-1 kernel dimension dropped (k=1 Conv1d -> Linear).
    case squeeze(source: String)
    /// Rows of `source` taken in chunks of `chunkRows`, round-robin over `parts` targets: this target
    /// (`part`) gets chunks part, part+parts, part+2*parts, ... concatenated (fused per-head qkv / kv).
    case headChunks(source: String, chunkRows: Int, part: Int, parts: Int)

    public var source: String {
        switch self {
        case let .copy(source), let .squeeze(source), let .headChunks(source, _, _, _): source
        }
    }
}

/// One tensor of the diffusers model and where it comes from.
public struct PlannedTensor: Sendable, Equatable {
    /// diffusers state-dict name.
    public let name: String
    /// diffusers shape.
    public let shape: [Int]
    public let recipe: TensorRecipe
}

/// The shape family of one original module; each yields `weight`/`bias` (or a bare parameter).
enum ModuleShape: Sendable {
    case linear(out: Int, in: Int)
    case conv(out: Int, in: Int, kernel: Int)
    case norm(Int)
    /// A Conv1d with kernel 1 in the original ([out, in, 1]) that diffusers holds as a Linear.
    case pointwiseConv(out: Int, in: Int)
    /// A bare parameter (no .weight/.bias suffix), copied as is.
    case parameter([Int])
}

/// One declarative rename: original module path -> diffusers module path, with its shape given the
/// dimensions of the enclosing block (nil: the module does not exist for these dimensions).
struct ModuleRename<Dims>: Sendable {
    let original: String
    let diffusers: String
    let shape: @Sendable (Dims) -> ModuleShape?

    init(_ original: String, _ diffusers: String, _ shape: @escaping @Sendable (Dims) -> ModuleShape?) {
        self.original = original
        self.diffusers = diffusers
        self.shape = shape
    }
}

struct ResnetDims: Sendable {
    let inChannels: Int
    let outChannels: Int
    let timeEmbedDim: Int
    let scaleShift: Bool
}

struct AttentionDims: Sendable {
    let channels: Int
    let crossAttentionDim: Int
    let headDim: Int
    let crossAttentionOnly: Bool
}

/// One part of an attention block: a plain rename, or one of the two fused projections that are
/// split per head (handled in one place, `OriginalLayoutPlan.addSplit`).
enum AttentionPart: Sendable {
    case rename(ModuleRename<AttentionDims>)
    /// `qkv` Conv1d [3C, C, 1] -> to_q / to_k / to_v (or [C, C, 1] -> to_q without self-attention).
    case selfProjection
    /// `encoder_kv` Conv1d [2C, E, 1] -> add_k_proj / add_v_proj.
    case textProjection
}

/// The rename tables (diffusers' `scripts/convert_if.py` renames, IF-FACTS §5), in diffusers' module order.
enum OriginalLayoutRules {
    /// ResBlock children (`renew_resnet_paths`).
    static let resnet: [ModuleRename<ResnetDims>] = [
        .init("in_layers.0", "norm1") { .norm($0.inChannels) },
        .init("in_layers.2", "conv1") { .conv(out: $0.outChannels, in: $0.inChannels, kernel: 3) },
        .init("emb_layers.1", "time_emb_proj") {
            .linear(out: $0.scaleShift ? 2 * $0.outChannels : $0.outChannels, in: $0.timeEmbedDim)
        },
        .init("out_layers.0", "norm2") { .norm($0.outChannels) },
        .init("out_layers.3", "conv2") { .conv(out: $0.outChannels, in: $0.outChannels, kernel: 3) },
        .init("skip_connection", "conv_shortcut") {
            $0.inChannels == $0.outChannels ? nil : .conv(out: $0.outChannels, in: $0.inChannels, kernel: 1)
        },
    ]

    /// AttentionBlock children (`renew_attention_paths` + `assign_attention_to_checkpoint`).
    static let attention: [AttentionPart] = [
        .rename(.init("norm", "group_norm") { .norm($0.channels) }),
        .rename(.init("norm_encoder", "norm_cross") { .norm($0.crossAttentionDim) }),
        .selfProjection,
        .textProjection,
        .rename(.init("proj_out", "to_out.0") { .pointwiseConv(out: $0.channels, in: $0.channels) }),
    ]

    /// Top-level modules before the down blocks, in diffusers' state-dict order.
    static let head: [ModuleRename<DiffusersUNetConfig>] = [
        .init("input_blocks.0.0", "conv_in") {
            .conv(out: $0.blockOutChannels[0], in: $0.inChannels, kernel: 3)
        },
        .init("time_embed.0", "time_embedding.linear_1") { .linear(out: $0.timeEmbedDim, in: $0.blockOutChannels[0]) },
        .init("time_embed.2", "time_embedding.linear_2") { .linear(out: $0.timeEmbedDim, in: $0.timeEmbedDim) },
        .init("encoder_proj", "encoder_hid_proj") { config in
            config.encoderHidDim.map { .linear(out: config.crossAttentionDim, in: $0) }
        },
        .init("aug_proj.0", "class_embedding.linear_1") {
            $0.stage == .stageII ? .linear(out: $0.timeEmbedDim, in: $0.blockOutChannels[0]) : nil
        },
        .init("aug_proj.2", "class_embedding.linear_2") {
            $0.stage == .stageII ? .linear(out: $0.timeEmbedDim, in: $0.timeEmbedDim) : nil
        },
        .init("encoder_pooling.0", "add_embedding.norm1") { .norm($0.textEmbedDim) },
        .init("encoder_pooling.1.positional_embedding", "add_embedding.pool.positional_embedding") {
            .parameter([1, $0.textEmbedDim])
        },
        .init("encoder_pooling.1.k_proj", "add_embedding.pool.k_proj") { .linear(out: $0.textEmbedDim, in: $0.textEmbedDim) },
        .init("encoder_pooling.1.q_proj", "add_embedding.pool.q_proj") { .linear(out: $0.textEmbedDim, in: $0.textEmbedDim) },
        .init("encoder_pooling.1.v_proj", "add_embedding.pool.v_proj") { .linear(out: $0.textEmbedDim, in: $0.textEmbedDim) },
        .init("encoder_pooling.2", "add_embedding.proj") { .linear(out: $0.timeEmbedDim, in: $0.textEmbedDim) },
        .init("encoder_pooling.3", "add_embedding.norm2") { .norm($0.timeEmbedDim) },
    ]

    /// Top-level modules after the blocks.
    static let tail: [ModuleRename<DiffusersUNetConfig>] = [
        .init("out.0", "conv_norm_out") { .norm($0.blockOutChannels[0]) },
        .init("out.2", "conv_out") { .conv(out: $0.outChannels, in: $0.blockOutChannels[0], kernel: 3) },
    ]
}
