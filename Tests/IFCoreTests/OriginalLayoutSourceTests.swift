import Foundation
import Testing
@testable import IFCore

/// A small stage I config: 2 levels of 32/64 channels, attention at level 1, head width 16.
let smallConfigYAML = """
params:
  image_size: 8
  model_channels: 32
  num_res_blocks: 1
  channel_mult: "1,2"
  attention_resolutions: "4"
  num_head_channels: 16
  use_scale_shift_norm: true
  resblock_updown: true
  encoder_dim: 48
  encoder_channels: 64
  in_channels: 3
  out_channels: 6
  activation: "gelu"
  att_pool_heads: 3
  precision: "16"
"""

@Suite("Original layout -> diffusers tensors")
struct OriginalLayoutSourceTests {
    /// An original checkpoint with every tensor the small config needs, values counting up per tensor.
    func smallCheckpoint(dropping dropped: String? = nil, adding extra: [TensorView] = [],
                         reshaping reshaped: (String, [Int])? = nil) throws -> (OriginalConfigFile, InMemoryTensorSource) {
        let file = try OriginalConfigFile.parse(smallConfigYAML, path: "config.yml")
        let plan = OriginalLayoutPlan(config: DiffusersUNetConfig(original: try OriginalUNetParams(file), stage: .stageI))
        var views: [TensorView] = []
        for (index, name) in plan.originalNames.enumerated() where name != dropped {
            let shape = reshaped?.0 == name ? reshaped!.1 : plan.originalShapes[name]!
            views.append(InMemoryTensorSource.counting(name, shape: shape, base: Float(index * 1000)))
        }
        return (file, InMemoryTensorSource(views + extra))
    }

    @Test("qkv rows go to to_q/to_k/to_v in per-head chunks, round-robin", arguments: [1, 2, 4])
    func qkvSplit(heads: Int) throws {
        let headDim = 3, width = 2
        let channels = heads * headDim
        let qkv = InMemoryTensorSource.counting("qkv.weight", shape: [3 * channels, width, 1])
        for (part, _) in ["q", "k", "v"].enumerated() {
            let slice = try OriginalLayoutSource.headChunks(of: qkv, chunkRows: headDim, part: part, parts: 3)
            let got = try TensorView(name: "t", dtype: .f32, shape: [channels, width], data: slice).floats()
            // QKVAttention: qkv.reshape(heads, 3 * headDim, T).split(headDim) -> row r of head h's part p
            // is original row h * 3 * headDim + p * headDim + r.
            var expected: [Float] = []
            for head in 0..<heads {
                for row in 0..<headDim {
                    let originalRow = head * 3 * headDim + part * headDim + row
                    expected += (0..<width).map { Float(originalRow * width + $0) }
                }
            }
            #expect(got == expected, "part \(part)")
        }
    }

    @Test("a single head's split is a zero-copy slice of the checkpoint bytes")
    func singleHeadZeroCopy() throws {
        let kv = InMemoryTensorSource.counting("encoder_kv.weight", shape: [8, 5, 1])
        let slice = try OriginalLayoutSource.headChunks(of: kv, chunkRows: 4, part: 1, parts: 2)
        #expect(slice.storage === kv.data.storage)
        #expect(slice.range == 4 * 5 * 4..<8 * 5 * 4)
    }

