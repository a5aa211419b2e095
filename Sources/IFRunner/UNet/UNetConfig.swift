import Foundation

/// The parts of a diffusers `UNet2DConditionModel` `config.json` that IF's stage I and stage II UNets
/// use, with diffusers' defaults for absent keys and the per-level expansions it applies
/// (`layers_per_block`/`attention_head_dim` given as an int or a per-level list). Anything the
/// runner does not implement is rejected when the config is read, not in the middle of a forward.
public struct UNetConfig: Sendable, Equatable {
    public enum Activation: String, Sendable, Equatable {
        case gelu, silu, swish, relu

        init(parsing name: String, key: String) throws(RunnerError) {
            guard let value = Activation(rawValue: name.lowercased()) else {
                throw .badConfig("\(key) '\(name)' is not supported (expected gelu, silu, swish or relu)")
            }
            self = value
        }
    }

    public enum DownBlock: String, Sendable, Equatable {
        case resnetDownsample = "ResnetDownsampleBlock2D"
        case simpleCrossAttention = "SimpleCrossAttnDownBlock2D"
    }

    public enum UpBlock: String, Sendable, Equatable {
        case resnetUpsample = "ResnetUpsampleBlock2D"
        case simpleCrossAttention = "SimpleCrossAttnUpBlock2D"
    }

    public var sampleSize: Int?
    public var inChannels: Int
    public var outChannels: Int
    public var blockOutChannels: [Int]
    public var downBlocks: [DownBlock]
    public var upBlocks: [UpBlock]
    /// Resnets per down level (up levels have one more), expanded to one entry per level.
    public var layersPerBlock: [Int]
    /// Channels per attention head, per level (diffusers' `attention_head_dim`).
    public var attentionHeadDim: [Int]
    public var normGroups: Int
    public var normEpsilon: Float
    public var activation: Activation
    public var flipSinToCos: Bool
    public var freqShift: Float
    /// Width of the time embedding (`time_embedding_dim`, else 4 x block_out_channels[0]).
    public var timeEmbedDim: Int
    public var timeEmbeddingActivation: Activation?
    /// "timestep" (stage II: the noise level goes through the sinusoid + an MLP) or nil.
    public var classEmbedTimestep: Bool
    /// `addition_embed_type == "text"`: pooled text added to the time embedding.
    public var textAdditionEmbedding: Bool
    public var additionEmbedHeads: Int
    /// `encoder_hid_dim` (T5 width) when `encoder_hid_proj` exists.
    public var encoderHidDim: Int?
    public var crossAttentionDim: Int
    /// `cross_attention_norm == "group_norm"` (IF) vs nil (no norm on the text states).
    public var crossAttentionGroupNorm: Bool
    public var onlyCrossAttention: [Bool]
    public var midBlockOnlyCrossAttention: Bool
    public var resnetSkipTimeAct: Bool
    public var resnetOutScaleFactor: Float
    public var midBlockScaleFactor: Float
    public var hasMidBlock: Bool

    public var levelCount: Int { blockOutChannels.count }

