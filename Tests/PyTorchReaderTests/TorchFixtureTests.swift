import Testing
@testable import PyTorchReader

/// Every tensor torch returns for the fixtures, compared byte for byte (SHA-256) with what we read.
@Suite struct TorchFixtureTests {
    @Test(arguments: TorchFixtures.fileNames)
    func tensorsMatchTorch(file: String) throws {
        let expected = try #require(TorchFixtures.manifest.files[file])
        let source = try TorchFixtures.open(file)
        #expect(Set(source.tensorNames) == Set(expected.tensors.keys), "tensor names of \(file)")
        #expect(source.tensorNames.count == expected.tensors.count, "no duplicates in \(file)")
        for (name, tensor) in expected.tensors {
            let info = try source.info(named: name)
            let view = try source.tensor(named: name)
            #expect(info.dtype.rawValue == tensor.dtype, "\(file) \(name) dtype")
            #expect(view.dtype.rawValue == tensor.dtype, "\(file) \(name) dtype")
            #expect(view.shape == tensor.shape, "\(file) \(name) shape")
            #expect(info.byteCount == view.byteCount, "\(file) \(name) byte count")
            #expect(view.data.withUnsafeBytes { SHA256.hex($0) } == tensor.sha256, "\(file) \(name) bytes")
        }
    }

    @Test(arguments: TorchFixtures.fileNames.filter { !$0.hasSuffix(".json") })
    func prefixAndSkippedObjects(file: String) throws {
        let expected = try #require(TorchFixtures.manifest.files[file])
        let checkpoint = try PyTorchCheckpoint(readingAt: TorchFixtures.path(file))
        #expect(checkpoint.formatName == expected.format)
        #expect(checkpoint.stateDictPrefix == expected.prefix)
        let skipped = checkpoint.skippedObjects.map { [$0.path, $0.global] }
        for entry in expected.skipped {
            #expect(skipped.contains(entry), "\(file): expected skipped object \(entry) among \(skipped)")
        }
        if expected.skipped.isEmpty { #expect(skipped.isEmpty, "\(file): unexpected skipped objects \(skipped)") }
    }

    @Test func sharedStorageAndViews() throws {
        let checkpoint = try PyTorchCheckpoint(readingAt: TorchFixtures.path("views.pt"))
        // Contiguous tensors in stored entries are slices of the mapping; strided ones are copies.
        #expect(try checkpoint.isZeroCopy(named: "base"))
        #expect(try checkpoint.isZeroCopy(named: "row_slice"))
        #expect(try !checkpoint.isZeroCopy(named: "transposed"))
        #expect(try !checkpoint.isZeroCopy(named: "expanded"))
        let base = try checkpoint.tensor(named: "base").floats()
        let transposed = try checkpoint.tensor(named: "transposed").floats()
        for row in 0..<6 { for column in 0..<8 { #expect(base[row * 8 + column] == transposed[column * 6 + row]) } }
        #expect(try checkpoint.tensor(named: "row_slice").floats() == Array(base[16..<32]))
        #expect(try checkpoint.info(named: "scalar").shape == [])
        #expect(try checkpoint.tensor(named: "scalar").floats() == [3.5])
        #expect(try checkpoint.tensor(named: "empty").byteCount == 0)
    }

    @Test func deflatedEntriesAreInflated() throws {
        let deflated = try PyTorchCheckpoint(readingAt: TorchFixtures.path("deflated.pt"))
        let stored = try PyTorchCheckpoint(readingAt: TorchFixtures.path("dtypes.pt"))
        #expect(try !deflated.isZeroCopy(named: "f32"))
        for name in stored.tensorNames {
            #expect(try deflated.tensor(named: name).data.copyBytes() == stored.tensor(named: name).data.copyBytes())
        }
    }

    @Test func missingTensorIsAnError() throws {
        let checkpoint = try PyTorchCheckpoint(readingAt: TorchFixtures.path("dtypes.pt"))
        #expect(throws: TensorIOError.missingTensor(path: TorchFixtures.path("dtypes.pt"), name: "nope")) {
            try checkpoint.tensor(named: "nope")
        }
    }
}
