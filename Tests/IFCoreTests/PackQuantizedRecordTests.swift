import Foundation
import Testing
@testable import IFCore

/// Streams fixed bytes (what a quantizer produced) as the plan's outputs.
struct PrebuiltEncoder: PackTensorEncoder {
    let bytes: [UInt8]
    func encode(_ view: TensorView, plan: PackTensorPlan, into sink: any PackByteSink) throws(TensorIOError) -> PackEncodingStats {
        try sink.write(bytes: bytes)
        return PackEncodingStats()
    }
}

/// The pack carries quantized tensors and their records (the quantize module produces the bytes;
/// here they come from fixtures/quant, made by gguf-py's ggml-compatible quantizers).
@Suite("Pack quantized records")
struct PackQuantizedRecordTests {
    static let quant = repositoryRoot() + "/fixtures/quant/"

    static func floats(_ file: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: quant + file))
        return data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
    }

    @Test func q8_0AndInt8RowwiseRoundTrip() throws {
        let folder = makePackTestFolder("quant")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let q8 = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.quant + "q8_0.bin")))
        let matrix = try Self.floats("matrix.f32")
        // A conv-shaped logical tensor [12, 2, 16, 16] whose [12, 512] row view was quantized.
        let convInfo = TensorInfo(name: "down_blocks.0.resnets.0.conv1.weight", dtype: .f32, shape: [12, 2, 16, 16], byteCount: matrix.count * 4)
        let q8Plan = try PackTensorPlan.quantized(source: convInfo, encoding: .q8_0, rule: "test q8_0", encoder: PrebuiltEncoder(bytes: q8))
        let int8Weights: [Int8] = [127, -64, 0, 5, -127, 1]
        let scales: [Float] = [0.5, 0.25]
        let int8Info = TensorInfo(name: "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", dtype: .f16, shape: [2, 3], byteCount: 12)
        let int8Plan = try PackTensorPlan.quantized(source: int8Info, encoding: .int8Rowwise, rule: "test int8",
                                                    encoder: PrebuiltEncoder(bytes: int8Weights.map { UInt8(bitPattern: $0) } + floatBytes(scales)))
        #expect(int8Plan.outputs.map(\.type) == [.i8, .f32])
        let source = MemorySource([
            TensorView(name: convInfo.name, dtype: .f32, shape: convInfo.shape, data: ByteSlice(bytes: floatBytes(matrix))),
            TensorView(name: int8Info.name, dtype: .f16, shape: [2, 3], data: ByteSlice(bytes: [UInt8](repeating: 0, count: 12))),
        ])
        let plan = PackPlan(outputPath: folder + "/q.gguf", component: "unet", tensors: [q8Plan, int8Plan],
                            attachments: PackAttachments(component: "unet"), sourceFiles: [], sourceFileLocations: [],
                            requestedType: "test", name: "unet")
        _ = try PackWriter.write(plan, from: source, options: PackWriteOptions(hashSources: false))

        let pack = try Pack(readingAt: folder + "/q.gguf")
        let conv = try pack.packTensor(named: convInfo.name)
        #expect(conv.type == .q8_0 && conv.encoding == .q8_0)
        #expect(conv.shape == [12, 2, 16, 16] && conv.stored.storageShape == [12, 512])
        #expect(conv.data.copyBytes() == q8)
        #expect(conv.view == nil)
        #expect(throws: TensorIOError.self) { _ = try pack.tensor(named: convInfo.name) }
        let rowwise = try pack.packTensor(named: int8Info.name)
        #expect(rowwise.encoding == .int8Rowwise && rowwise.type == .i8)
        #expect(rowwise.scaleTensor?.data.copyBytes() == floatBytes(scales))
        #expect(rowwise.scaleTensor?.ggufName.hasSuffix("~" + String(rowwise.scaleTensor!.ggufName.split(separator: "~").last!)) == true)
        #expect(PackChecker.check(pack).ok)
        #expect(pack.originalName(ofGGUFTensor: rowwise.scaleTensor!.ggufName) == int8Info.name + ":scale")

        // Export dequantizes through IFCore's Dequantizer.
        let exported = try PackExporter.export(packAt: folder + "/q.gguf", to: folder + "/q.safetensors")
        #expect(Set(exported.dequantizedTensors) == [convInfo.name, int8Info.name])
        #expect(try PackExporter.dequantize(conv, path: "") == Self.floats("q8_0.dequant.f32"))
        #expect(try PackExporter.dequantize(rowwise, path: "") == [63.5, -32, 0, 1.25, -31.75, 0.25])
    }

    /// One row view for quantized storage: a 1-D tensor of n is one row of n ([1, n]), a scalar
    /// one row of one; plain storage keeps the logical shape.
    @Test func quantizedStorageIsTheRowView() throws {
        #expect(PackStorage.storageShape(for: [256], encoding: .q8_0) == [1, 256])
        #expect(PackStorage.storageShape(for: [7], encoding: .int8Rowwise) == [1, 7])
        #expect(PackStorage.storageShape(for: [], encoding: .int8Rowwise) == [1, 1])
        #expect(PackStorage.storageShape(for: [12, 2, 16, 16], encoding: .q4_0) == [12, 512])
        #expect(PackStorage.storageShape(for: [7], encoding: .plain) == [7])
        #expect(PackStorage.storageShape(for: [], encoding: .plain) == [1])
        let vector = TensorInfo(name: "norm.weight", dtype: .f32, shape: [64], byteCount: 256)
        let int8 = try PackTensorPlan.quantized(source: vector, encoding: .int8Rowwise, rule: "", encoder: RawCopyEncoder())
        #expect(int8.outputs.map(\.shape) == [[1, 64], [1]], "one row, one scale")
        let q8 = try PackTensorPlan.quantized(source: vector, encoding: .q8_0, rule: "", encoder: RawCopyEncoder())
        #expect(q8.outputs.map(\.shape) == [[1, 64]])
    }

    /// Before the row view was unified, `PackTensorPlan.quantized` stored a 1-D int8_rowwise tensor
    /// as [n, 1] with n scales (one per element). Such packs still read, with the stored view.
    @Test func legacyOneDimensionalInt8RowwiseStillReads() throws {
        let folder = makePackTestFolder("legacy")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let q: [Int8] = [127, 64, -127, 10]
        let scales: [Float] = [1, 2, 3, 4]
        let plan = Self.legacyPlan(name: "b", q: q, scales: scales, scaleShape: [4])
        try Self.write([plan], shapes: ["b": [4]], to: folder + "/legacy.gguf")
        let pack = try Pack(readingAt: folder + "/legacy.gguf")
        let tensor = try pack.packTensor(named: "b")
        #expect(tensor.shape == [4] && tensor.stored.storageShape == [4, 1])
        #expect(tensor.rowView == (rows: 4, rowLength: 1))
        #expect(PackChecker.check(pack).ok)
        #expect(try PackExporter.dequantize(tensor, path: "") == [127, 128, -381, 40])

        // The same layout with one scale (what the quantize path's hand-built plan made) is refused.
        let broken = Self.legacyPlan(name: "b", q: q, scales: [1], scaleShape: [1])
        #expect {
            try Self.write([broken], shapes: ["b": [4]], to: folder + "/broken.gguf")
        } throws: { "\($0)".contains("scale tensor 'b:scale' is f32 [1], expected f32 [4]") }
    }

    /// Readers trust the stored 2-D shape for the row view, so it must be the one quantization used.
    @Test func quantizedStorageOtherThanTheRowViewIsRefused() throws {
        let folder = makePackTestFolder("rowview")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let info = TensorInfo(name: "w", dtype: .f32, shape: [2, 64], byteCount: 512)
        var plan = try PackTensorPlan.quantized(source: info, encoding: .q8_0, rule: "", encoder: PrebuiltEncoder(bytes: [UInt8](repeating: 0, count: 136)))
        plan.outputs[0] = GGUFTensorDeclaration(name: plan.outputs[0].name, type: .q8_0, shape: [1, 128])
        #expect {
            try Self.write([plan], shapes: ["w": [2, 64]], to: folder + "/w.gguf")
        } throws: { "\($0)".contains("tensor 'w': q8_0 GGUF tensor 'w' is stored as [1, 128], expected the row view [2, 64] of shape [2, 64]") }
        #expect(!FileManager.default.fileExists(atPath: folder + "/w.gguf"))
    }

    /// An int8_rowwise plan in the pre-unification [n, 1] layout, built by hand.
    static func legacyPlan(name: String, q: [Int8], scales: [Float], scaleShape: [Int]) -> PackTensorPlan {
        let record = PackRecord(originalName: name, shape: [q.count], dtype: .f32, sourceDType: .f32, encoding: .int8Rowwise,
                                rule: "legacy", scaleGGUFName: PackNaming.scaleGGUFName(for: name))
        return PackTensorPlan(record: record,
                              outputs: [GGUFTensorDeclaration(name: record.ggufName, type: .i8, shape: [q.count, 1]),
                                        GGUFTensorDeclaration(name: record.scaleGGUFName!, type: .f32, shape: scaleShape)],
                              encoder: PrebuiltEncoder(bytes: q.map { UInt8(bitPattern: $0) } + floatBytes(scales)))
    }

    static func write(_ tensors: [PackTensorPlan], shapes: [String: [Int]], to path: String) throws {
        let source = MemorySource(shapes.map { name, shape in
            TensorView(name: name, dtype: .f32, shape: shape, data: ByteSlice(bytes: [UInt8](repeating: 0, count: shape.reduce(1, *) * 4)))
        })
        let plan = PackPlan(outputPath: path, component: "unet", tensors: tensors, attachments: PackAttachments(component: "unet"),
                            sourceFiles: [], sourceFileLocations: [], requestedType: "test", name: "unet")
        _ = try PackWriter.write(plan, from: source, options: PackWriteOptions(hashSources: false))
    }

    @Test func quantizedPlanRefusesPartialBlocks() {
        let info = TensorInfo(name: "w", dtype: .f32, shape: [4, 3, 3, 3], byteCount: 432)
        #expect(throws: TensorIOError.self) { _ = try PackTensorPlan.quantized(source: info, encoding: .q8_0, rule: "", encoder: RawCopyEncoder()) }
    }
}
