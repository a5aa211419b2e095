/// Every tensor of the diffusers UNet2DConditionModel a config describes, each with its recipe from
/// the original checkpoint, and the shape every original tensor must have. Built by walking the
/// original `UNetModel` constructor's block order (input blocks, middle block, output blocks), so the
/// block-index arithmetic holds for any `num_res_blocks`, int or per level.
public struct OriginalLayoutPlan: Sendable {
    /// diffusers tensors in diffusers' state-dict order.
    public private(set) var tensors: [PlannedTensor] = []
    /// Original tensor name -> the shape the config requires.
    public private(set) var originalShapes: [String: [Int]] = [:]
    /// Original tensor names in the order they were planned.
    public private(set) var originalNames: [String] = []

    public init(config: DiffusersUNetConfig) {
        let channels = config.blockOutChannels
        let levels = config.levelCount
        for rename in OriginalLayoutRules.head {
            add(rename, dims: config, originalPrefix: "", diffusersPrefix: "")
        }

        // Input blocks: index 0 is conv_in; then per level its ResBlocks (+ attention) and, except on
        // the last level, the down-ResBlock that diffusers calls downsamplers.0.
        var down = Array(repeating: BlockTensors(), count: levels)
        var inputIndex = 1
        var current = channels[0]
        var skipChannels = [current]
        for level in 0..<levels {
            for layer in 0..<config.layersPerBlock[level] {
                let original = "input_blocks.\(inputIndex)"
                down[level].resnets += planResnet(config, in: current, out: channels[level],
                                                  original: "\(original).0", diffusers: "down_blocks.\(level).resnets.\(layer)")
                current = channels[level]
                if config.levelHasAttention[level] {
                    down[level].attentions += planAttention(config, channels: current, crossOnly: config.levelCrossAttentionOnly[level],
                                                            original: "\(original).1", diffusers: "down_blocks.\(level).attentions.\(layer)")
                }
                skipChannels.append(current)
                inputIndex += 1
            }
            if level != levels - 1 {
                down[level].samplers += planResnet(config, in: current, out: current,
                                                   original: "input_blocks.\(inputIndex).0", diffusers: "down_blocks.\(level).downsamplers.0")
                skipChannels.append(current)
                inputIndex += 1
            }
        }

        // Middle block: ResBlock, attention, ResBlock.
        var mid = BlockTensors()
        mid.resnets += planResnet(config, in: current, out: current, original: "middle_block.0", diffusers: "mid_block.resnets.0")
        mid.attentions += planAttention(config, channels: current, crossOnly: config.midCrossAttentionOnly,
                                        original: "middle_block.1", diffusers: "mid_block.attentions.0")
        mid.resnets += planResnet(config, in: current, out: current, original: "middle_block.2", diffusers: "mid_block.resnets.1")

        // Output blocks: levels in reverse, layers_per_block + 1 each, every one consuming a skip; the
        // last block of every level but the top ends with the up-ResBlock (upsamplers.0), at `.2` after
        // an attention, else at `.1`.
        var up = Array(repeating: BlockTensors(), count: levels)
        var outputIndex = 0
        for level in (0..<levels).reversed() {
            let block = levels - 1 - level
            for layer in 0...config.layersPerBlock[level] {
                let original = "output_blocks.\(outputIndex)"
                let skip = skipChannels.removeLast()
                up[block].resnets += planResnet(config, in: current + skip, out: channels[level],
                                                original: "\(original).0", diffusers: "up_blocks.\(block).resnets.\(layer)")
                current = channels[level]
                var child = 1
                if config.levelHasAttention[level] {
                    up[block].attentions += planAttention(config, channels: current, crossOnly: config.levelCrossAttentionOnly[level],
                                                          original: "\(original).1", diffusers: "up_blocks.\(block).attentions.\(layer)")
                    child = 2
                }
                if level > 0 && layer == config.layersPerBlock[level] {
                    up[block].samplers += planResnet(config, in: current, out: current,
                                                     original: "\(original).\(child)", diffusers: "up_blocks.\(block).upsamplers.0")
                }
                outputIndex += 1
            }
        }

        // diffusers registers down_blocks, up_blocks, then mid_block; each block lists attentions first.
        for block in down + up + [mid] {
            tensors += block.attentions + block.resnets + block.samplers
        }
        for rename in OriginalLayoutRules.tail {
            add(rename, dims: config, originalPrefix: "", diffusersPrefix: "")
        }
    }

    /// Tensors of one diffusers block, kept apart so they can be emitted in diffusers' order.
    private struct BlockTensors {
        var attentions: [PlannedTensor] = []
        var resnets: [PlannedTensor] = []
        var samplers: [PlannedTensor] = []
    }