    @Test("complete checkpoint: every diffusers tensor readable with the planned shape")
    func complete() throws {
        let (file, checkpoint) = try smallCheckpoint()
        let source = try OriginalLayoutSource(configFile: file, checkpoint: checkpoint)
        #expect(source.tensorNames.count == source.plan.tensors.count)
        #expect(source.tensorNames.contains("down_blocks.1.attentions.0.add_v_proj.weight"))
        #expect(!source.tensorNames.contains("class_embedding.linear_1.weight"))
        for name in source.tensorNames {
            let view = try source.tensor(named: name)
            let info = try source.info(named: name)
            #expect(view.shape == info.shape && view.byteCount == info.byteCount, "\(name)")
        }
        // proj_out [C, C, 1] -> to_out.0 [C, C] keeps the bytes, zero-copy
        let out = try source.tensor(named: "mid_block.attentions.0.to_out.0.weight")
        let original = try checkpoint.tensor(named: "middle_block.1.proj_out.weight")
        #expect(out.shape == [64, 64] && out.data.storage === original.data.storage && out.data.range == original.data.range)
        // encoder_kv [2C, E, 1], 4 heads of 16: add_v_proj row 0 is encoder_kv row 16
        let addV = try source.tensor(named: "mid_block.attentions.0.add_v_proj.weight").floats()
        let kv = try checkpoint.tensor(named: "middle_block.1.encoder_kv.weight").floats()
        #expect(Array(addV[0..<64]) == Array(kv[16 * 64..<17 * 64]))
        #expect(Array(addV[16 * 64..<17 * 64]) == Array(kv[48 * 64..<49 * 64]))
        #expect(source.config["addition_embed_type_num_heads"] == .number("3"))
    }

    @Test("a missing key is an error naming it and the diffusers tensor it feeds")
    func missingKey() throws {
        let (file, checkpoint) = try smallCheckpoint(dropping: "output_blocks.1.1.qkv.bias")
        #expect {
            try OriginalLayoutSource(configFile: file, checkpoint: checkpoint)
        } throws: { error in
            guard case let .missingKeys(_, names, total) = error as? OriginalLayoutError else { return false }
            return total == 1 && names == ["output_blocks.1.1.qkv.bias (for up_blocks.0.attentions.1.to_q.bias)"]
                && "\(error)".contains("output_blocks.1.1.qkv.bias")
        }
    }

    @Test("an unmapped key is an error naming it",
          arguments: ["label_emb.0.0.weight", "input_blocks.9.0.in_layers.0.weight", "middle_block.1.attention.scale"])
    func unmappedKey(name: String) throws {
        let (file, checkpoint) = try smallCheckpoint(adding: [InMemoryTensorSource.counting(name, shape: [4])])
        #expect {
            try OriginalLayoutSource(configFile: file, checkpoint: checkpoint)
        } throws: { error in
            guard case let .unmappedKeys(_, names, total) = error as? OriginalLayoutError else { return false }
            return total == 1 && names == [name] && "\(error)".contains(name)
        }
    }

    @Test("a shape that disagrees with config.yml is an error naming the tensor")
    func wrongShape() throws {
        let (file, checkpoint) = try smallCheckpoint(reshaping: ("input_blocks.3.1.qkv.weight", [192, 64]))
        #expect {
            try OriginalLayoutSource(configFile: file, checkpoint: checkpoint)
        } throws: { error in
            guard case let .badTensor(_, name, message) = error as? OriginalLayoutError else { return false }
            return name == "input_blocks.3.1.qkv.weight" && message.contains("[192, 64, 1]")
        }
    }

    @Test("a wrong num_res_blocks shows up as missing or unmapped keys, not a wrong model")
    func wrongConfig() throws {
        let (_, checkpoint) = try smallCheckpoint()
        let other = try OriginalConfigFile.parse(smallConfigYAML.replacingOccurrences(of: "num_res_blocks: 1", with: "num_res_blocks: 2"),
                                                 path: "config.yml")
        #expect(throws: OriginalLayoutError.self) { try OriginalLayoutSource(configFile: other, checkpoint: checkpoint) }
    }

    @Test("detection: original keys and config signature")
    func detection() throws {
        let (file, checkpoint) = try smallCheckpoint()
        #expect(OriginalLayoutDetection.hasOriginalKeys(checkpoint.tensorNames))
        #expect(OriginalLayoutDetection.isOriginalConfig(file))
        #expect(!OriginalLayoutDetection.hasOriginalKeys(["conv_in.weight", "down_blocks.0.resnets.0.norm1.weight"]))
        #expect(OriginalStage(tensorNames: checkpoint.tensorNames) == .stageI)
        #expect(OriginalStage(tensorNames: ["aug_proj.0.weight"]) == .stageII)
    }
}