    /// Reads `config.json` of a diffusers UNet folder.
    public init(contentsOf url: URL) throws(RunnerError) {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw .badConfig("cannot read \(url.path): \(error.localizedDescription)")
        }
        try self.init(json: data, origin: url.path)
    }

    public init(json data: Data, origin: String = "config.json") throws(RunnerError) {
        let r = ConfigReader(dict: try JSONValue.parse(data, origin: origin), origin: origin)
        if let cls = try r.optionalString("_class_name"), cls != "UNet2DConditionModel" {
            throw .badConfig("\(origin): _class_name '\(cls)', expected UNet2DConditionModel")
        }
        sampleSize = try r.optionalInt("sample_size")
        inChannels = try r.int("in_channels", default: 4)
        outChannels = try r.int("out_channels", default: 4)
        blockOutChannels = try r.intList("block_out_channels", default: [320, 640, 1280, 1280])
        let levels = blockOutChannels.count
        guard levels >= 1, blockOutChannels.allSatisfy({ $0 > 0 }) else {
            throw .badConfig("\(origin): block_out_channels \(blockOutChannels) must be positive")
        }
        let downNames = try r.stringList("down_block_types", default: [])
        let upNames = try r.stringList("up_block_types", default: [])
        guard downNames.count == levels, upNames.count == levels else {
            throw .badConfig("\(origin): \(downNames.count) down and \(upNames.count) up block types for \(levels) block_out_channels")
        }
        downBlocks = try downNames.map { name throws(RunnerError) in
            guard let b = DownBlock(rawValue: name) else {
                throw .unsupported("\(origin): down block type '\(name)' (IF uses ResnetDownsampleBlock2D, SimpleCrossAttnDownBlock2D)")
            }
            return b
        }
        upBlocks = try upNames.map { name throws(RunnerError) in
            guard let b = UpBlock(rawValue: name) else {
                throw .unsupported("\(origin): up block type '\(name)' (IF uses ResnetUpsampleBlock2D, SimpleCrossAttnUpBlock2D)")
            }
            return b
        }
        layersPerBlock = try r.perLevelInt("layers_per_block", default: 2, levels: levels)
        // diffusers: num_attention_heads falls back to attention_head_dim; the simple cross-attention
        // blocks only read attention_head_dim (None there means one head of the block's width).
        if r.isSet("num_attention_heads") {
            throw .unsupported("\(origin): num_attention_heads (diffusers rejects it too)")
        }
        if r.isNull("attention_head_dim") {
            attentionHeadDim = blockOutChannels
        } else {
            attentionHeadDim = try r.perLevelInt("attention_head_dim", default: 8, levels: levels)
        }
        normGroups = try r.int("norm_num_groups", default: 32)
        normEpsilon = try r.float("norm_eps", default: 1e-5)
        activation = try Activation(parsing: r.string("act_fn", default: "silu"), key: "act_fn")
        flipSinToCos = try r.bool("flip_sin_to_cos", default: true)
        freqShift = try r.float("freq_shift", default: 0)
        let timeType = try r.string("time_embedding_type", default: "positional")
        guard timeType == "positional" else { throw .unsupported("\(origin): time_embedding_type '\(timeType)'") }
        timeEmbedDim = try r.optionalInt("time_embedding_dim") ?? blockOutChannels[0] * 4
        if let name = try r.optionalString("time_embedding_act_fn") {
            timeEmbeddingActivation = try Activation(parsing: name, key: "time_embedding_act_fn")
        }
        let classType = try r.optionalString("class_embed_type")
        guard classType == nil || classType == "timestep" else {
            throw .unsupported("\(origin): class_embed_type '\(classType!)' (IF stage II uses 'timestep')")
        }
        guard try r.optionalInt("num_class_embeds") == nil || classType != nil else {
            throw .unsupported("\(origin): num_class_embeds (label embedding table)")
        }
        classEmbedTimestep = classType == "timestep"
        let addType = try r.optionalString("addition_embed_type")
        guard addType == nil || addType == "text" else {
            throw .unsupported("\(origin): addition_embed_type '\(addType!)' (IF uses 'text')")
        }
        textAdditionEmbedding = addType == "text"
        additionEmbedHeads = try r.int("addition_embed_type_num_heads", default: 64)
        crossAttentionDim = try r.perLevelInt("cross_attention_dim", default: 1280, levels: levels)[0]
        let crossDims = try r.perLevelInt("cross_attention_dim", default: 1280, levels: levels)
        guard Set(crossDims).count == 1 else { throw .unsupported("\(origin): per-level cross_attention_dim \(crossDims)") }
        encoderHidDim = try r.optionalInt("encoder_hid_dim")
        let hidType = try r.optionalString("encoder_hid_dim_type") ?? (encoderHidDim != nil ? "text_proj" : nil)
        guard hidType == nil || hidType == "text_proj" else {
            throw .unsupported("\(origin): encoder_hid_dim_type '\(hidType!)' (IF uses 'text_proj')")
        }
        if hidType == "text_proj", encoderHidDim == nil {
            throw .badConfig("\(origin): encoder_hid_dim_type 'text_proj' needs encoder_hid_dim")
        }
        let crossNorm = try r.optionalString("cross_attention_norm")
        guard crossNorm == nil || crossNorm == "group_norm" else {
            throw .unsupported("\(origin): cross_attention_norm '\(crossNorm!)' (IF uses 'group_norm')")
        }
        crossAttentionGroupNorm = crossNorm == "group_norm"
        if let flag = try? r.optionalBool("only_cross_attention") {
            onlyCrossAttention = Array(repeating: flag, count: levels)
            midBlockOnlyCrossAttention = try r.optionalBool("mid_block_only_cross_attention") ?? flag
        } else {
            onlyCrossAttention = try r.boolList("only_cross_attention", default: Array(repeating: false, count: levels))
            guard onlyCrossAttention.count == levels else {
                throw .badConfig("\(origin): only_cross_attention has \(onlyCrossAttention.count) entries for \(levels) levels")
            }
            midBlockOnlyCrossAttention = try r.optionalBool("mid_block_only_cross_attention") ?? false
        }
        resnetSkipTimeAct = try r.bool("resnet_skip_time_act", default: false)
        resnetOutScaleFactor = try r.float("resnet_out_scale_factor", default: 1)
        midBlockScaleFactor = try r.float("mid_block_scale_factor", default: 1)
        let midType = try r.optionalString("mid_block_type", default: "UNetMidBlock2DCrossAttn")
        guard midType == nil || midType == "UNetMidBlock2DSimpleCrossAttn" else {
            throw .unsupported("\(origin): mid_block_type '\(midType!)' (IF uses UNetMidBlock2DSimpleCrossAttn)")
        }
        hasMidBlock = midType != nil
        let shift = try r.string("resnet_time_scale_shift", default: "default")
        guard shift == "scale_shift" else {
            throw .unsupported("\(origin): resnet_time_scale_shift '\(shift)' (IF uses 'scale_shift')")
        }
        for (key, expected) in [("conv_in_kernel", 3), ("conv_out_kernel", 3)] {
            let value = try r.int(key, default: 3)
            guard value == expected else { throw .unsupported("\(origin): \(key) \(value) (expected \(expected))") }
        }
        for key in ["center_input_sample", "class_embeddings_concat", "dual_cross_attention", "use_linear_projection", "upcast_attention"] {
            if try r.bool(key, default: false) { throw .unsupported("\(origin): \(key) = true") }
        }
        for key in ["time_cond_proj_dim", "timestep_post_act", "addition_time_embed_dim"] where r.isSet(key) {
            throw .unsupported("\(origin): \(key) is set")
        }
        guard normGroups > 0 else { throw .badConfig("\(origin): norm_num_groups \(normGroups)") }
        for (level, channels) in blockOutChannels.enumerated() where channels % normGroups != 0 {
            throw .badConfig("\(origin): block_out_channels[\(level)] = \(channels) is not a multiple of norm_num_groups \(normGroups)")
        }
        for (level, heads) in attentionHeadDim.enumerated() where heads <= 0 || blockOutChannels[level] / heads == 0 {
            throw .badConfig("\(origin): attention_head_dim[\(level)] = \(heads) gives no head for \(blockOutChannels[level]) channels")
        }
    }
}

