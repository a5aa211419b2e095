import Testing
import IFCore
import SafetensorsReader

/// Discovery and inspection of the committed tiny IF snapshots (fixtures/IF-I-tiny, IF-II-tiny,
/// written by scripts/fixturegen/snapshot.py with diffusers/transformers). Expected numbers come
/// from the peers' own files (config.json, the index's total_size), not from this code.
@Suite struct TinyFixtureSnapshotTests {
    static let stageI = SnapshotRepo.fixture("IF-I-tiny")
    static let stageII = SnapshotRepo.fixture("IF-II-tiny")

    @Test func stageIDefaultAndFP16Weights() throws {
        let plain = try Snapshot.discover(at: Self.stageI)
        #expect(plain.layout == .pipeline && plain.pipelineClass == "IFPipeline")
        #expect(plain.component(named: "unet")?.weights?.fileName == "diffusion_pytorch_model.safetensors")
        // The fixture ships the T5 only as fp16 shards (as the IF repos' fp16 variant).
        let t5 = try #require(plain.component(named: "text_encoder"))
        #expect(t5.weights?.fileName == "model.safetensors.index.fp16.json" && t5.weightsVariant == "fp16")
        // Optional components listed in model_index.json but not shipped are left out (None in diffusers).
        #expect(plain.component(named: "safety_checker") == nil)

        let fp16 = try Snapshot.discover(at: Self.stageI, variant: "fp16")
        #expect(fp16.component(named: "unet")?.weights?.fileName == "diffusion_pytorch_model.fp16.safetensors")
        #expect(fp16.component(named: "text_encoder")?.usedVariantFallback == false)
    }

    @Test func fp32AndFP16UNetFilesHoldTheSameTensors() throws {
        let fp32 = try SafetensorsFile(readingAt: Self.stageI + "/unet/diffusion_pytorch_model.safetensors")
        let fp16 = try SafetensorsFile(readingAt: Self.stageI + "/unet/diffusion_pytorch_model.fp16.safetensors")
        #expect(Set(fp32.tensorNames) == Set(fp16.tensorNames))
        for name in fp32.tensorNames {
            let (a, b) = (try fp32.info(named: name), try fp16.info(named: name))
            #expect(a.shape == b.shape && a.dtype == .f32 && b.dtype == .f16, "\(name)")
        }
    }

    @Test func textEncoderMatchesItsConfigAndIndex() throws {
        let snapshot = try Snapshot.discover(at: Self.stageI, variant: "fp16")
        let component = try #require(snapshot.component(named: "text_encoder"))
        let config = try #require(component.config?.objectValue)
        func int(_ key: String) throws -> Int { try #require(config[key]?.nonNegativeIntValue, "config.\(key)") }
        let (vocab, dModel, dKV, dFF, heads, layers, buckets) =
            (try int("vocab_size"), try int("d_model"), try int("d_kv"), try int("d_ff"), try int("num_heads"),
             try int("num_layers"), try int("relative_attention_num_buckets"))

        let report = try InspectReport.make(path: Self.stageI, variant: "fp16")
        let source = try #require(report.components.first { $0.name == "text_encoder" }?.source)
        // T5 v1.1 gated-gelu encoder: embedding; per block q k v o, wi_0 wi_1 wo, two norms;
        // relative attention bias in block 0; final norm.
        #expect(source.tensors.count == 1 + layers * 9 + 1 + 1)
        let perBlock = 4 * dModel * heads * dKV + 3 * dModel * dFF + 2 * dModel
        #expect(source.parameterCount == vocab * dModel + layers * perBlock + buckets * heads + dModel)
        // transformers wrote total_size into the index.
        #expect(source.metadata["total_size"] == String(source.byteCount))
        // FFN output projections stay fp32 (transformers' _keep_in_fp32_modules = ["wo"]).
        for tensor in source.tensors {
            #expect(tensor.dtype == (tensor.name.hasSuffix(".wo.weight") ? .f32 : .f16), "\(tensor.name)")
        }
        #expect(Set(source.tensors.map(\.file)) == ["model.fp16-00001-of-00002.safetensors", "model.fp16-00002-of-00002.safetensors"])
    }

    @Test func reportTotalsAreTheSumOfTheFiles() throws {
        let report = try InspectReport.make(path: Self.stageI, variant: "fp16")
        var parameters = 0
        var bytes = 0
        // The totals include the original-layout root checkpoint next to the diffusers folders.
        for name in ["unet/diffusion_pytorch_model.fp16.safetensors", "text_encoder/model.safetensors.index.fp16.json",
                     "pytorch_model.bin"] {
            let source = try openSource(atPath: Self.stageI + "/" + name)
            for tensor in source.tensorNames {
                let info = try source.info(named: tensor)
                parameters += info.elementCount
                bytes += info.byteCount
            }
        }
        #expect(report.parameterCount == parameters && report.byteCount == bytes)
        let componentTensors = report.components.compactMap(\.source).reduce(0) { $0 + $1.tensors.count }
        let originalTensors = try #require(report.original?.source).tensors.count
        #expect(report.tensorCount == componentTensors + originalTensors)
    }

    @Test func stageIIUNet() throws {
        let snapshot = try Snapshot.discover(at: Self.stageII, variant: "fp16")
        #expect(snapshot.pipelineClass == "IFSuperResolutionPipeline")
        let unet = try #require(snapshot.component(named: "unet"))
        let config = try #require(unet.config?.objectValue)
        #expect(config["class_embed_type"] == .string("timestep"))
        let inChannels = try #require(config["in_channels"]?.nonNegativeIntValue)
        let source = try openSource(try #require(unet.weights))
        let convIn = try source.info(named: "conv_in.weight")
        #expect(convIn.shape.count == 4 && convIn.shape[1] == inChannels && inChannels == 6)
        #expect(snapshot.component(named: "image_noising_scheduler")?.weights == nil)
    }
}
