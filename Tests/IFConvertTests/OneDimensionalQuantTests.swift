import Foundation
import Testing
import IFCore
@testable import IFQuant
import IFRunner
import SafetensorsReader

/// 1-D and scalar tensors forced to a quantized type with `--rule` (the default policy keeps them
/// float), through the code `ifconvert quantize` runs (`PackQuantizer`), then read back by every
/// consumer: the pack reader + `Dequantizer`, `export`, the runner's `PackWeightStore`, and `check`.
///
/// Convention (docs/FORMAT.md): a 1-D tensor of n elements is ONE row of n, stored [1, n] (GGUF
/// ne = [n, 1]); q8_0/q4 blocks run along it and int8_rowwise has one scale. A scalar is [1, 1].
/// Expected bytes and values are computed here from the scheme definitions, not through the code
/// under test's row view.
@Suite struct OneDimensionalQuantTests {

    /// Values with a different magnitude in every 32-block, so one scale per row and one per element
    /// (the old [n, 1] view) give different bytes.
    static func values(_ count: Int, seed: Double) -> [Float] {
        (0..<count).map { i in Float(sin(Double(i) * 0.37 + seed)) * Float(1 + (i / 32) % 5) * 0.1 }
    }

    static let vector = values(256, seed: 0.1)      // "vec.weight" [256]: fits every block size
    static let bias = values(64, seed: 1.3)         // "lin.bias" [64]: fits 32, not 256
    static let odd = values(7, seed: 2.7)           // "odd.weight" [7]: fits no block
    static let scalar: [Float] = [-0.7310586]       // "scalar" []
    static let linear = values(64 * 32, seed: 4.2)  // "lin.weight" [64, 32], kept F32