    private mutating func planResnet(
        _ config: DiffusersUNetConfig, in inChannels: Int, out outChannels: Int, original: String, diffusers: String
    ) -> [PlannedTensor] {
        let dims = ResnetDims(inChannels: inChannels, outChannels: outChannels,
                              timeEmbedDim: config.timeEmbedDim, scaleShift: config.scaleShift)
        let start = tensors.count
        for rename in OriginalLayoutRules.resnet {
            add(rename, dims: dims, originalPrefix: original + ".", diffusersPrefix: diffusers + ".")
        }
        return takeTensors(from: start)
    }

    private mutating func planAttention(
        _ config: DiffusersUNetConfig, channels: Int, crossOnly: Bool, original: String, diffusers: String
    ) -> [PlannedTensor] {
        let dims = AttentionDims(channels: channels, crossAttentionDim: config.crossAttentionDim,
                                 headDim: config.attentionHeadDim, crossAttentionOnly: crossOnly)
        let start = tensors.count
        for part in OriginalLayoutRules.attention {
            switch part {
            case let .rename(rename):
                add(rename, dims: dims, originalPrefix: original + ".", diffusersPrefix: diffusers + ".")
            case .selfProjection:
                let targets = crossOnly ? ["to_q"] : ["to_q", "to_k", "to_v"]
                addSplit("\(original).qkv", inputWidth: channels, dims: dims, targets: targets.map { "\(diffusers).\($0)" })
            case .textProjection:
                addSplit("\(original).encoder_kv", inputWidth: config.crossAttentionDim, dims: dims,
                         targets: ["\(diffusers).add_k_proj", "\(diffusers).add_v_proj"])
            }
        }
        return takeTensors(from: start)
    }

    private mutating func takeTensors(from start: Int) -> [PlannedTensor] {
        let taken = Array(tensors[start...])
        tensors.removeSubrange(start...)
        return taken
    }

    /// The one place for the fused projections: a Conv1d [parts x C, width, 1] whose rows are laid out
    /// per head as [part 0 | part 1 | ...] chunks of `headDim` rows (QKVAttention reshapes to
    /// [heads, parts x headDim]) becomes `parts` Linear weights [C, width] and biases [C]. A single
    /// target is a plain squeeze.
    private mutating func addSplit(_ original: String, inputWidth: Int, dims: AttentionDims, targets: [String]) {
        let channels = dims.channels
        let parts = targets.count
        declare("\(original).weight", shape: [parts * channels, inputWidth, 1])
        declare("\(original).bias", shape: [parts * channels])
        for (part, target) in targets.enumerated() {
            let weight: TensorRecipe = parts == 1
                ? .squeeze(source: "\(original).weight")
                : .headChunks(source: "\(original).weight", chunkRows: dims.headDim, part: part, parts: parts)
            let bias: TensorRecipe = parts == 1
                ? .copy(source: "\(original).bias")
                : .headChunks(source: "\(original).bias", chunkRows: dims.headDim, part: part, parts: parts)
            tensors.append(PlannedTensor(name: "\(target).weight", shape: [channels, inputWidth], recipe: weight))
            tensors.append(PlannedTensor(name: "\(target).bias", shape: [channels], recipe: bias))
        }
    }

    private mutating func add<Dims>(_ rename: ModuleRename<Dims>, dims: Dims, originalPrefix: String, diffusersPrefix: String) {
        guard let shape = rename.shape(dims) else { return }
        let original = originalPrefix + rename.original
        let diffusers = diffusersPrefix + rename.diffusers
        func plain(_ suffix: String, _ shape: [Int]) {
            declare("\(original).\(suffix)", shape: shape)
            tensors.append(PlannedTensor(name: "\(diffusers).\(suffix)", shape: shape,
                                         recipe: .copy(source: "\(original).\(suffix)")))
        }
        switch shape {
        case let .linear(out, input):
            plain("weight", [out, input])
            plain("bias", [out])
        case let .conv(out, input, kernel):
            plain("weight", [out, input, kernel, kernel])
            plain("bias", [out])
        case let .norm(channels):
            plain("weight", [channels])
            plain("bias", [channels])
        case let .pointwiseConv(out, input):
            declare("\(original).weight", shape: [out, input, 1])
            tensors.append(PlannedTensor(name: "\(diffusers).weight", shape: [out, input],
                                         recipe: .squeeze(source: "\(original).weight")))
            plain("bias", [out])
        case let .parameter(shape):
            declare(original, shape: shape)
            tensors.append(PlannedTensor(name: diffusers, shape: shape, recipe: .copy(source: original)))
        }
    }

    private mutating func declare(_ original: String, shape: [Int]) {
        precondition(originalShapes[original] == nil, "original tensor \(original) planned twice")
        originalShapes[original] = shape
        originalNames.append(original)
    }
}
