import Foundation

/// The `params:` of an original IF `config.yml`, typed and checked: the keyword arguments of the
/// DeepFloyd `UNetModel` / `SuperResUNetModel` constructors (`deepfloyd_if/model/unet.py`), with the same
/// defaults. Resolutions are turned into downsample rates (`ds = image_size / resolution`) as the
/// original constructor does.
public struct OriginalUNetParams: Sendable, Equatable {
    public var imageSize: Int
    public var inChannels: Int
    public var outChannels: Int
    public var modelChannels: Int
    /// One multiplier per level (`channel_mult`, default 1,2,4,8).
    public var channelMult: [Int]
    /// Residual blocks per level (`num_res_blocks`, an int or one entry per level).
    public var numResBlocks: [Int]
    /// Whether `num_res_blocks` was written per level (diffusers then writes a list too).
    public var numResBlocksPerLevel: Bool
    /// Downsample rates with attention (from `attention_resolutions`).
    public var attentionRates: Set<Int>
    /// Downsample rates whose attention has no self-attention (from `disable_self_attentions`).
    public var crossAttentionOnlyRates: Set<Int>
    public var numHeadChannels: Int
    public var encoderDim: Int
    public var encoderChannels: Int
    public var attPoolHeads: Int
    public var useScaleShiftNorm: Bool
    public var resblockUpdown: Bool
    public var efficientActivation: Bool
    public var scaleSkipConnection: Bool
    /// `gelu` or `silu` (the names diffusers also uses).
    public var activation: String
    /// "16", "bf16" or "32": the dtype the original code builds the model in.
    public var precision: String

    /// Every key the original constructors accept; anything else is rejected as the original code would.
    public static let knownKeys: Set<String> = [
        "image_size", "in_channels", "out_channels", "model_channels", "channel_mult", "num_res_blocks",
        "attention_resolutions", "num_heads", "num_head_channels", "num_heads_upsample", "use_scale_shift_norm",
        "dropout", "resblock_updown", "encoder_dim", "encoder_channels", "activation", "att_pool_heads",
        "disable_self_attentions", "precision", "efficient_activation", "scale_skip_connection", "conv_resample",
        "dims", "num_classes", "interpolate_mode",
    ]

    /// The keys whose presence marks a `config.yml` as an original IF UNet config (detection).
    public static let signatureKeys: [String] = [
        "model_channels", "channel_mult", "num_res_blocks", "attention_resolutions", "encoder_dim", "encoder_channels",
    ]

