import Testing
@testable import IFCore
import SafetensorsReader

@Suite struct InspectReportTests {
    @Test func pipelineReportCountsEveryComponent() throws {
        let snap = try TinySnapshot()
        let report = try InspectReport.make(path: snap.root, variant: "fp16")
        #expect(report.format == "diffusers-pipeline")
        // unet fp16: 108 + 4 params; T5: 16 + 8 + 2.
        #expect(report.parameterCount == 108 + 4 + 16 + 8 + 2)
        #expect(report.tensorCount == 5)
        #expect(report.byteCount == 216 + 8 + 32 + 32 + 4)
        let t5 = try #require(report.components.first { $0.name == "text_encoder" }?.source)
        #expect(t5.format == "safetensors-sharded")
        #expect(t5.bytesByDType.map(\.0) == [.f32, .f16])
        #expect(t5.tensors.first { $0.name == "encoder.final_layer_norm.weight" }?.file == "model.fp16-00002-of-00002.safetensors")
        // The root pytorch_model.bin of TinySnapshot is not a checkpoint: noted, not fatal.
        #expect(report.original?.skipped?.contains("not a PyTorch checkpoint") == true)
        #expect(report.original?.weightsByteCount == 23)
    }

    @Test func jsonSchema() throws {
        let snap = try TinySnapshot()
        let json = try InspectReport.make(path: snap.root, variant: "fp16").json()
        // What the JSON says must survive our own parser (valid, no duplicate keys).
        let reparsed = try JSONParser.parse(Array(json.serialized(pretty: true).utf8), path: "report")
        #expect(reparsed == json)
        let root = try #require(json.objectValue)
        #expect(Array(root.keys) == ["schema_version", "path", "format", "layout", "variant", "pipeline_class", "tensor_count",
                                     "parameter_count", "byte_count", "bytes_by_dtype", "components", "original_checkpoint", "tensors"])
        #expect(root["bytes_by_dtype"] == .object(JSONObject([("F32", .int(32)), ("F16", .int(260))])))
        let tensors = try #require(root["tensors"]?.arrayValue)
        #expect(tensors.count == 5)
        #expect(tensors[0] == .object(JSONObject([
            ("component", .string("text_encoder")), ("name", .string("shared.weight")), ("dtype", .string("F16")),
            ("shape", .ints([8, 2])), ("byte_count", .int(32)), ("file", .string("model.fp16-00001-of-00002.safetensors")),
        ])))
        let unet = try #require(root["components"]?.arrayValue?.last?.objectValue)
        #expect(unet["name"] == .string("unet"))
        #expect(unet["weights"]?.objectValue?["variant"] == .string("fp16"))
        #expect(unet["parameter_count"] == .int(112))
    }

    @Test func humanTextListsTensors() throws {
        let snap = try TinySnapshot()
        let text = try InspectReport.make(path: snap.path("unet/diffusion_pytorch_model.safetensors")).humanText()
        #expect(text.contains("format      safetensors\n"))
        #expect(text.contains("parameters  112\n"))
        #expect(text.contains("conv_in.weight  F32    [4, 3, 3, 3]    432\n"))
    }

    @Test func malformedWeightsFailTheReport() throws {
        let snap = try TinySnapshot()
        try snap.write("unet/diffusion_pytorch_model.fp16.safetensors", "short")
        let message = ioErrorDescription { _ = try InspectReport.make(path: snap.root, variant: "fp16") }
        #expect(message?.contains("diffusion_pytorch_model.fp16.safetensors: file is 5 bytes") == true)
    }
}

@Suite struct ReadBenchmarkTests {
    /// The benchmark's word sum against a byte-by-byte reference, on lengths around the 32-byte
    /// SIMD step and unaligned starts.
    @Test(arguments: [0, 1, 7, 8, 31, 32, 33, 100, 1029])
    func wordSumMatchesReference(_ length: Int) {
        let bytes = (0..<(length + 3)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        bytes.withUnsafeBytes { all in
            let raw = UnsafeRawBufferPointer(rebasing: all[3...])
            var reference: UInt64 = 0
            for (i, byte) in raw.enumerated() {
                reference &+= UInt64(byte) << (8 * UInt64(i % 8))
            }
            #expect(ReadBenchmark.wordSum(raw) == reference)
        }
    }

    @Test func readsEveryByteOfAShardedCheckpoint() throws {
        let snap = try TinySnapshot()
        let result = try ReadBenchmark.run(path: snap.path("text_encoder/model.safetensors.index.fp16.json"), openRepeats: 2, readRepeats: 1)
        #expect(result.tensorCount == 3 && result.byteCount == 68)
        #expect(result.openSeconds.count == 2 && result.readSeconds.count == 1)
        #expect(result.checksum == UInt64(0x3C00_3C00))  // only the norm weights are non-zero: [0, 60, 0, 60]
    }
}