    static func bytes(_ values: [Float]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

    static func floats(_ bytes: [UInt8]) -> [Float] {
        bytes.withUnsafeBytes { raw in (0..<(bytes.count / 4)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
    }

    /// A float pack (F32, as stored) of the tensors above in a fresh folder.
    static func floatPack() throws -> (folder: String, path: String) {
        let folder = NSTemporaryDirectory() + "ifconvert-onedim-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let views: [TensorView] = [
            ("vec.weight", vector, [256]), ("lin.bias", bias, [64]), ("odd.weight", odd, [7]),
            ("scalar", scalar, []), ("lin.weight", linear, [64, 32]),
        ].map { TensorView(name: $0.0, dtype: .f32, shape: $0.2, data: ByteSlice(bytes: bytes($0.1))) }
        let source = InMemoryTensorSource(views)
        let policy = FloatCastPolicy(target: nil)
        let plans = try source.tensorNames.map { try policy.plan(for: try source.info(named: $0), component: "unet") }
        let path = folder + "/float.gguf"
        let plan = PackPlan(outputPath: path, component: "unet", tensors: plans, attachments: PackAttachments(component: "unet"),
                            sourceFiles: [], sourceFileLocations: [], requestedType: "source", name: "unet")
        _ = try PackWriter.write(plan, from: source, options: PackWriteOptions(hashSources: false))
        return (folder, path)
    }

    /// What one row `x` must become: the GGUF bytes, int8's single scale, and the dequantized values
    /// (decoded here from the scheme tables in docs/FORMAT.md; q4_k through the reference decoder).
    static func expected(_ x: [Float], _ scheme: QuantScheme) throws -> (bytes: [UInt8], scale: Float?, values: [Float]) {
        switch scheme {
        case .int8:
            let amax = x.reduce(0) { max($0, abs($1)) }
            let scale = amax / 127
            let inverse = 1 / scale
            let q = x.map { Int8(min(127, max(-127, ($0 * inverse).rounded(.toNearestOrAwayFromZero)))) }
            return (q.map { UInt8(bitPattern: $0) }, scale, q.map { Float($0) * scale })
        case .q8_0, .q4_0, .q4_k:
            let type = scheme.storageType
            var out = [UInt8](repeating: 0, count: x.count / type.blockSize * type.blockByteCount)
            x.withUnsafeBufferPointer { row in
                out.withUnsafeMutableBytes { dst in
                    switch scheme {
                    case .q8_0: ReferenceQuantizer.q8_0(row, into: dst.baseAddress!)
                    case .q4_0: ReferenceQuantizer.q4_0(row, into: dst.baseAddress!)
                    default: Q4KQuantizer.quantizeRow(row, into: dst.baseAddress!)
                    }
                }
            }
            var values = [Float](repeating: 0, count: x.count)
            for block in 0..<(x.count / type.blockSize) {
                let b = block * type.blockByteCount
                let d = Float(Float16(bitPattern: UInt16(out[b]) | UInt16(out[b + 1]) << 8))
                for j in 0..<type.blockSize {
                    switch scheme {
                    case .q8_0: values[block * 32 + j] = d * Float(Int8(bitPattern: out[b + 2 + j]))
                    case .q4_0:
                        let byte = out[b + 2 + j % 16]
                        values[block * 32 + j] = d * Float(Int(j < 16 ? byte & 0xF : byte >> 4) - 8)
                    default: break
                    }
                }
            }
            if scheme == .q4_k {
                try out.withUnsafeBytes { raw in
                    try values.withUnsafeMutableBufferPointer {
                        try Dequantizer.dequantizeRowsReference(of: raw, type: .q4_k, rowLength: x.count, rows: 0..<1, into: $0)
                    }
                }
            }
            return (out, nil, values)
        }
    }

    static func rules(_ scheme: QuantScheme) throws -> [QuantRule] {
        try ["^vec\\.weight$", "^lin\\.bias$", "^odd\\.weight$", "^scalar$"].map { try QuantRule(parsing: "\($0)=\(scheme.rawValue)") }
            + [QuantRule(parsing: "^lin\\.weight$=keep")]
    }

    @Test(arguments: QuantScheme.allCases)
    func oneDimensionalTensorsRoundTrip(scheme: QuantScheme) throws {
        let (folder, floatPath) = try Self.floatPack()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let out = folder + "/\(scheme.rawValue).gguf"
        let outcome = try PackQuantizer.run(QuantizeRequest(inputPath: floatPath, outputPath: out, scheme: scheme, rules: Self.rules(scheme)))
        #expect(outcome.written != nil)

        let pack = try Pack(readingAt: out)
        let store = PackWeightStore(pack: pack)
        let exported = try PackExporter.export(packAt: out, to: folder + "/out.safetensors")
        let safetensors = try SafetensorsFile(readingAt: exported.weightsPath)
        #expect(PackChecker.check(pack).ok)
        let check = try CLI.run(["check", out])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")

        // (name, logical shape, values, the scheme it must get, or nil: kept F32 by the block fallback)
        let q4Fit: QuantScheme? = scheme == .q4_k ? .q4_0 : scheme  // 64 is not a multiple of 256
        let cases: [(String, [Int], [Float], QuantScheme?)] = [
            ("vec.weight", [256], Self.vector, scheme),
            ("lin.bias", [64], Self.bias, q4Fit),
            ("odd.weight", [7], Self.odd, scheme == .int8 ? .int8 : nil),
            ("scalar", [], Self.scalar, scheme == .int8 ? .int8 : nil),
        ]
        for (name, shape, x, target) in cases {
            let tensor = try pack.packTensor(named: name)
            #expect(tensor.shape == shape, "\(name)")
            let runnerValues = try store.floats(named: name)
            let exportedView = try safetensors.tensor(named: name)
            #expect(exportedView.shape == shape, "\(name)")
            guard let target else {
                // Does not fit the block: kept as stored, with the reason in the record.
                #expect(tensor.encoding == .plain && tensor.record.dtype == .f32, "\(name)")
                #expect(tensor.record.rule.contains("is not a multiple of \(scheme.rawValue)'s block"), "\(tensor.record.rule)")
                #expect(tensor.record.rule.contains("kept as f32"), "\(tensor.record.rule)")
                #expect(runnerValues.map(\.bitPattern) == x.map(\.bitPattern), "\(name)")
                #expect(try exportedView.floats().map(\.bitPattern) == x.map(\.bitPattern), "\(name)")
                continue
            }
            let want = try Self.expected(x, target)
            let n = x.count
            #expect(tensor.encoding.rawValue == (target == .int8 ? "int8_rowwise" : target.rawValue), "\(name)")
            // One row of n: storage [1, n], GGUF ne = [n, 1] (ne[0] a whole number of blocks).
            #expect(tensor.stored.storageShape == [1, n], "\(name): \(tensor.stored.storageShape)")
            #expect(pack.gguf.tensorInfo(named: tensor.ggufName)?.ne == [n, 1], "\(name)")
            #expect(tensor.data.copyBytes() == want.bytes, "\(name): stored bytes")
            if let scale = want.scale {
                let scales = try #require(tensor.scaleTensor, "\(name)")
                #expect(scales.storageShape == [1] && scales.data.copyBytes() == Self.bytes([scale]), "\(name): one scale")
            } else {
                #expect(tensor.scaleTensor == nil)
            }
            // The pack reader + IFCore's Dequantizer.
            #expect(try Self.dequantized(tensor) == want.values, "\(name): Dequantizer")
            // export (safetensors, logical shape, F32).
            #expect(exportedView.dtype == .f32)
            #expect(try exportedView.floats() == want.values, "\(name): export")
            // The runner.
            #expect(runnerValues == want.values, "\(name): PackWeightStore.floats")
            #expect(store.storageLabel(of: name) != "?")
        }
        // A quantized 1-D bias on a Linear, and a 1-D weight used as a Linear (one output row).
        let layer = try store.linear(weight: "lin.weight", bias: "lin.bias")
        #expect(layer.outFeatures == 64 && layer.inFeatures == 32)
        #expect(layer.bias == (try Self.expected(Self.bias, q4Fit!).values))
        let row = try store.linear(weight: "vec.weight", bias: nil)
        #expect(row.outFeatures == 1 && row.inFeatures == 256)
        #expect(row.decodedWeights() == (try Self.expected(Self.vector, scheme).values))
    }

    /// Dequantizes a pack tensor through IFCore's Dequantizer, in the row view every reader uses.
    static func dequantized(_ tensor: PackTensor) throws -> [Float] {
        let (rows, rowLength) = tensor.rowView
        var values = [Float](repeating: .nan, count: rows * rowLength)
        let weights = tensor.data.copyBytes()
        let scales = tensor.scaleTensor?.data.copyBytes()
        try weights.withUnsafeBytes { w in
            try values.withUnsafeMutableBufferPointer { out in
                if let scales {
                    try scales.withUnsafeBytes { s in
                        try Dequantizer.dequantizeInt8RowwiseRows(weights: w, scales: s, rowLength: rowLength, rows: 0..<rows, into: out)
                    }
                } else {
                    try Dequantizer.dequantizeRows(of: w, type: tensor.type, rowLength: rowLength, rows: 0..<rows, into: out)
                }
            }
        }
        return values
    }

    /// The same through the binary: `quantize --rule` then `check`.
    @Test func quantizeCommandWithARuleOnA1DTensor() throws {
        let (folder, floatPath) = try Self.floatPack()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let q = try CLI.run(["quantize", floatPath, "-o", folder + "/q.gguf", "--type", "q8_0",
                             "--rule", "^vec\\.weight$=q8_0", "--rule", "^odd\\.weight$=q8_0", "--rule", "^lin\\.bias$=int8"])
        #expect(q.status == 0, "\(q.stderr)")
        let check = try CLI.run(["check", folder + "/q.gguf"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let pack = try Pack(readingAt: folder + "/q.gguf")
        #expect(pack.record(named: "vec.weight")?.encoding == .q8_0)
        #expect(pack.record(named: "lin.bias")?.encoding == .int8Rowwise)
        #expect(pack.record(named: "odd.weight")?.encoding == .plain)
        #expect(try PackWeightStore(pack: pack).floats(named: "vec.weight") == (try Self.expected(Self.vector, .q8_0).values))
    }

    /// A pack in the layout `PackTensorPlan.quantized` gave a 1-D int8_rowwise tensor before the
    /// row view was unified: I8 [n, 1] and n scales (one per element). Every reader must take the
    /// stored view; the runner and the requantizing source used to apply the first scale to all.
    @Test func legacyOneDimensionalInt8PackReadsTheSameEverywhere() throws {
        let folder = NSTemporaryDirectory() + "ifconvert-onedim-legacy-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let q: [Int8] = [127, 64, -127, 10]
        let scales: [Float] = [1, 2, 3, 4]
        let want: [Float] = [127, 128, -381, 40]
        let record = PackRecord(originalName: "norm.weight", shape: [4], dtype: .f32, sourceDType: .f32, encoding: .int8Rowwise,
                                rule: "legacy", scaleGGUFName: PackNaming.scaleGGUFName(for: "norm.weight"))
        let tensorPlan = PackTensorPlan(
            record: record,
            outputs: [GGUFTensorDeclaration(name: record.ggufName, type: .i8, shape: [4, 1]),
                      GGUFTensorDeclaration(name: record.scaleGGUFName!, type: .f32, shape: [4])],
            encoder: Prebuilt(bytes: q.map { UInt8(bitPattern: $0) } + Self.bytes(scales)))
        let source = InMemoryTensorSource([TensorView(name: "norm.weight", dtype: .f32, shape: [4], data: ByteSlice(bytes: [UInt8](repeating: 0, count: 16)))])
        let path = folder + "/legacy.gguf"
        _ = try PackWriter.write(PackPlan(outputPath: path, component: "unet", tensors: [tensorPlan], attachments: PackAttachments(component: "unet"),
                                          sourceFiles: [], sourceFileLocations: [], requestedType: "int8", name: "unet"),
                                 from: source, options: PackWriteOptions(hashSources: false))

        let pack = try Pack(readingAt: path)
        let tensor = try pack.packTensor(named: "norm.weight")
        #expect(tensor.stored.storageShape == [4, 1])
        #expect(try Self.dequantized(tensor) == want)
        #expect(try PackWeightStore(pack: pack).floats(named: "norm.weight") == want)
        let exported = try PackExporter.export(packAt: path, to: folder + "/out.safetensors")
        #expect(try SafetensorsFile(readingAt: exported.weightsPath).tensor(named: "norm.weight").floats() == want)
        #expect(try CLI.run(["check", path]).status == 0)
        // Requantizing dequantizes it first; the default policy then keeps the 1-D tensor as F32.
        _ = try PackQuantizer.run(QuantizeRequest(inputPath: path, outputPath: folder + "/again.gguf", scheme: .q8_0, allowRequantize: true))
        #expect(try Pack(readingAt: folder + "/again.gguf").tensor(named: "norm.weight").floats() == want)
    }

    struct Prebuilt: PackTensorEncoder {
        let bytes: [UInt8]
        func encode(_ view: TensorView, plan: PackTensorPlan, into sink: any PackByteSink) throws(TensorIOError) -> PackEncodingStats {
            try sink.write(bytes: bytes)
            return PackEncodingStats()
        }
    }

    /// Below the policy: asking the quantizer or the plan for blocks a 1-D length cannot hold is a
    /// clear error naming the tensor, its length and the block.
    @Test func lengthThatIsNotAWholeNumberOfBlocksIsRefused() throws {
        let view = TensorView(name: "odd.weight", dtype: .f32, shape: [7], data: ByteSlice(bytes: Self.bytes(Self.odd)))
        #expect {
            _ = try TensorQuantizer.quantize(view, as: .q8_0)
        } throws: { error in
            "\(error)".contains("odd.weight") && "\(error)".contains("row length 7") && "\(error)".contains("block size 32")
        }
        let info = TensorInfo(name: "odd.weight", dtype: .f32, shape: [7], byteCount: 28)
        #expect {
            _ = try PackTensorPlan.quantized(source: info, encoding: .q8_0, rule: "", encoder: RawCopyEncoder())
        } throws: { error in
            "\(error)".contains("odd.weight") && "\(error)".contains("7 elements") && "\(error)".contains("blocks of 32")
        }
        let decision = QuantPolicy(scheme: .q8_0, rules: try Self.rules(.q8_0)).decide(name: "odd.weight", shape: [7], sourceType: .f32)
        #expect(decision.target == .keep && decision.fallback?.contains("kept as f32") == true)
    }
}