    public init(_ file: OriginalConfigFile) throws(OriginalLayoutError) {
        let reader = ParamReader(file: file)
        let unknown = file.keys.filter { !Self.knownKeys.contains($0) }
        if let first = unknown.first {
            throw .config(path: file.path, key: first,
                          message: "unknown key (the original UNetModel accepts: \(Self.knownKeys.sorted().joined(separator: ", ")))")
        }
        imageSize = try reader.positiveInt("image_size")
        inChannels = try reader.positiveInt("in_channels")
        outChannels = try reader.positiveInt("out_channels")
        modelChannels = try reader.positiveInt("model_channels")
        channelMult = try reader.intList("channel_mult", default: [1, 2, 4, 8])
        guard !channelMult.isEmpty, channelMult.allSatisfy({ $0 > 0 }) else {
            throw .config(path: file.path, key: "channel_mult", message: "expected positive multipliers, found \(channelMult)")
        }
        switch file.params["num_res_blocks"] {
        case let .int(count)?:
            numResBlocks = Array(repeating: count, count: channelMult.count)
            numResBlocksPerLevel = false
        default:
            numResBlocks = try reader.intList("num_res_blocks", default: nil)
            numResBlocksPerLevel = true
            guard numResBlocks.count == channelMult.count else {
                throw .config(path: file.path, key: "num_res_blocks",
                              message: "\(numResBlocks.count) entries, expected one per level (\(channelMult.count))")
            }
        }
        guard numResBlocks.allSatisfy({ $0 > 0 }) else {
            throw .config(path: file.path, key: "num_res_blocks", message: "expected positive counts, found \(numResBlocks)")
        }
        attentionRates = Set(try reader.resolutionRates("attention_resolutions", imageSize: imageSize))
        switch file.params["disable_self_attentions"] {
        case nil, .null?, .bool(false)?, .int(0)?:
            crossAttentionOnlyRates = []
        case .bool(true)?, .int(1)?:
            // The original code turns `True` into the raw attention_resolutions *value*: with the string
            // form IF writes it compares characters to ints and disables nothing. Too ambiguous to follow.
            throw .unsupported(path: file.path,
                               message: "disable_self_attentions: true (list the resolutions instead, e.g. \"32,16\")")
        default:
            crossAttentionOnlyRates = Set(try reader.resolutionRates("disable_self_attentions", imageSize: imageSize))
        }
        let numHeads = try reader.int("num_heads", default: 1)
        numHeadChannels = try reader.int("num_head_channels", default: -1)
        _ = try reader.int("num_heads_upsample", default: -1)  // only used when num_head_channels is -1
        encoderDim = try reader.positiveInt("encoder_dim")
        encoderChannels = try reader.positiveInt("encoder_channels")
        attPoolHeads = try reader.positiveInt("att_pool_heads")
        useScaleShiftNorm = try reader.bool("use_scale_shift_norm", default: false)
        resblockUpdown = try reader.bool("resblock_updown", default: false)
        efficientActivation = try reader.bool("efficient_activation", default: false)
        scaleSkipConnection = try reader.bool("scale_skip_connection", default: false)
        activation = try reader.string("activation", default: nil)
        precision = try reader.scalarText("precision", default: "32")
        _ = try reader.double("dropout", default: 0)  // inference only

        // What diffusers' UNet2DConditionModel cannot express: say so instead of producing a wrong model.
        let path = file.path
        guard try reader.int("dims", default: 2) == 2 else {
            throw .unsupported(path: path, message: "dims \(file.params["dims"]!) (only 2-D UNets)")
        }
        if let classes = file.params["num_classes"], classes != .null {
            throw .unsupported(path: path, message: "num_classes \(classes) (class-conditional label_emb)")
        }
        guard resblockUpdown else {
            throw .unsupported(path: path, message:
                "resblock_updown false (diffusers' SimpleCrossAttn blocks always resample with ResNet blocks)")
        }
        _ = try reader.bool("conv_resample", default: true)  // no effect with resblock_updown
        guard numHeadChannels > 0 else {
            throw .unsupported(path: path, message:
                "num_head_channels \(numHeadChannels) with num_heads \(numHeads) (diffusers needs a fixed head width)")
        }
        guard channelMult[0] == 1 else {
            throw .unsupported(path: path, message:
                "channel_mult starting at \(channelMult[0]) (diffusers' timestep projection width is block_out_channels[0], the original's is model_channels)")
        }
        guard ["gelu", "silu"].contains(activation) else {
            throw .unsupported(path: path, message: "activation '\(activation)' (gelu and silu map onto diffusers)")
        }
        guard ["16", "bf16", "32"].contains(precision) else {
            throw .config(path: path, key: "precision", message: "expected \"16\", \"bf16\" or \"32\", found \(precision)")
        }
        let maxRate = 1 << (channelMult.count - 1)
        for rate in attentionRates.union(crossAttentionOnlyRates) where rate < 1 || rate > maxRate || rate & (rate - 1) != 0 {
            throw .config(path: path, key: "attention_resolutions",
                          message: "resolution \(imageSize / max(rate, 1)) is no level of a \(channelMult.count)-level UNet at image_size \(imageSize)")
        }
        for (level, mult) in channelMult.enumerated() where attentionRates.contains(1 << level) {
            let channels = modelChannels * mult
            guard channels % numHeadChannels == 0, channels % 32 == 0 else {
                throw .config(path: path, key: "num_head_channels", message:
                    "level \(level) has \(channels) channels: not a multiple of \(numHeadChannels) head channels and 32 groups")
            }
        }
        guard encoderDim % attPoolHeads == 0 else {
            throw .config(path: path, key: "att_pool_heads",
                          message: "\(attPoolHeads) heads do not divide encoder_dim \(encoderDim)")
        }
    }