/// A parsed JSON value; keeps booleans and numbers apart (Foundation's NSNumber does not on Linux).
enum JSONValue: Decodable, Sendable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    static func parse(_ data: Data, origin: String) throws(RunnerError) -> [String: JSONValue] {
        let value: JSONValue
        do { value = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw .badConfig("\(origin) is not valid JSON: \(error)")
        }
        guard case let .object(dict) = value else { throw .badConfig("\(origin) is not a JSON object") }
        return dict
    }

    var text: String {
        switch self {
        case .null: "null"
        case let .bool(b): "\(b)"
        case let .number(d): d == d.rounded() && abs(d) < 1e15 ? "\(Int(d))" : "\(d)"
        case let .string(s): "'\(s)'"
        case let .array(a): "[" + a.map(\.text).joined(separator: ", ") + "]"
        case .object: "{...}"
        }
    }
}

/// Typed access to a JSON config with diffusers' defaults; messages name the key and the file.
struct ConfigReader {
    let dict: [String: JSONValue]
    let origin: String

    func isSet(_ key: String) -> Bool { value(key) != nil }
    func isNull(_ key: String) -> Bool { dict[key] == .null }

    private func value(_ key: String) -> JSONValue? {
        guard let v = dict[key], v != .null else { return nil }
        return v
    }

