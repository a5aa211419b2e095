import PyTorchReader
import SafetensorsReader

extension OriginalLayoutSource {
    /// Opens `config.yml` and the original checkpoint (`pytorch_model.bin` through the PyTorch reader;
    /// a safetensors re-save of it works too).
    public init(configAt configPath: String, checkpointAt checkpointPath: String) throws(OriginalLayoutError) {
        let file = try OriginalConfigFile(readingAt: configPath)
        let checkpoint: any TensorSource
        do {
            if let weights = WeightsFile(classifying: checkpointPath), weights.kind == .pytorch {
                checkpoint = try PyTorchCheckpoint(readingAt: checkpointPath)
            } else {
                checkpoint = try openSource(atPath: checkpointPath)
            }
        } catch {
            throw .io(error)
        }
        try self.init(configFile: file, checkpoint: checkpoint)
    }

    /// Opens the original checkpoint a snapshot discovery found (both root files are required).
    public init(_ original: OriginalCheckpoint) throws(OriginalLayoutError) {
        guard let configPath = original.configPath else {
            throw .io(.io(path: original.weights?.path ?? "", message: "config.yml is missing next to the original checkpoint"))
        }
        guard let weights = original.weights else {
            throw .io(.io(path: configPath, message: "pytorch_model.bin is missing next to config.yml"))
        }
        try self.init(configAt: configPath, checkpointAt: weights.path)
    }
}

/// Recognizing the original IF layout from its two parts.
public enum OriginalLayoutDetection {
    /// Top-level module names of the original `UNetModel` state dict.
    public static let checkpointPrefixes = ["input_blocks.", "middle_block.", "output_blocks.", "time_embed.", "out."]

    /// Whether `names` are original-layout UNet keys (every signature prefix occurs).
    public static func hasOriginalKeys(_ names: [String]) -> Bool {
        checkpointPrefixes.allSatisfy { prefix in names.contains { $0.hasPrefix(prefix) } }
    }

    /// Whether `file` is an original IF UNet config (`params` with model_channels, channel_mult, ...).
    public static func isOriginalConfig(_ file: OriginalConfigFile) -> Bool {
        OriginalUNetParams.signatureKeys.allSatisfy { file.params[$0] != nil }
    }
}