    /// Width of the time embedding: `model_channels x max(channel_mult)` in the original code.
    public var timeEmbedDim: Int { modelChannels * (channelMult.max() ?? 1) }
    public var levelChannels: [Int] { channelMult.map { modelChannels * $0 } }
}

/// Typed access to `params` with messages that name the key.
private struct ParamReader {
    let file: OriginalConfigFile

    func fail(_ key: String, _ expected: String) -> OriginalLayoutError {
        let found = file.params[key].map(\.description) ?? "nothing"
        return .config(path: file.path, key: key, message: "expected \(expected), found \(found)")
    }

    func int(_ key: String, default fallback: Int?) throws(OriginalLayoutError) -> Int {
        switch file.params[key] {
        case let .int(value)?: return value
        case let .string(text)? where Int(text) != nil: return Int(text)!
        case nil: if let fallback { return fallback }
        default: break
        }
        throw fail(key, "an integer")
    }

    func positiveInt(_ key: String) throws(OriginalLayoutError) -> Int {
        let value = try int(key, default: nil)
        guard value > 0 else { throw fail(key, "a positive integer") }
        return value
    }

    func double(_ key: String, default fallback: Double) throws(OriginalLayoutError) -> Double {
        switch file.params[key] {
        case let .int(value)?: return Double(value)
        case let .double(value)?: return value
        case nil: return fallback
        default: throw fail(key, "a number")
        }
    }

    func bool(_ key: String, default fallback: Bool) throws(OriginalLayoutError) -> Bool {
        switch file.params[key] {
        case let .bool(value)?: return value
        case let .int(value)? where value == 0 || value == 1: return value == 1
        case nil: return fallback
        default: throw fail(key, "true or false")
        }
    }

    func string(_ key: String, default fallback: String?) throws(OriginalLayoutError) -> String {
        switch file.params[key] {
        case let .string(value)?: return value
        case nil: if let fallback { return fallback }
        default: break
        }
        throw fail(key, "a string")
    }

    /// A scalar as text (`precision: 16` and `precision: "16"` both read "16").
    func scalarText(_ key: String, default fallback: String) throws(OriginalLayoutError) -> String {
        switch file.params[key] {
        case let .string(value)?: return value
        case let .int(value)?: return String(value)
        case nil: return fallback
        default: throw fail(key, "a string")
        }
    }

    /// "1,2,3,4", [1, 2, 3, 4] or a single integer.
    func intList(_ key: String, default fallback: [Int]?) throws(OriginalLayoutError) -> [Int] {
        switch file.params[key] {
        case let .string(text)?:
            var values: [Int] = []
            for part in text.split(separator: ",", omittingEmptySubsequences: false) {
                guard let value = Int(part.trimmingCharacters(in: .whitespaces)) else {
                    throw fail(key, "comma-separated integers")
                }
                values.append(value)
            }
            return values
        case let .list(items)?:
            var values: [Int] = []
            for item in items {
                guard case let .int(value) = item else { throw fail(key, "a list of integers") }
                values.append(value)
            }
            return values
        case let .int(value)?:
            return [value]
        case nil:
            if let fallback { return fallback }
            throw fail(key, "a list of integers")
        default:
            throw fail(key, "a list of integers")
        }
    }

    /// Resolutions → downsample rates, as `image_size // res` in the original constructor.
    func resolutionRates(_ key: String, imageSize: Int) throws(OriginalLayoutError) -> [Int] {
        let resolutions = try intList(key, default: nil)
        var rates: [Int] = []
        for resolution in resolutions {
            guard resolution > 0, imageSize % resolution == 0 else {
                throw .config(path: file.path, key: key,
                              message: "resolution \(resolution) does not divide image_size \(imageSize)")
            }
            rates.append(imageSize / resolution)
        }
        return rates
    }
}
