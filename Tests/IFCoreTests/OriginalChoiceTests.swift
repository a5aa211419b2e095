import Foundation
import Testing
@testable import IFCore

@Suite("convert: which UNet layout is read")
struct OriginalChoiceTests {
    static let fixture = originalTestsRepositoryRoot().appendingPathComponent("fixtures/IF-II-tiny")

    /// A temporary folder with IF-II-tiny's unet files (diffusers) and/or root original files.
    func folder(diffusers: Bool, original: Bool) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ifconvert-choice-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if diffusers {
            for name in ["config.json", "diffusion_pytorch_model.fp16.safetensors"] {
                try FileManager.default.copyItem(at: Self.fixture.appendingPathComponent("unet/\(name)"),
                                                 to: folder.appendingPathComponent(name == "config.json" ? name : "diffusion_pytorch_model.safetensors"))
            }
        }
        if original {
            for name in ["config.yml", "pytorch_model.bin"] {
                try FileManager.default.copyItem(at: Self.fixture.appendingPathComponent(name), to: folder.appendingPathComponent(name))
            }
        }
        return folder
    }

    @Test("both forms: diffusers by default, the original with --original, and a note saying which",
          arguments: [false, true])
    func bothForms(requestOriginal: Bool) throws {
        let path = try folder(diffusers: true, original: true)
        defer { try? FileManager.default.removeItem(at: path) }
        let snapshot = try Snapshot.discover(at: path.path)
        let choice = try UNetLayoutChoice.choose(for: snapshot, requestOriginal: requestOriginal)
        #expect(choice == (requestOriginal ? .original : .diffusers))
        let note = try #require(UNetLayoutChoice.note(choice, snapshot: snapshot, diffusersWeights: "diffusion_pytorch_model.safetensors"))
        #expect(note.contains(requestOriginal ? "converted from the original IF layout" : "pass --original"))
    }

    @Test("only the original files: the original is read without asking")
    func originalOnly() throws {
        let path = try folder(diffusers: false, original: true)
        defer { try? FileManager.default.removeItem(at: path) }
        let snapshot = try Snapshot.discover(at: path.path)
        #expect(snapshot.layout == .original)
        #expect(try UNetLayoutChoice.choose(for: snapshot, requestOriginal: false) == .original)
        let input = try OriginalConversionInput(try #require(snapshot.originalCheckpoint))
        #expect(input.configJSON.contains("\"addition_embed_type_num_heads\": 8"))
        #expect(input.sourceFiles.map { ($0 as NSString).lastPathComponent } == ["config.yml", "pytorch_model.bin"])
    }

    @Test("--original without the root files is an error saying what is missing")
    func originalMissing() throws {
        let path = try folder(diffusers: true, original: false)
        defer { try? FileManager.default.removeItem(at: path) }
        let snapshot = try Snapshot.discover(at: path.path)
        #expect {
            try UNetLayoutChoice.choose(for: snapshot, requestOriginal: true)
        } throws: { error in
            "\(error)".contains("--original needs config.yml and pytorch_model.bin")
        }
    }
}
