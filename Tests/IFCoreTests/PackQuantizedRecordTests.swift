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

    @Test func quantizedPlanRefusesPartialBlocks() {
        let info = TensorInfo(name: "w", dtype: .f32, shape: [4, 3, 3, 3], byteCount: 432)
        #expect(throws: TensorIOError.self) { _ = try PackTensorPlan.quantized(source: info, encoding: .q8_0, rule: "", encoder: RawCopyEncoder()) }
    }
}
