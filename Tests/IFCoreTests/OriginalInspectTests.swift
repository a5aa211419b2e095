import Foundation
import Testing
@testable import IFCore

@Suite("inspect on the original layout")
struct OriginalInspectTests {
    /// A temporary folder holding IF-II-tiny's root config.yml (optionally edited) and pytorch_model.bin.
    func originalOnlyFolder(editing edit: (String) -> String = { $0 }) throws -> URL {
        let fixture = originalTestsRepositoryRoot().appendingPathComponent("fixtures/IF-II-tiny")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ifconvert-orig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let yaml = try String(contentsOf: fixture.appendingPathComponent("config.yml"), encoding: .utf8)
        try edit(yaml).write(to: folder.appendingPathComponent("config.yml"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: fixture.appendingPathComponent("pytorch_model.bin"),
                                         to: folder.appendingPathComponent("pytorch_model.bin"))
        return folder
    }

    @Test("a folder with config.yml + pytorch_model.bin is the original layout and reports the implied config")
    func reportsImpliedConfig() throws {
        let folder = try originalOnlyFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let report = try InspectReport.make(path: folder.path)
        #expect(report.layout == .original)
        let original = try #require(report.original)
        let implied = try #require(original.implied)
        #expect(implied.stage == .stageII)
        #expect(implied.config.layersPerBlock == [1, 2, 2])
        #expect(implied.config.additionEmbedNumHeads == 8)
        #expect(implied.diffusersTensorCount == 331 && implied.originalTensorCount == 295)
        #expect(original.mappingError == nil)
        #expect(report.humanText().contains("original IF UNet, stage II -> diffusers UNet2DConditionModel"))
        let json = report.json().serialized()
        #expect(json.contains("\"layout\":\"original-if-unet\"") || json.contains("\"layout\": \"original-if-unet\""))
    }

    @Test("a config.yml that does not fit the checkpoint is reported, naming keys")
    func reportsMappingError() throws {
        let folder = try originalOnlyFolder { $0.replacingOccurrences(of: "num_res_blocks: [1, 2, 2]", with: "num_res_blocks: [1, 2, 3]") }
        defer { try? FileManager.default.removeItem(at: folder) }
        let report = try InspectReport.make(path: folder.path)
        let original = try #require(report.original)
        #expect(original.implied == nil)
        let message = try #require(original.mappingError)
        #expect(message.contains("missing") && message.contains("input_blocks."))
    }
}
