import Foundation
import IFCore
@testable import IFRunner
import Testing

/// A bundle with some tensors replaced (perturbed references, missing outputs).
struct EditedBundleSource: TensorSource {
    let base: any TensorSource
    var replacements: [String: [Float]] = [:]
    var removed: Set<String> = []
    var metadataOverride: [String: String]?

    var formatName: String { "edited \(base.formatName)" }
    var filePaths: [String] { base.filePaths }
    var tensorNames: [String] { base.tensorNames.filter { !removed.contains($0) } }
    var metadata: [String: String] { metadataOverride ?? base.metadata }

    func info(named name: String) throws(TensorIOError) -> TensorInfo {
        guard !removed.contains(name) else { throw .missingTensor(path: "edited", name: name) }
        return try base.info(named: name)
    }

    func tensor(named name: String) throws(TensorIOError) -> TensorView {
        guard !removed.contains(name) else { throw .missingTensor(path: "edited", name: name) }
        let view = try base.tensor(named: name)
        guard let values = replacements[name] else { return view }
        let bytes = values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
        return TensorView(name: name, dtype: .f32, shape: view.shape, data: ByteSlice(bytes: bytes))
    }
}

enum Fixture {
    static var root: URL { repositoryRoot() }
    static var stageI: StageModel { get throws { try StageModel(path: root.appendingPathComponent("fixtures/IF-I-tiny").path) } }
    static func bundle(_ name: String) throws -> ReferenceBundle {
        try Verifier.openBundle(at: root.appendingPathComponent("fixtures/reference/\(name).safetensors").path)
    }
}

@Suite("T5 and tokenizer vs transformers")
struct VerifyTests {
    /// The fixture T5 (sharded fp16 with F32 `wo`) against transformers' fp32 outputs, 14 prompts.
    @Test func fixtureT5MatchesTransformers() throws {
        let report = try Verifier.verify(model: try Fixture.stageI, bundle: try Fixture.bundle("t5"))
        #expect(report.kind == .t5)
        #expect(report.passed)
        #expect(report.tolerance == .float)
        let output = try #require(report.outputs.first)
        #expect(output.name == "out.last_hidden_state" && output.shape == [14, 77, 64])
        #expect(output.metrics.relativeL2Error <= VerifyTolerance.float.relativeL2)
        #expect(output.metrics.cosineSimilarity > 0.999_999)
        #expect(output.metrics.nanCount == 0 && output.metrics.infCount == 0)
        // Every act.* the bundle has is compared, in execution order; the embedding is an exact copy.
        #expect(report.layers.map(\.name) == ["act.encoder.embed_tokens", "act.encoder.block.0", "act.encoder.block.1"])
        #expect(report.layers[0].metrics.maxAbsError == 0)
        #expect(report.fp16RangeAudit.count == 2 && report.fp16RangeAudit.allSatisfy { !$0.overflowsHalf && $0.maxAbs > 0 })
        #expect(report.storageTypes == ["F16", "F32"])
    }

    @Test(arguments: ["tokenizer", "tokenizer-edge"])
    func tokenizerIDsAreIdentical(bundleName: String) throws {
        let bundle = try Fixture.bundle(bundleName)
        let tokenizer = try Fixture.stageI.tokenizer()
        let prompts = try bundle.stringList("prompts")
        let (ids, shape) = try bundle.integers("out.input_ids")
        let (mask, _) = try bundle.integers("out.attention_mask")
        #expect(shape == [prompts.count, 77])
        #expect(prompts.count >= (bundleName == "tokenizer" ? 10 : 3))
        for (row, prompt) in prompts.enumerated() {
            let encoding = try tokenizer.encode(prompt)
            #expect(encoding.inputIDs == Array(ids[(row * 77)..<((row + 1) * 77)]), "prompt \(row): \(prompt.debugDescription)")
            #expect(encoding.attentionMask == Array(mask[(row * 77)..<((row + 1) * 77)]), "prompt \(row)")
        }
        let report = try Verifier.verify(model: try Fixture.stageI, bundle: bundle)
        #expect(report.kind == .tokenizer && report.passed)
    }

    /// A reference off by 1e-4 relative (10x the float tolerance) must fail, and say where.
    @Test func perturbedReferenceFails() throws {
        let original = try Fixture.bundle("t5")
        var values = try original.floats("out.last_hidden_state")
        let noise = randomFloats(values.count, seed: 99)
        let norm = values.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        let noiseNorm = noise.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        for i in values.indices { values[i] += Float(1e-4 * norm / noiseNorm) * noise[i] }
        let edited = ReferenceBundle(path: "perturbed", source: EditedBundleSource(base: original.source, replacements: ["out.last_hidden_state": values]))
        let report = try Verifier.verify(model: try Fixture.stageI, bundle: edited)
        #expect(!report.passed)
        let output = try #require(report.outputs.first)
        #expect(output.passed == false)
        #expect(abs(output.metrics.relativeL2Error - 1e-4) < 2e-5)
        // The same perturbation is within a loose explicit tolerance.
        #expect(try Verifier.verify(model: try Fixture.stageI, bundle: edited, tolerance: 1e-3).passed)
    }

