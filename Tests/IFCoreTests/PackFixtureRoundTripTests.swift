import Foundation
import SafetensorsReader
import Testing
@testable import IFCore

/// The committed fixture snapshots through convert -> pack -> export: every tensor comes back with
/// its name, dtype, shape and exact bytes, and the packs carry their configs and tokenizer.
@Suite("Pack fixture round trips")
struct PackFixtureRoundTripTests {
    static let root = repositoryRoot()

    /// (snapshot, variant): fp32 default files and fp16 variant files of both stages.
    static let cases: [(String, String?)] = [("IF-I-tiny", nil), ("IF-I-tiny", "fp16"), ("IF-II-tiny", nil), ("IF-II-tiny", "fp16")]

    @Test(arguments: cases)
    func snapshotRoundTripsLosslessly(snapshotName: String, variant: String?) throws {
        let folder = makePackTestFolder("fixture")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let snapshotPath = Self.root + "/fixtures/" + snapshotName
        let request = ConvertRequest(sourcePath: snapshotPath, outputPath: folder + "/packs", policy: FloatCastPolicy(target: nil), variant: variant)
        let plan = try Converter.plan(request)
        let report = try Converter.run(plan, request: request)
        #expect(!report.packs.isEmpty)
        let snapshot = try Snapshot.discover(at: snapshotPath, variant: variant)
        for component in snapshot.weightBearingComponents {
            let source = try openSource(component.weights!)
            let packPath = folder + "/packs/\(component.name).gguf"
            let pack = try Pack(readingAt: packPath)
            #expect(PackChecker.check(pack).ok)
            #expect(Set(pack.tensorNames) == Set(source.tensorNames))
            // Export and compare every tensor with the source, byte for byte.
            let exported = folder + "/\(component.name).safetensors"
            _ = try PackExporter.export(packAt: packPath, to: exported)
            let back = try SafetensorsFile(readingAt: exported)
            for name in source.tensorNames {
                let a = try source.tensor(named: name)
                let b = try back.tensor(named: name)
                #expect(a.dtype == b.dtype && a.shape == b.shape, "\(name)")
                #expect(a.data.copyBytes() == b.data.copyBytes(), "\(name)")
            }
            // Self-contained: config.json verbatim, schedulers, tokenizer bytes for the text encoder.
            let attachments = PackAttachments(metadata: pack.ggufMetadata)
            let config = try String(contentsOfFile: component.directory + "/config.json", encoding: .utf8)
            #expect(attachments.configJSON == config)
            #expect(attachments.schedulers.map(\.name).contains("scheduler"))
            if component.name == "text_encoder" {
                let spiece = try Data(contentsOf: URL(fileURLWithPath: snapshotPath + "/tokenizer/spiece.model"))
                #expect(attachments.spieceModel == [UInt8](spiece))
            }
            // Provenance: every source file with its SHA-256.
            let files = pack.ggufMetadata[PackKeys.sourceFiles]
            let hashes = pack.ggufMetadata[PackKeys.sourceSHA256]
            guard case let .array(.string(paths))? = files, case let .array(.string(digests))? = hashes else {
                Issue.record("no provenance")
                continue
            }
            for (path, digest) in zip(paths, digests) {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: snapshotPath + "/" + path))
                #expect(SHA256.hex(of: [UInt8](bytes)) == digest, "\(path)")
            }
        }
    }

    /// Converting the same input twice gives identical bytes, whatever the output folder.
    @Test func conversionIsDeterministic() throws {
        let folder = makePackTestFolder("det")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for out in ["a", "b"] {
            let request = ConvertRequest(sourcePath: Self.root + "/fixtures/IF-I-tiny", outputPath: folder + "/" + out,
                                         policy: FloatCastPolicy(target: .f16), variant: "fp16")
            _ = try Converter.run(try Converter.plan(request), request: request)
        }
        for name in ["unet.gguf", "text_encoder.gguf"] {
            #expect(FileManager.default.contentsEqual(atPath: folder + "/a/" + name, andPath: folder + "/b/" + name), "\(name)")
        }
    }

    /// --type f16 leaves the T5 feed-forward output weights in F32 and says so in the report.
    @Test func halfConversionKeepsT5FeedForwardOutputInF32() throws {
        let folder = makePackTestFolder("wo")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let request = ConvertRequest(sourcePath: Self.root + "/fixtures/IF-I-tiny", outputPath: folder + "/te.gguf",
                                     policy: FloatCastPolicy(target: .f16), component: "text_encoder")
        let report = try Converter.run(try Converter.plan(request), request: request)
        let wo = report.packs[0].tensors.filter { $0.name.hasSuffix("DenseReluDense.wo.weight") }
        #expect(!wo.isEmpty)
        #expect(wo.allSatisfy { $0.storedType == "f32" && !$0.notes.isEmpty })
        let pack = try Pack(readingAt: folder + "/te.gguf")
        #expect(try pack.tensor(named: wo[0].name).dtype == .f32)
    }

    @Test func existingOutputIsRefusedWithoutForce() throws {
        let folder = makePackTestFolder("force")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var request = ConvertRequest(sourcePath: Self.root + "/fixtures/IF-II-tiny/unet", outputPath: folder + "/u.gguf", policy: FloatCastPolicy(target: nil))
        _ = try Converter.run(try Converter.plan(request), request: request)
        #expect(throws: TensorIOError.self) { _ = try Converter.plan(request) }
        request.overwrite = true
        _ = try Converter.run(try Converter.plan(request), request: request)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["u.gguf"])
    }
}
