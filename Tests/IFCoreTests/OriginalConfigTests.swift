import Foundation
import Testing
@testable import IFCore

/// config.yml of IF-I-XL-v1.0, verbatim (IF-FACTS §3.1).
let ifIXLConfigYAML = """
params:
  image_size: 64
  model_channels: 704
  num_res_blocks: 3
  channel_mult: "1,2,3,4"
  attention_resolutions: "32,16,8"
  num_heads: 1
  num_head_channels: 64
  num_heads_upsample: -1
  use_scale_shift_norm: true
  dropout: 0.0
  resblock_updown: true
  encoder_dim: 4096
  encoder_channels: 2816
  in_channels: 3
  out_channels: 6
  activation: "gelu"
  att_pool_heads: 64
  disable_self_attentions: false
  precision: "16"
"""

/// unet/config.json of IF-I-XL-v1.0 as re-saved by diffusers 0.19 (IF-FACTS §3.2), with the three keys
/// the copy truncated filled from convert_if.py (up_block_types, upcast_attention, use_linear_projection).
let ifIXLDiffusersJSON = """
{"act_fn": "gelu", "addition_embed_type": "text", "addition_embed_type_num_heads": 64,
 "addition_time_embed_dim": null, "attention_head_dim": 64,
 "block_out_channels": [704, 1408, 2112, 2816], "center_input_sample": false,
 "class_embed_type": null, "class_embeddings_concat": false, "conv_in_kernel": 3, "conv_out_kernel": 3,
 "cross_attention_dim": 2816, "cross_attention_norm": "group_norm",
 "down_block_types": ["ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D",
                      "SimpleCrossAttnDownBlock2D", "SimpleCrossAttnDownBlock2D"],
 "downsample_padding": 1, "dual_cross_attention": false, "encoder_hid_dim": 4096,
 "encoder_hid_dim_type": "text_proj", "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 3,
 "layers_per_block": 3, "mid_block_only_cross_attention": null, "mid_block_scale_factor": 1,
 "mid_block_type": "UNetMidBlock2DSimpleCrossAttn", "norm_eps": 1e-05, "norm_num_groups": 32,
 "num_attention_heads": null, "num_class_embeds": null, "only_cross_attention": false, "out_channels": 6,
 "projection_class_embeddings_input_dim": null, "resnet_out_scale_factor": 1.0,
 "resnet_skip_time_act": false, "resnet_time_scale_shift": "scale_shift", "sample_size": 64,
 "time_cond_proj_dim": null, "time_embedding_act_fn": null, "time_embedding_dim": null,
 "time_embedding_type": "positional", "timestep_post_act": null, "transformer_layers_per_block": 1,
 "up_block_types": ["SimpleCrossAttnUpBlock2D","SimpleCrossAttnUpBlock2D","SimpleCrossAttnUpBlock2D","ResnetUpsampleBlock2D"],
 "upcast_attention": false, "use_linear_projection": false}
"""

/// A stage II config.yml consistent with IF-II-L's published diffusers config (IF-FACTS §3.3: 160
/// channels x 1,2,4,6,8, per-level blocks 2,2,3,5,5, attention at 32x32 and 16x16 of 256 px). The
/// original file is not public; efficient_activation / scale_skip_connection are the keys whose
/// original semantics diffusers' stage II flags reproduce.
let ifIILConfigYAML = """
params:
  image_size: 256
  model_channels: 160
  num_res_blocks: [2, 2, 3, 5, 5]
  channel_mult: "1,2,4,6,8"
  attention_resolutions: "32,16"
  num_heads: 1
  num_head_channels: 64
  use_scale_shift_norm: true
  resblock_updown: true
  encoder_dim: 4096
  encoder_channels: 1280
  in_channels: 6
  out_channels: 6
  activation: "gelu"
  att_pool_heads: 64
  disable_self_attentions: false
  efficient_activation: true
  scale_skip_connection: true
  precision: "16"
"""

/// IF-FACTS §3.3 (the keys the copy shows) plus the remainder derived there from convert_if.py.
let ifIILDiffusersJSON = """
{"act_fn": "gelu", "addition_embed_type": "text", "addition_embed_type_num_heads": 64,
 "attention_head_dim": 64, "block_out_channels": [160, 320, 640, 960, 1280],
 "center_input_sample": false, "class_embed_type": "timestep", "class_embeddings_concat": false,
 "conv_in_kernel": 3, "conv_out_kernel": 3, "cross_attention_dim": 1280, "cross_attention_norm": "group_norm",
 "down_block_types": ["ResnetDownsampleBlock2D", "ResnetDownsampleBlock2D", "ResnetDownsampleBlock2D",
                      "SimpleCrossAttnDownBlock2D", "SimpleCrossAttnDownBlock2D"],
 "downsample_padding": 1, "dual_cross_attention": false, "encoder_hid_dim": 4096,
 "encoder_hid_dim_type": "text_proj", "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 6,
 "layers_per_block": [2, 2, 3, 5, 5], "mid_block_only_cross_attention": null,
 "mid_block_scale_factor": 1.4142271248762552, "mid_block_type": "UNetMidBlock2DSimpleCrossAttn",
 "norm_eps": 1e-05, "norm_num_groups": 32, "num_class_embeds": null, "only_cross_attention": false,
 "out_channels": 6, "projection_class_embeddings_input_dim": null,
 "resnet_out_scale_factor": 1.4142271248762552, "resnet_skip_time_act": true,
 "resnet_time_scale_shift": "scale_shift", "time_embedding_dim": 1280, "time_embedding_act_fn": "gelu",
 "sample_size": 256,
 "up_block_types": ["SimpleCrossAttnUpBlock2D", "SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D",
                    "ResnetUpsampleBlock2D", "ResnetUpsampleBlock2D"]}
"""

