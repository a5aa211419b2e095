import Testing
@testable import IFCore
import PyTorchReader
import SafetensorsReader

/// `openSource` and the inspect report on PyTorch checkpoints (reader: Sources/PyTorchReader).
@Suite struct PyTorchInspectTests {
    static let root = repositoryRoot()

    @Test func openSourceDispatchesPyTorchFiles() throws {
        let single = try openSource(atPath: Self.root + "/fixtures/torch/nested.ckpt")
        #expect(single is PyTorchCheckpoint)
        let sharded = try openSource(atPath: Self.root + "/fixtures/torch/sharded/pytorch_model.bin.index.json")
        #expect(sharded is ShardedPyTorchCheckpoint)
        #expect(sharded.tensorNames.count == 4)
    }

    /// The fp16 `.bin` diffusers writes holds exactly the tensors of the fp16 safetensors file.
    @Test func unetBinMatchesSafetensors() throws {
        let unet = Self.root + "/fixtures/IF-I-tiny/unet/"
        let bin = try openSource(atPath: unet + "diffusion_pytorch_model.fp16.bin")
        let safetensors = try openSource(atPath: unet + "diffusion_pytorch_model.fp16.safetensors")
        #expect(Set(bin.tensorNames) == Set(safetensors.tensorNames))
        for name in safetensors.tensorNames {
            let a = try bin.tensor(named: name), b = try safetensors.tensor(named: name)
            #expect(a.dtype == b.dtype && a.shape == b.shape, "\(name)")
            #expect(a.data.copyBytes() == b.data.copyBytes(), "\(name)")
        }
    }

    @Test func binOnlySnapshotIsListed() throws {
        let report = try InspectReport.make(path: Self.root + "/fixtures/torch/bin_only_snapshot")
        let unet = try #require(report.components.first { $0.name == "unet" })
        #expect(unet.weights?.kind == .pytorch)
        let source = try #require(unet.source, "skipped: \(unet.skipped ?? "")")
        #expect(source.format == "pytorch-zip")
        let reference = try openSource(atPath: Self.root + "/fixtures/IF-I-tiny/unet/diffusion_pytorch_model.fp16.safetensors")
        #expect(source.tensors.count == reference.tensorNames.count)
        #expect(source.skippedObjects.isEmpty)
        #expect(source.stateDictPrefix == nil)
    }

    @Test func reportListsSkippedObjectsAndPrefix() throws {
        let report = try InspectReport.make(path: Self.root + "/fixtures/torch/nested.ckpt")
        let source = try #require(report.sources.first)
        #expect(source.stateDictPrefix == "state_dict")
        #expect(source.skippedObjects.contains(InspectReport.SkippedObject(path: "hyper_parameters", global: "argparse.Namespace")))
        let json = report.json().serialized()
        #expect(json.contains("\"state_dict_prefix\":\"state_dict\"") || json.contains("\"state_dict_prefix\": \"state_dict\""))
        #expect(json.contains("argparse.Namespace"))
        #expect(report.humanText().contains("state dict under 'state_dict'"))
    }
}
