import Testing
@testable import PyTorchReader

/// Hostile and broken files: each ends in one error line or a reported skip, never in execution,
/// a crash or an out-of-bounds read.
@Suite struct HostileFileTests {
    @Test(arguments: TorchFixtures.hostileNames)
    func hostileFile(name: String) throws {
        let expected = try #require(TorchFixtures.manifest.hostile[name])
        let path = TorchFixtures.path("hostile/" + name)
        switch expected.outcome {
        case "skip":
            let checkpoint = try PyTorchCheckpoint(readingAt: path)
            #expect(checkpoint.tensorNames == expected.tensors)
            for tensorName in checkpoint.tensorNames { _ = try checkpoint.tensor(named: tensorName) }
            #expect(checkpoint.skippedObjects.map { [$0.path, $0.global] } == expected.skipped)
        default:
            let error = #expect(throws: TensorIOError.self) {
                let checkpoint = try PyTorchCheckpoint(readingAt: path)
                if expected.read_tensors == true {
                    for tensorName in checkpoint.tensorNames { _ = try checkpoint.tensor(named: tensorName) }
                }
            }
            let message = error.map { String(describing: $0) } ?? ""
            #expect(message.contains(expected.message ?? ""), "\(name): got '\(message)'")
            #expect(!message.contains("\n"), "\(name): error must be one line: '\(message)'")
        }
    }
}