@Suite("Original config.yml -> diffusers config")
struct OriginalConfigTests {
    func derive(_ yaml: String, stage: OriginalStage) throws -> DiffusersUNetConfig {
        let file = try OriginalConfigFile.parse(yaml, path: "config.yml")
        return DiffusersUNetConfig(original: try OriginalUNetParams(file), stage: stage)
    }

    @Test("config.yml parses into typed params", arguments: [ifIXLConfigYAML])
    func parsesXL(yaml: String) throws {
        let file = try OriginalConfigFile.parse(yaml, path: "config.yml")
        #expect(file.keys.count == 19)
        #expect(file.params["channel_mult"] == .string("1,2,3,4"))
        #expect(file.params["precision"] == .string("16"))
        #expect(file.params["dropout"] == .double(0))
        #expect(file.params["use_scale_shift_norm"] == .bool(true))
        #expect(file.params["num_heads_upsample"] == .int(-1))
        let params = try OriginalUNetParams(file)
        #expect(params.channelMult == [1, 2, 3, 4])
        #expect(params.attentionRates == [2, 4, 8])
        #expect(params.numResBlocks == [3, 3, 3, 3])
        #expect(params.timeEmbedDim == 2816)
    }

    @Test("derived configs match the published diffusers configs key by key",
          arguments: [(ifIXLConfigYAML, OriginalStage.stageI, ifIXLDiffusersJSON),
                      (ifIILConfigYAML, OriginalStage.stageII, ifIILDiffusersJSON)])
    func matchesPublished(yaml: String, stage: OriginalStage, published: String) throws {
        let derived = try jsonObject(try derive(yaml, stage: stage).jsonText)
        let expected = try jsonObject(published)
        for (key, value) in expected.sorted(by: { $0.key < $1.key }) {
            let ours = try #require(derived[key], "derived config lacks '\(key)'")
            #expect(jsonEqual(ours, value), "'\(key)': derived \(ours), published \(value)")
        }
    }

    @Test("att_pool_heads is carried, not derived from channels")
    func poolHeadsCarried() throws {
        let yaml = ifIXLConfigYAML.replacingOccurrences(of: "att_pool_heads: 64", with: "att_pool_heads: 32")
        let config = try derive(yaml, stage: .stageI)
        #expect(config["addition_embed_type_num_heads"] == .number("32"))
        #expect(config["attention_head_dim"] == .number("64"))
    }

    @Test("parameter counts equal the original model's (IF-FACTS §1)",
          arguments: [(ifIXLConfigYAML, OriginalStage.stageI, 4_304_695_110),
                      (ifIILConfigYAML, OriginalStage.stageII, 1_243_277_190)])
    func parameterCount(yaml: String, stage: OriginalStage, expected: Int) throws {
        let plan = OriginalLayoutPlan(config: try derive(yaml, stage: stage))
        let diffusersCount = plan.tensors.reduce(0) { $0 + $1.shape.reduce(1, *) }
        let originalCount = plan.originalShapes.values.reduce(0) { $0 + $1.reduce(1, *) }
        #expect(diffusersCount == expected)
        #expect(originalCount == expected)
    }

    @Test("XL block index arithmetic: down-ResBlocks at input_blocks 4, 8, 12; up-ResBlocks after attention")
    func xlIndices() throws {
        let plan = OriginalLayoutPlan(config: try derive(ifIXLConfigYAML, stage: .stageI))
        func source(_ name: String) -> String? { plan.tensors.first { $0.name == name }?.recipe.source }
        #expect(source("down_blocks.0.downsamplers.0.conv1.weight") == "input_blocks.4.0.in_layers.2.weight")
        #expect(source("down_blocks.2.downsamplers.0.norm1.weight") == "input_blocks.12.0.in_layers.0.weight")
        #expect(source("down_blocks.3.resnets.2.conv2.weight") == "input_blocks.15.0.out_layers.3.weight")
        #expect(source("down_blocks.3.attentions.2.norm_cross.bias") == "input_blocks.15.1.norm_encoder.bias")
        #expect(source("up_blocks.0.upsamplers.0.time_emb_proj.weight") == "output_blocks.3.2.emb_layers.1.weight")
        #expect(source("up_blocks.3.resnets.3.conv_shortcut.weight") == "output_blocks.15.0.skip_connection.weight")
        #expect(source("up_blocks.2.upsamplers.0.conv1.bias") == "output_blocks.11.2.in_layers.2.bias")
        #expect(source("mid_block.attentions.0.to_out.0.weight") == "middle_block.1.proj_out.weight")
        #expect(plan.tensors.contains { $0.name == "up_blocks.3.upsamplers.0.conv1.weight" } == false)
        #expect(plan.originalShapes["output_blocks.0.0.in_layers.0.weight"] == [5632])
    }

