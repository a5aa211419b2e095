import Testing
import SafetensorsReader

/// Every file in fixtures/malformed/ (made by scripts/fixturegen/malformed.py from files the real
/// safetensors package wrote) must fail with its own message, naming the file.
@Suite struct MalformedFileTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let file: String
        let expect: String
        var testDescription: String { file }
    }

    static let cases: [Case] = {
        guard let manifest = try? Repo.json("malformed/manifest.json"),
              let list = manifest.objectValue?["cases"]?.arrayValue else { return [] }
        return list.compactMap { item in
            guard let object = item.objectValue, let file = object["file"]?.stringValue,
                  let expect = object["expect"]?.stringValue else { return nil }
            return Case(file: file, expect: expect)
        }
    }()

    @Test func manifestListsTheCases() {
        #expect(Self.cases.count >= 20)
    }

    @Test(arguments: cases)
    func failsWithItsMessage(_ testCase: Case) {
        let path = Repo.fixture("malformed/" + testCase.file)
        let message = errorDescription { _ = try SafetensorsFile(readingAt: path) }
        #expect(message != nil, "\(testCase.file) opened without error")
        guard let message else { return }
        #expect(message.contains(testCase.expect), "got: \(message)")
        #expect(message.hasPrefix(path + ": "), "message must name the file: \(message)")
        #expect(!message.contains("\n"), "one-line message expected: \(message)")
    }

    @Test func theUncorruptedOriginalOpens() throws {
        let file = try SafetensorsFile(readingAt: Repo.fixture("malformed/valid.safetensors"))
        #expect(Set(file.tensorNames) == ["a", "b", "c"])
        #expect(file.metadata == ["format": "np"])
        #expect(try file.tensor(named: "a").floats() == [0, 1, 2, 3])
        #expect(try file.tensor(named: "b").floats() == [0, 1, 2, 3, 4, 5])
        #expect(try file.tensor(named: "c").floats() == [0, 1, 2])
    }

    @Test func everyTruncationOfAValidFileFailsCleanly() throws {
        // Any prefix of a valid file must be rejected with a message, never trap or read past the end.
        let bytes = try HeapStorage(Array(contentsOfFile: Repo.fixture("malformed/valid.safetensors")))
        for length in 0..<bytes.byteCount {
            let prefix = bytes.withUnsafeBytes(in: 0..<length) { Array($0) }
            let message = errorDescription { _ = try SafetensorsFile(storage: HeapStorage(prefix), path: "prefix") }
            #expect(message != nil, "a \(length)-byte prefix opened")
        }
    }
}

extension Array where Element == UInt8 {
    init(contentsOfFile path: String) throws {
        let mapped = try MappedFile(readingAt: path)
        self = mapped.withUnsafeBytes(in: 0..<mapped.byteCount) { Array($0) }
    }
}
