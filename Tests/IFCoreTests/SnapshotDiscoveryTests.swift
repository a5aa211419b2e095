import Testing
import IFCore
import SafetensorsReader

@Suite struct SnapshotDiscoveryTests {
    @Test func pipelineWithoutVariant() throws {
        let snap = try TinySnapshot()
        let s = try Snapshot.discover(at: snap.root)
        #expect(s.layout == .pipeline)
        #expect(s.pipelineClass == "IFPipeline")
        // model_index.json order; [null, null] entries and options skipped.
        #expect(s.components.map(\.name) == ["scheduler", "text_encoder", "tokenizer", "unet"])
        #expect(s.weightBearingComponents.map(\.name) == ["text_encoder", "unet"])

        let unet = try #require(s.component(named: "unet"))
        #expect(unet.weights == WeightsFile(kind: .safetensors, path: snap.path("unet/diffusion_pytorch_model.safetensors")))
        #expect(unet.library == "diffusers" && unet.className == "UNet2DConditionModel")
        #expect(unet.config?.objectValue?["sample_size"] == .int(8))
        #expect(!unet.usedVariantFallback)

        // Only fp16 shards exist: that single variant is picked and flagged.
        let t5 = try #require(s.component(named: "text_encoder"))
        #expect(t5.weights == WeightsFile(kind: .safetensorsIndex, path: snap.path("text_encoder/model.safetensors.index.fp16.json")))
        #expect(t5.weightsVariant == "fp16" && t5.usedVariantFallback)

        #expect(s.component(named: "tokenizer")?.weights == nil)
        #expect(s.originalCheckpoint == OriginalCheckpoint(configPath: snap.path("config.yml"),
                                                          weights: WeightsFile(kind: .pytorch, path: snap.path("pytorch_model.bin"))))
    }

    @Test func fp16Variant() throws {
        let snap = try TinySnapshot()
        let s = try Snapshot.discover(at: snap.root, variant: "fp16")
        #expect(s.component(named: "unet")?.weights?.path == snap.path("unet/diffusion_pytorch_model.fp16.safetensors"))
        let t5 = try #require(s.component(named: "text_encoder"))
        #expect(t5.weights?.kind == .safetensorsIndex && !t5.usedVariantFallback)
    }

    @Test func missingVariantFallsBackToDefaultFiles() throws {
        let snap = try TinySnapshot()
        let unet = try #require(try Snapshot.discover(at: snap.root, variant: "bf16").component(named: "unet"))
        #expect(unet.weights?.path == snap.path("unet/diffusion_pytorch_model.safetensors"))
        #expect(unet.weightsVariant == nil && unet.usedVariantFallback)
    }

    @Test func safetensorsWinsOverBin() throws {
        let snap = try TinySnapshot()
        try snap.write("unet/diffusion_pytorch_model.bin", "pickle")
        try snap.write("unet/diffusion_pytorch_model.fp16.bin", "pickle")
        #expect(try Snapshot.discover(at: snap.root).component(named: "unet")?.weights?.kind == .safetensors)
        try snap.remove("unet/diffusion_pytorch_model.safetensors")
        try snap.remove("unet/diffusion_pytorch_model.fp16.safetensors")
        #expect(try Snapshot.discover(at: snap.root).component(named: "unet")?.weights
                == WeightsFile(kind: .pytorch, path: snap.path("unet/diffusion_pytorch_model.bin")))
        #expect(try Snapshot.discover(at: snap.root, variant: "fp16").component(named: "unet")?.weights?.path
                == snap.path("unet/diffusion_pytorch_model.fp16.bin"))
    }

    @Test func diffusersPrefersTheShardIndexAndAcceptsTheLegacyVariantSpelling() throws {
        let snap = try TinySnapshot()
        try snap.write("unet/diffusion_pytorch_model.safetensors.fp16.index.json", #"{"weight_map": {}}"#)
        #expect(try Snapshot.discover(at: snap.root, variant: "fp16").component(named: "unet")?.weights
                == WeightsFile(kind: .safetensorsIndex, path: snap.path("unet/diffusion_pytorch_model.safetensors.fp16.index.json")))
        try snap.write("unet/diffusion_pytorch_model.safetensors.index.fp16.json", #"{"weight_map": {}}"#)
        #expect(try Snapshot.discover(at: snap.root, variant: "fp16").component(named: "unet")?.weights?.path
                == snap.path("unet/diffusion_pytorch_model.safetensors.index.fp16.json"))
    }

    @Test func componentFolderSingleFileAndIndex() throws {
        let snap = try TinySnapshot()
        let folder = try Snapshot.discover(at: snap.path("text_encoder"), variant: "fp16")
        #expect(folder.layout == .component && folder.components.map(\.name) == ["text_encoder"])
        #expect(folder.components[0].config?.objectValue?["d_model"] == .int(2))

        let file = try Snapshot.discover(at: snap.path("unet/diffusion_pytorch_model.fp16.safetensors"))
        #expect(file.layout == .file && file.components[0].weights?.kind == .safetensors)

        let index = try Snapshot.discover(at: snap.path("text_encoder/model.safetensors.index.fp16.json"))
        #expect(index.layout == .file && index.components[0].weights?.kind == .safetensorsIndex)
    }

    @Test func originalLayoutOnly() throws {
        let snap = try TinySnapshot()
        for folder in ["unet", "text_encoder", "tokenizer", "scheduler", "model_index.json"] { try snap.remove(folder) }
        let s = try Snapshot.discover(at: snap.root)
        #expect(s.layout == .original && s.components.isEmpty)
        #expect(s.originalCheckpoint?.weights?.path == snap.path("pytorch_model.bin"))
    }

    @Test func errors() throws {
        let snap = try TinySnapshot(original: false)
        #expect(ioErrorDescription { _ = try Snapshot.discover(at: snap.path("nope")) }?.contains("no such file or folder") == true)
        #expect(ioErrorDescription { _ = try Snapshot.discover(at: snap.path("tokenizer")) }?.contains("no model_index.json, no known weights file") == true)
        #expect(ioErrorDescription { _ = try Snapshot.discover(at: snap.path("tokenizer/tokenizer_config.json")) }?.contains("not a weights file name") == true)
        #expect(ioErrorDescription { _ = try Snapshot.discover(at: snap.root, variant: "../x") }?.contains("variant '../x'") == true)
        try snap.remove("scheduler")
        #expect(ioErrorDescription { _ = try Snapshot.discover(at: snap.root) }?.contains("component 'scheduler' (diffusers.DDPMScheduler) is listed but its folder") == true)
        try snap.write("model_index.json", #"{"unet": ["diffusers", "UNet2DConditionModel"], "unet": null}"#)
        #expect(ioErrorDescription { _ = try Snapshot.discover(at: snap.root) }?.contains("duplicate key 'unet'") == true)
        try snap.write("model_index.json", #"{"unet": ["diffusers", 3]}"#)
        #expect(ioErrorDescription { _ = try Snapshot.discover(at: snap.root) }?.contains("component 'unet' must be [library, class] strings") == true)
    }
}

@Suite struct WeightsFileTests {
    @Test(arguments: [
        ("diffusion_pytorch_model.safetensors", "fp16", "diffusion_pytorch_model.fp16.safetensors"),
        ("diffusion_pytorch_model.safetensors.index.json", "fp16", "diffusion_pytorch_model.safetensors.index.fp16.json"),
        ("model.safetensors.index.json", "fp16", "model.safetensors.index.fp16.json"),
        ("pytorch_model.bin", "8bit", "pytorch_model.8bit.bin"),
    ])
    func variantNames(_ name: String, _ variant: String, _ expected: String) {
        #expect(WeightsSelection.withVariant(name, variant) == expected)
        #expect(WeightsSelection.withVariant(name, nil) == name)
    }

    @Test(arguments: [
        ("a/model.safetensors", WeightsFile.Kind?.some(.safetensors)),
        ("model.fp16-00001-of-00002.safetensors", .safetensors),
        ("model.safetensors.index.fp16.json", .safetensorsIndex),
        ("diffusion_pytorch_model.safetensors.fp16.index.json", .safetensorsIndex),
        ("pytorch_model.bin.index.json", .pytorchIndex),
        ("pytorch_model.bin", .pytorch),
        ("model.ckpt", .pytorch),
        ("config.json", nil),
        ("spiece.model", nil),
    ])
    func classifiesNames(_ name: String, _ kind: WeightsFile.Kind?) {
        #expect(WeightsFile(classifying: name)?.kind == kind)
    }

    @Test func pytorchFilesGoToThePyTorchReader() throws {
        let snap = try TinySnapshot()
        // TinySnapshot's pytorch_model.bin is not a checkpoint: the PyTorch reader's own message proves the dispatch.
        let message = ioErrorDescription { _ = try openSource(WeightsFile(kind: .pytorch, path: snap.path("pytorch_model.bin"))) }
        #expect(message?.contains("not a PyTorch checkpoint") == true, "\(message ?? "")")
        #expect(ioErrorDescription { _ = try openSource(atPath: "/x/readme.txt") }?.contains("not a weights file name") == true)
    }
}

@Suite struct SnapshotPathTests {
    @Test func dotFolderIsNamedAfterItself() throws {
        let snap = try TinySnapshot()
        let s = try Snapshot.discover(at: snap.path("unet") + "/.")
        #expect(s.layout == .component && s.components.first?.name == "unet")
    }
}
