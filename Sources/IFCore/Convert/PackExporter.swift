import Foundation
import SafetensorsReader

/// `ifconvert export`: a pack back to safetensors with the checkpoint's names. Plain tensors are
/// written byte for byte as stored (so safetensors -> pack -> safetensors is identical per
/// tensor); quantized ones are dequantized to F32.
public enum PackExporter {
    public enum Layout: String, Sendable, CaseIterable {
        /// One .safetensors file.
        case file
        /// A component folder diffusers/transformers `from_pretrained` loads: config.json plus
        /// `diffusion_pytorch_model.safetensors` (diffusers) or `model.safetensors` (transformers).
        case diffusers
    }

    public struct Report: Sendable, Codable, Equatable {
        public var weightsPath: String
        public var configPath: String?
        public var tensorCount: Int
        public var dequantizedTensors: [String]
    }

    public static func export(packAt packPath: String, to output: String, layout: Layout = .file, overwrite: Bool = false) throws(TensorIOError) -> Report {
        let pack = try Pack(readingAt: packPath)
        var weightsPath = output
        var configPath: String?
        let attachments = PackAttachments(metadata: pack.ggufMetadata)
        if layout == .diffusers {
            guard let config = attachments.configJSON else {
                throw .unsupported(path: packPath, message: "the pack carries no config.json (if.config_json), so it cannot be exported as a component folder")
            }
            try createFolder(output, overwrite: overwrite)
            weightsPath = Converter.join(output, isDiffusers(attachments) ? "diffusion_pytorch_model.safetensors" : "model.safetensors")
            configPath = Converter.join(output, "config.json")
            try writeText(config, to: configPath!, overwrite: overwrite)
        }
        if !overwrite, FileManager.default.fileExists(atPath: weightsPath) {
            throw .io(path: weightsPath, message: "already exists (use --force to overwrite)")
        }
        // transformers refuses safetensors files without a "format" entry.
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        var dequantized: [String] = []
        for record in pack.records {
            let tensor = try pack.packTensor(for: record)
            if let view = tensor.view {
                try writer.append(view)
            } else {
                let floats = try dequantize(tensor, path: packPath)
                try writer.append(name: record.originalName, dtype: .f32, shape: record.shape, bytes: floats.withUnsafeBytes { Array($0) })
                dequantized.append(record.originalName)
            }
        }
        try writer.write(to: weightsPath)
        return Report(weightsPath: weightsPath, configPath: configPath, tensorCount: pack.records.count, dequantizedTensors: dequantized)
    }

    /// Dequantizes a q8_0 / q4_0 / q4_k / int8_rowwise tensor through IFCore's `Dequantizer`.
    static func dequantize(_ tensor: PackTensor, path: String) throws(TensorIOError) -> [Float] {
        let (rows, rowLength) = tensor.rowView
        var result = [Float](repeating: 0, count: rows * rowLength)
        let scaleBytes: [UInt8]?
        if tensor.encoding == .int8Rowwise {
            guard let scales = tensor.scaleTensor else {
                throw .malformed(path: path, message: "tensor '\(tensor.originalName)': int8_rowwise without scales")
            }
            scaleBytes = scales.data.copyBytes()
        } else {
            scaleBytes = nil
        }
        var failure: TensorIOError?
        tensor.data.withUnsafeBytes { weights in
            result.withUnsafeMutableBufferPointer { out in
                if let scaleBytes {
                    scaleBytes.withUnsafeBytes { scales in
                        do throws(TensorIOError) {
                            try Dequantizer.dequantizeInt8RowwiseRows(weights: weights, scales: scales, rowLength: rowLength, rows: 0..<rows,
                                                                      into: out, tensorName: tensor.originalName)
                        } catch { failure = error }
                    }
                } else {
                    do throws(TensorIOError) {
                        try Dequantizer.dequantizeRows(of: weights, type: tensor.type, rowLength: rowLength, rows: 0..<rows,
                                                       into: out, tensorName: tensor.originalName)
                    } catch { failure = error }
                }
            }
        }
        if let failure { throw failure }
        return result
    }

    static func isDiffusers(_ attachments: PackAttachments) -> Bool {
        if let index = attachments.modelIndexJSON, let json = try? JSONParser.parse(Array(index.utf8), path: "model_index.json"),
           let entry = json.objectValue?[attachments.component]?.arrayValue, let library = entry.first?.stringValue {
            return library == "diffusers"
        }
        return attachments.configJSON?.contains("\"_diffusers_version\"") ?? false
    }

    static func createFolder(_ path: String, overwrite: Bool) throws(TensorIOError) {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw .io(path: path, message: "exists and is not a folder") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw .io(path: path, message: "cannot create folder: \(error.localizedDescription)")
        }
    }

    static func writeText(_ text: String, to path: String, overwrite: Bool) throws(TensorIOError) {
        let output = try AtomicFileWriter(destination: path, overwrite: overwrite)
        try output.write(Array(text.utf8))
        try output.commit()
    }
}