    private func bad(_ key: String, _ expected: String, _ found: JSONValue) -> RunnerError {
        .badConfig("\(origin): \(key) is \(found.text), expected \(expected)")
    }

    func optionalInt(_ key: String) throws(RunnerError) -> Int? {
        guard let v = value(key) else { return nil }
        if case let .number(d) = v, d == d.rounded(), abs(d) < 1e15 { return Int(d) }
        throw bad(key, "an integer", v)
    }

    func int(_ key: String, default fallback: Int) throws(RunnerError) -> Int {
        try optionalInt(key) ?? fallback
    }

    /// Python floats are doubles; torch rounds them to float32 at the op, as this does.
    func optionalDouble(_ key: String) throws(RunnerError) -> Double? {
        guard let v = value(key) else { return nil }
        if case let .number(d) = v { return d }
        throw bad(key, "a number", v)
    }

    func float(_ key: String, default fallback: Float) throws(RunnerError) -> Float {
        try optionalDouble(key).map { Float($0) } ?? fallback
    }

    func optionalBool(_ key: String) throws(RunnerError) -> Bool? {
        guard let v = value(key) else { return nil }
        if case let .bool(b) = v { return b }
        throw bad(key, "true or false", v)
    }

    func bool(_ key: String, default fallback: Bool) throws(RunnerError) -> Bool {
        try optionalBool(key) ?? fallback
    }

    /// A string; an explicit JSON null gives nil even when a default exists.
    func optionalString(_ key: String, default fallback: String? = nil) throws(RunnerError) -> String? {
        if isNull(key) { return nil }
        guard let v = value(key) else { return fallback }
        if case let .string(s) = v { return s }
        throw bad(key, "a string", v)
    }

    func string(_ key: String, default fallback: String) throws(RunnerError) -> String {
        try optionalString(key) ?? fallback
    }

    func intList(_ key: String, default fallback: [Int]) throws(RunnerError) -> [Int] {
        guard let v = value(key) else { return fallback }
        guard case let .array(items) = v else { throw bad(key, "a list of integers", v) }
        return try items.map { item throws(RunnerError) in
            guard case let .number(d) = item, d == d.rounded() else { throw bad(key, "a list of integers", v) }
            return Int(d)
        }
    }

    func boolList(_ key: String, default fallback: [Bool]) throws(RunnerError) -> [Bool] {
        guard let v = value(key) else { return fallback }
        guard case let .array(items) = v else { throw bad(key, "a list of booleans", v) }
        return try items.map { item throws(RunnerError) in
            guard case let .bool(b) = item else { throw bad(key, "a list of booleans", v) }
            return b
        }
    }

    func stringList(_ key: String, default fallback: [String]) throws(RunnerError) -> [String] {
        guard let v = value(key) else { return fallback }
        guard case let .array(items) = v else { throw bad(key, "a list of strings", v) }
        return try items.map { item throws(RunnerError) in
            guard case let .string(s) = item else { throw bad(key, "a list of strings", v) }
            return s
        }
    }

    /// An int or a list with one entry per level (diffusers expands an int to every level).
    func perLevelInt(_ key: String, default fallback: Int, levels: Int) throws(RunnerError) -> [Int] {
        guard let v = value(key) else { return Array(repeating: fallback, count: levels) }
        if case .array = v {
            let list = try intList(key, default: [])
            guard list.count == levels else { throw bad(key, "\(levels) entries (one per level)", v) }
            return list
        }
        return Array(repeating: try optionalInt(key) ?? fallback, count: levels)
    }
}
