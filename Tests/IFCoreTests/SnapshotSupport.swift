import Foundation
import IFCore
import SafetensorsReader

/// Repository paths for tests: the root is the folder above Tests/ that holds Package.swift.
enum SnapshotRepo {
    static let root = repositoryRoot()

    static func fixture(_ relative: String) -> String { root + "/fixtures/" + relative }
}

/// A small IF-shaped hub snapshot written with our safetensors writer into a temporary folder:
/// unet (fp32 + fp16 variant), text_encoder (fp16 shards only, F32 `wo` like the XXL files),
/// tokenizer, scheduler, and the original-layout root files.
final class TinySnapshot {
    let root: String

    init(original: Bool = true) throws {
        root = NSTemporaryDirectory() + "ifconvert-snapshot-" + UUID().uuidString
        for folder in ["unet", "text_encoder", "tokenizer", "scheduler"] {
            try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        }
        try write("model_index.json", """
            {"_class_name": "IFPipeline", "_diffusers_version": "0.16.0", "_ignore_files": ["pytorch_model.bin"],
             "feature_extractor": [null, null], "requires_safety_checker": false, "safety_checker": [null, null],
             "scheduler": ["diffusers", "DDPMScheduler"], "text_encoder": ["transformers", "T5EncoderModel"],
             "tokenizer": ["transformers", "T5Tokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
             "watermarker": [null, null]}
            """)
        try write("unet/config.json", #"{"_class_name": "UNet2DConditionModel", "sample_size": 8, "in_channels": 3}"#)
        try write("text_encoder/config.json", #"{"architectures": ["T5EncoderModel"], "d_model": 2}"#)
        try write("tokenizer/tokenizer_config.json", "{}")
        try write("scheduler/scheduler_config.json", #"{"_class_name": "DDPMScheduler"}"#)

        var unet32 = SafetensorsWriter(metadata: ["format": "pt"])
        try unet32.append(name: "conv_in.weight", dtype: .f32, shape: [4, 3, 3, 3], bytes: [UInt8](repeating: 0, count: 432))
        try unet32.append(name: "conv_in.bias", dtype: .f32, shape: [4], bytes: [UInt8](repeating: 0, count: 16))
        try unet32.write(to: root + "/unet/diffusion_pytorch_model.safetensors")
        var unet16 = SafetensorsWriter(metadata: ["format": "pt"])
        try unet16.append(name: "conv_in.weight", dtype: .f16, shape: [4, 3, 3, 3], bytes: [UInt8](repeating: 0, count: 216))
        try unet16.append(name: "conv_in.bias", dtype: .f16, shape: [4], bytes: [UInt8](repeating: 0, count: 8))
        try unet16.write(to: root + "/unet/diffusion_pytorch_model.fp16.safetensors")

        var shard1 = SafetensorsWriter(metadata: ["format": "pt"])
        try shard1.append(name: "shared.weight", dtype: .f16, shape: [8, 2], bytes: [UInt8](repeating: 0, count: 32))
        try shard1.append(name: "encoder.block.0.layer.1.DenseReluDense.wo.weight", dtype: .f32, shape: [2, 4], bytes: [UInt8](repeating: 0, count: 32))
        try shard1.write(to: root + "/text_encoder/model.fp16-00001-of-00002.safetensors")
        var shard2 = SafetensorsWriter(metadata: ["format": "pt"])
        try shard2.append(name: "encoder.final_layer_norm.weight", dtype: .f16, shape: [2], bytes: [0, 60, 0, 60])
        try shard2.write(to: root + "/text_encoder/model.fp16-00002-of-00002.safetensors")
        try write("text_encoder/model.safetensors.index.fp16.json", """
            {"metadata": {"total_size": 68}, "weight_map": {
              "encoder.block.0.layer.1.DenseReluDense.wo.weight": "model.fp16-00001-of-00002.safetensors",
              "encoder.final_layer_norm.weight": "model.fp16-00002-of-00002.safetensors",
              "shared.weight": "model.fp16-00001-of-00002.safetensors"}}
            """)
        if original {
            try write("config.yml", "params:\n  model_channels: 8\n")
            try write("pytorch_model.bin", "not opened by discovery")
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func path(_ relative: String) -> String { root + "/" + relative }

    func write(_ relative: String, _ text: String) throws {
        try text.write(toFile: path(relative), atomically: true, encoding: .utf8)
    }

    func remove(_ relative: String) throws { try FileManager.default.removeItem(atPath: path(relative)) }
}

func ioErrorDescription(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let error as TensorIOError {
        return error.description
    } catch {
        return "unexpected error type: \(error)"
    }
}
