import Foundation
import IFCore
import SafetensorsReader
import Testing

/// `verify` and `tokenize` end to end through the built `ifconvert` binary on the fixture snapshot.
@Suite struct VerifyCommandTests {
    static var repoRoot: String { CLI.repoRoot }

    static func ifconvert(_ arguments: [String]) throws -> CLI.Result { try CLI.run(arguments) }

    static var snapshot: String { repoRoot + "/fixtures/IF-I-tiny" }
    static func reference(_ name: String) -> String { repoRoot + "/fixtures/reference/\(name).safetensors" }

    @Test func verifyPassesOnTheFixtureTextEncoder() throws {
        let run = try Self.ifconvert(["verify", Self.snapshot + "/text_encoder", "--reference", Self.reference("t5"), "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["passed"] as? Bool == true)
        #expect(object["kind"] as? String == "t5")
        #expect((object["compute_seconds"] as? Double ?? -1) >= 0 && (object["load_seconds"] as? Double ?? -1) >= 0)
        let text = try Self.ifconvert(["verify", Self.snapshot, "--reference", Self.reference("tokenizer")])
        #expect(text.status == 0 && text.stdout.hasPrefix("PASS tokenizer"), "\(text.stdout)\(text.stderr)")
    }

    /// `--repeat`: the stage runs N times and still passes; 0 is refused as bad input.
    @Test func verifyRepeatRunsAndValidates() throws {
        let run = try Self.ifconvert(["verify", Self.snapshot + "/text_encoder", "--reference", Self.reference("t5"), "--json", "--repeat", "3"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["passed"] as? Bool == true)
        #expect((object["compute_seconds"] as? Double ?? -1) >= 0)
        let zero = try Self.ifconvert(["verify", Self.snapshot + "/text_encoder", "--reference", Self.reference("t5"), "--repeat", "0"])
        #expect(zero.status != 0 && zero.stderr.contains("--repeat"), "\(zero.stderr)")
    }

    /// A reference whose output is off by 1e-4 relative fails with exit status 1 and says FAIL.
    @Test func verifyFailsOnAPerturbedReference() throws {
        let source = try SafetensorsFile(readingAt: Self.reference("t5"))
        var writer = SafetensorsWriter(metadata: source.metadata)
        for name in source.tensorNames {
            let view = try source.tensor(named: name)
            if name == "out.last_hidden_state" {
                let values = try view.floats().enumerated().map { i, v in v * (1 + (i % 2 == 0 ? 1e-4 : -1e-4)) }
                try writer.append(name: name, dtype: .f32, shape: view.shape,
                                  bytes: values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } })
            } else {
                try writer.append(view)
            }
        }
        let path = NSTemporaryDirectory() + "ifconvert-perturbed-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writer.write(to: path)
        let run = try Self.ifconvert(["verify", Self.snapshot, "--reference", path])
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.hasPrefix("FAIL t5") && run.stdout.contains("FAIL out.last_hidden_state"))
        let loose = try Self.ifconvert(["verify", Self.snapshot, "--reference", path, "--tolerance", "1e-3"])
        #expect(loose.status == 0)
    }

    @Test func verifyBadInputExitsTwo() throws {
        let missing = try Self.ifconvert(["verify", Self.snapshot, "--reference", "/nonexistent.safetensors"])
        #expect(missing.status == 2 && missing.stderr.contains("reference bundle"))
        let noModel = try Self.ifconvert(["verify", "/nonexistent-model", "--reference", Self.reference("t5")])
        #expect(noModel.status == 2 && noModel.stderr.contains("no such file"))
        let stageII = try Self.ifconvert(["verify", Self.repoRoot + "/fixtures/IF-II-tiny", "--reference", Self.reference("t5")])
        #expect(stageII.status == 2, "stage II has no text encoder: \(stageII.stderr)")
    }

    @Test func tokenizePrintsTheReferenceIDs() throws {
        let bundle = try SafetensorsFile(readingAt: Self.reference("tokenizer"))
        let prompts = try #require(try JSONSerialization.jsonObject(with: Data(bundle.metadata["prompts"]!.utf8)) as? [String])
        let ids = try bundle.tensor(named: "out.input_ids").floats().map { Int($0) }
        let run = try Self.ifconvert(["tokenize", Self.snapshot] + Array(prompts.prefix(3)))
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        for (row, line) in lines.enumerated() {
            #expect(line.split(separator: " ").map { Int($0)! } == Array(ids[(row * 77)..<((row + 1) * 77)]))
        }
        let json = try Self.ifconvert(["tokenize", Self.snapshot + "/tokenizer", "a cat", "--json"])
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect((objects.first?["input_ids"] as? [Int])?.count == 77)
        let bad = try Self.ifconvert(["tokenize", "/nonexistent", "x"])
        #expect(bad.status == 2)
    }
}

/// The fixture T5 converted to packs (float, q8_0, int8) verifies against transformers' outputs.
@Suite struct VerifyPackTests {
    static func verifyJSON(_ pack: String, _ bundle: String) throws -> (status: Int32, object: [String: Any]) {
        let run = try VerifyCommandTests.ifconvert(["verify", pack, "--reference", VerifyCommandTests.reference(bundle), "--json"])
        let object = (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]) ?? [:]
        return (run.status, object)
    }

    static func relativeL2(_ object: [String: Any]) -> Double {
        let outputs = object["outputs"] as? [[String: Any]] ?? []
        let metrics = outputs.first?["metrics"] as? [String: Any] ?? [:]
        return metrics["relative_l2_error"] as? Double ?? .infinity
    }

    @Test func floatAndEightBitPacksVerify() throws {
        let folder = NSTemporaryDirectory() + "ifconvert-verifypacks-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let convert = try VerifyCommandTests.ifconvert(["convert", VerifyCommandTests.snapshot, "-o", folder, "--variant", "fp16", "--type", "f16"])
        #expect(convert.status == 0, "\(convert.stderr)")
        let floatPack = folder + "/text_encoder.gguf"

        let float = try Self.verifyJSON(floatPack, "t5")
        #expect(float.status == 0 && float.object["passed"] as? Bool == true)
        #expect(Self.relativeL2(float.object) <= 1e-5)
        let tokens = try Self.verifyJSON(floatPack, "tokenizer")
        #expect(tokens.status == 0, "the pack carries spiece.model")

        for scheme in ["q8_0", "int8"] {
            let output = folder + "/text_encoder-\(scheme).gguf"
            let quantize = try VerifyCommandTests.ifconvert(["quantize", floatPack, "-o", output, "--type", scheme, "--no-errors"])
            #expect(quantize.status == 0, "\(quantize.stderr)")
            let result = try Self.verifyJSON(output, "t5")
            #expect(result.status == 0, "\(scheme): \(result.object)")
            let tolerance = result.object["tolerance"] as? [String: Any]
            #expect(tolerance?["relative_l2"] as? Double == 5e-2, "\(scheme) gets the 8-bit bound")
            let error = Self.relativeL2(result.object)
            #expect(error > 1e-4 && error < 5e-2, "\(scheme): quantized, yet within the 8-bit bound: \(error)")
            // Held to the float bound, an 8-bit pack fails.
            let strict = try VerifyCommandTests.ifconvert(["verify", output, "--reference", VerifyCommandTests.reference("t5"), "--tolerance", "1e-5"])
            #expect(strict.status == 1)
        }
    }
}