    /// A perturbed activation is attributed to its layer.
    @Test func errorGrowthNamesThePerturbedLayer() throws {
        let original = try Fixture.bundle("t5")
        var values = try original.floats("act.encoder.block.1")
        for i in values.indices where i % 7 == 0 { values[i] += 0.05 }
        let edited = ReferenceBundle(path: "perturbed-act", source: EditedBundleSource(base: original.source, replacements: ["act.encoder.block.1": values]))
        let report = try Verifier.verify(model: try Fixture.stageI, bundle: edited)
        #expect(report.passed)  // activations inform, outputs decide
        #expect(report.largestErrorGrowth?.layer == "act.encoder.block.1")
    }

    @Test func tokenizerMismatchFails() throws {
        let original = try Fixture.bundle("tokenizer")
        var ids = try original.integers("out.input_ids").values.map(Float.init)
        ids[5] = ids[5] == 7 ? 8 : 7
        let edited = ReferenceBundle(path: "bad ids", source: EditedBundleSource(base: original.source, replacements: ["out.input_ids": ids]))
        let report = try Verifier.verify(model: try Fixture.stageI, bundle: edited)
        #expect(!report.passed)
        #expect(report.outputs.first { $0.name == "out.input_ids" }?.metrics.mismatchCount == 1)
    }

    @Test func badBundlesThrow() throws {
        let original = try Fixture.bundle("t5")
        let noOutput = ReferenceBundle(path: "no output", source: EditedBundleSource(base: original.source, removed: ["out.last_hidden_state"], metadataOverride: ["kind": "t5"]))
        #expect(throws: RunnerError.self) { try Verifier.verify(model: try Fixture.stageI, bundle: noOutput) }
        let unknownKind = ReferenceBundle(path: "unknown", source: EditedBundleSource(base: original.source, metadataOverride: ["kind": "vae"]))
        #expect(throws: RunnerError.self) { try Verifier.verify(model: try Fixture.stageI, bundle: unknownKind) }
        let noKind = ReferenceBundle(path: "anonymous", source: EditedBundleSource(base: original.source, metadataOverride: [:]))
        #expect(try ReferenceBundleKind.detect(noKind) == .t5)
        // A stage II snapshot has no text encoder: bad input, not a numerical failure.
        let stageII = try StageModel(path: Fixture.root.appendingPathComponent("fixtures/IF-II-tiny").path)
        #expect(throws: (any Error).self) { try Verifier.verify(model: stageII, bundle: original) }
        #expect(throws: RunnerError.self) { try Verifier.openBundle(at: "/nonexistent/bundle.safetensors") }
    }

    @Test func reportJSONHasTimingsAndMemory() throws {
        let report = try Verifier.verify(model: try Fixture.stageI, bundle: try Fixture.bundle("t5"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.jsonText().utf8)) as? [String: Any])
        for key in ["load_seconds", "compute_seconds", "compute_cpu_seconds", "peak_memory_bytes", "passed", "outputs", "layers", "fp16_range_audit", "tolerance"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        #expect((object["peak_memory_bytes"] as? Int ?? 0) > 1_000_000)
        #expect(report.text.hasPrefix("PASS t5"))
    }
}

@Suite("Tolerances")
struct ToleranceTests {
    @Test func defaultsFollowTheLoosestStoredType() {
        #expect(VerifyTolerance.defaultTolerance(forStorageLabels: ["F16", "F32"]) == .float)
        #expect(VerifyTolerance.defaultTolerance(forStorageLabels: ["F16", "Q8_0"]) == .eightBit)
        #expect(VerifyTolerance.defaultTolerance(forStorageLabels: ["int8_rowwise", "F32"]) == .eightBit)
        #expect(VerifyTolerance.defaultTolerance(forStorageLabels: ["Q8_0", "Q4_K"]) == .fourBit)
        #expect(VerifyTolerance.float.relativeL2 < VerifyTolerance.eightBit.relativeL2)
        #expect(VerifyTolerance.eightBit.relativeL2 < VerifyTolerance.fourBit.relativeL2)
    }

    @Test func metricsOfKnownVectors() {
        let m = ComparisonMetrics(computed: [1, 2, .nan, 4], reference: [1, 2, 3, 5])
        #expect(m.nanCount == 1 && m.maxAbsError == 1 && m.mismatchCount == 2)
        let same = ComparisonMetrics(computed: [0, 0], reference: [0, 0])
        #expect(same.relativeL2Error == 0 && same.cosineSimilarity == 1)
        let opposite = ComparisonMetrics(computed: [1, -1], reference: [-1, 1])
        #expect(abs(opposite.cosineSimilarity + 1) < 1e-12 && abs(opposite.relativeL2Error - 2) < 1e-12)
    }
}