    @Test("stage II tuple layers: per-level block counts and reversed up blocks")
    func stageIITuple() throws {
        let plan = OriginalLayoutPlan(config: try derive(ifIILConfigYAML, stage: .stageII))
        func source(_ name: String) -> String? { plan.tensors.first { $0.name == name }?.recipe.source }
        // input blocks: 1..2 level 0, 3 down, 4..5 level 1, 6 down, 7..9 level 2, 10 down, 11..15, 16 down, 17..21
        #expect(source("down_blocks.0.downsamplers.0.conv1.weight") == "input_blocks.3.0.in_layers.2.weight")
        #expect(source("down_blocks.2.downsamplers.0.conv1.weight") == "input_blocks.10.0.in_layers.2.weight")
        #expect(source("down_blocks.3.attentions.4.to_q.weight") == "input_blocks.15.1.qkv.weight")
        #expect(source("down_blocks.4.resnets.4.norm1.weight") == "input_blocks.21.0.in_layers.0.weight")
        // output blocks: 0..5 level 4, 6..11 level 3, 12..15 level 2, 16..18 level 1, 19..21 level 0
        #expect(source("up_blocks.0.upsamplers.0.conv1.weight") == "output_blocks.5.2.in_layers.2.weight")
        #expect(source("up_blocks.2.upsamplers.0.conv1.weight") == "output_blocks.15.1.in_layers.2.weight")
        #expect(source("up_blocks.4.resnets.2.conv1.weight") == "output_blocks.21.0.in_layers.2.weight")
        #expect(source("class_embedding.linear_2.bias") == "aug_proj.2.bias")
        #expect(plan.originalNames.contains("output_blocks.22.0.in_layers.0.weight") == false)
    }

    @Test("malformed config.yml lines name the line",
          arguments: [("params:\n  a: 1\n    b: 2\n", 3), ("params:\n\tmodel_channels: 3\n", 2),
                      ("foo: 1\n", 1), ("params:\n  a: [1, 2\n", 2), ("params:\n  a: 1\n  a: 2\n", 3),
                      ("params:\n  - 3\n", 2), ("params:\n  x:\n", 2), ("params:\n  s: \"abc\n", 2)])
    func yamlErrors(text: String, line: Int) {
        #expect {
            try OriginalConfigFile.parse(text, path: "c.yml")
        } throws: { error in
            guard case let .yaml(_, found, _) = error as? OriginalLayoutError else { return false }
            return found == line
        }
    }

    @Test("config values the original code cannot take are errors naming the key",
          arguments: [("num_res_blocks: 3", "num_res_blocks: [3, 3]", "num_res_blocks"),
                      ("channel_mult: \"1,2,3,4\"", "channel_mult: \"1,2,x,4\"", "channel_mult"),
                      ("att_pool_heads: 64", "att_pool_heads: 60", "att_pool_heads"),
                      ("att_pool_heads: 64", "att_pool_heads: 64\n  frobnicate: 1", "frobnicate"),
                      ("attention_resolutions: \"32,16,8\"", "attention_resolutions: \"32,16,7\"", "attention_resolutions"),
                      ("model_channels: 704", "model_channels: wide", "model_channels")])
    func configErrors(original: String, replacement: String, key: String) throws {
        let file = try OriginalConfigFile.parse(ifIXLConfigYAML.replacingOccurrences(of: original, with: replacement), path: "c.yml")
        #expect {
            try OriginalUNetParams(file)
        } throws: { error in
            guard case let .config(_, found, _) = error as? OriginalLayoutError else { return false }
            return found == key
        }
    }

    @Test("configurations diffusers cannot express are refused",
          arguments: [("resblock_updown: true", "resblock_updown: false"),
                      ("num_head_channels: 64", "num_head_channels: -1"),
                      ("channel_mult: \"1,2,3,4\"", "channel_mult: \"2,2,3,4\""),
                      ("activation: \"gelu\"", "activation: \"gelu_jit\""),
                      ("disable_self_attentions: false", "disable_self_attentions: true")])
    func unsupported(original: String, replacement: String) throws {
        let file = try OriginalConfigFile.parse(ifIXLConfigYAML.replacingOccurrences(of: original, with: replacement), path: "c.yml")
        #expect {
            try OriginalUNetParams(file)
        } throws: { error in
            if case .unsupported = error as? OriginalLayoutError { return true }
            return false
        }
    }
}
