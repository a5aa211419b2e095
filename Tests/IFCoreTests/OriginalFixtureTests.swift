import Foundation
import Testing
@testable import IFCore

/// The committed tiny snapshots: converting the original root files must give exactly the tensors of
/// the diffusers fp16 UNet next to them (fixtures/README.md, scripts/fixturegen/original_layout.py).
@Suite("Original layout fixtures")
struct OriginalFixtureTests {
    static let root = originalTestsRepositoryRoot()

    func folder(_ name: String) -> String { Self.root.appendingPathComponent("fixtures/\(name)").path }

    /// Keys diffusers writes that are bookkeeping rather than model structure.
    static let bookkeepingKeys: Set<String> = ["_class_name", "_diffusers_version", "_name_or_path", "_use_default_values"]

    @Test("IF-II-tiny: original layout gives byte-identical diffusers tensors")
    func stageIIEquivalent() throws {
        let snapshot = folder("IF-II-tiny")
        let original = try OriginalLayoutSource(configAt: snapshot + "/config.yml", checkpointAt: snapshot + "/pytorch_model.bin")
        let diffusers = try openSource(atPath: snapshot + "/unet/diffusion_pytorch_model.fp16.safetensors")
        #expect(original.config.stage == .stageII)
        #expect(Set(original.tensorNames) == Set(diffusers.tensorNames))
        #expect(original.tensorNames.count == diffusers.tensorNames.count)
        var split = 0
        for name in diffusers.tensorNames {
            let ours = try original.tensor(named: name)
            let theirs = try diffusers.tensor(named: name)
            #expect(ours.dtype == theirs.dtype && ours.shape == theirs.shape, "\(name): \(ours.dtype) \(ours.shape) vs \(theirs.dtype) \(theirs.shape)")
            #expect(ours.data.copyBytes() == theirs.data.copyBytes(), "\(name): bytes differ")
            if case .headChunks = original.plan.tensors.first(where: { $0.name == name })!.recipe { split += 1 }
        }
        #expect(split > 0)  // the fixture exercises the per-head split
    }

    @Test("derived config equals the snapshot's unet/config.json on every key",
          arguments: ["IF-II-tiny"])
    func derivedConfigMatches(name: String) throws {
        let snapshot = folder(name)
        let file = try OriginalConfigFile(readingAt: snapshot + "/config.yml")
        let checkpoint = try OriginalLayoutSource(configAt: snapshot + "/config.yml", checkpointAt: snapshot + "/pytorch_model.bin")
        let derived = try jsonObject(checkpoint.config.jsonText)
        let published = try jsonObject(String(contentsOfFile: snapshot + "/unet/config.json", encoding: .utf8))
        #expect(OriginalLayoutDetection.isOriginalConfig(file))
        #expect(OriginalLayoutDetection.hasOriginalKeys(checkpoint.checkpoint.tensorNames))
        for (key, value) in published.sorted(by: { $0.key < $1.key }) where !Self.bookkeepingKeys.contains(key) {
            let ours = try #require(derived[key], "derived config lacks '\(key)'")
            #expect(jsonEqual(ours, value), "'\(key)': derived \(ours), snapshot \(value)")
        }
        #expect(checkpoint.params.attPoolHeads != checkpoint.config.blockOutChannels.last! / checkpoint.config.attentionHeadDim)
    }

    /// IF-I-tiny's unet has encoder_hid_dim == cross_attention_dim, which the original UNetModel cannot
    /// hold (it has no encoder_proj then), so original_layout.py writes no root files for it. When the
    /// snapshot changes, the generator must be re-run: this test then fails until the files exist.
    @Test("IF-I-tiny: no original files exactly when the diffusers UNet is not expressible")
    func stageIRepresentability() throws {
        let snapshot = folder("IF-I-tiny")
        let config = try jsonObject(String(contentsOfFile: snapshot + "/unet/config.json", encoding: .utf8))
        let expressible = !jsonEqual(config["encoder_hid_dim"] ?? NSNull(), config["cross_attention_dim"] ?? NSNull())
        let present = FileManager.default.fileExists(atPath: snapshot + "/pytorch_model.bin")
            && FileManager.default.fileExists(atPath: snapshot + "/config.yml")
        #expect(present == expressible)
        if present {
            let original = try OriginalLayoutSource(configAt: snapshot + "/config.yml", checkpointAt: snapshot + "/pytorch_model.bin")
            let diffusers = try openSource(atPath: snapshot + "/unet/diffusion_pytorch_model.fp16.safetensors")
            #expect(Set(original.tensorNames) == Set(diffusers.tensorNames))
            for name in diffusers.tensorNames {
                #expect(try original.tensor(named: name).data.copyBytes() == diffusers.tensor(named: name).data.copyBytes(), "\(name)")
            }
        }
    }

    @Test("IF-I-tiny key set: the plan for its structure equals the diffusers file (apart from a projection the original cannot hold)")
    func stageIKeySet() throws {
        let snapshot = folder("IF-I-tiny")
        let diffusers = try openSource(atPath: snapshot + "/unet/diffusion_pytorch_model.fp16.safetensors")
        let json = try jsonObject(String(contentsOfFile: snapshot + "/unet/config.json", encoding: .utf8))
        let cross = try #require(json["cross_attention_dim"] as? Int), text = try #require(json["encoder_hid_dim"] as? Int)
        // The fixture's structure as an original config.yml (fixtures/README.md).
        let yaml = """
        params:
          image_size: 16
          model_channels: 32
          num_res_blocks: 1
          channel_mult: "1,1,2"
          attention_resolutions: "8,4"
          num_head_channels: 16
          use_scale_shift_norm: true
          resblock_updown: true
          encoder_dim: \(text)
          encoder_channels: \(cross)
          in_channels: 3
          out_channels: 6
          activation: "gelu"
          att_pool_heads: 8
        """
        let params = try OriginalUNetParams(try OriginalConfigFile.parse(yaml, path: "config.yml"))
        let plan = OriginalLayoutPlan(config: DiffusersUNetConfig(original: params, stage: .stageI))
        let planned = Dictionary(uniqueKeysWithValues: plan.tensors.map { ($0.name, $0.shape) })
        // encoder_dim == encoder_channels: the original has no encoder_proj, diffusers still has one.
        let expectedExtra: Set<String> = text == cross ? ["encoder_hid_proj.weight", "encoder_hid_proj.bias"] : []
        #expect(Set(diffusers.tensorNames).subtracting(planned.keys) == expectedExtra)
        #expect(Set(planned.keys).subtracting(diffusers.tensorNames).isEmpty)
        for name in diffusers.tensorNames where !expectedExtra.contains(name) {
            #expect(try diffusers.info(named: name).shape == planned[name], "\(name)")
        }
    }
}
