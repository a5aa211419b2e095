import Foundation
import Testing
@testable import IFCore

/// Builds a plan for `source` with `policy` and writes it to `folder/name`.
@discardableResult
func writePack(_ source: any TensorSource, to path: String, policy: any PackTypePolicy = FloatCastPolicy(target: nil),
               component: String = "text_encoder", attachments: PackAttachments? = nil,
               options: PackWriteOptions = PackWriteOptions(hashSources: false)) throws -> PackWriteReport {
    var tensors: [PackTensorPlan] = []
    for name in source.tensorNames { tensors.append(try policy.plan(for: try source.info(named: name), component: component)) }
    let plan = PackPlan(outputPath: path, component: component, tensors: tensors,
                        attachments: attachments ?? PackAttachments(component: component), sourceFiles: [], sourceFileLocations: [],
                        requestedType: policy.requestedType, name: component)
    return try PackWriter.write(plan, from: source, options: options)
}

/// An encoder that fails after writing part of its bytes (an interrupted conversion).
struct FailingEncoder: PackTensorEncoder {
    func encode(_ view: TensorView, plan: PackTensorPlan, into sink: any PackByteSink) throws(TensorIOError) -> PackEncodingStats {
        try sink.write(bytes: [1, 2, 3])
        throw .io(path: "test", message: "interrupted")
    }
}

struct FailingPolicy: PackTypePolicy {
    var requestedType: String { "source" }
    func plan(for info: TensorInfo, component: String) throws(TensorIOError) -> PackTensorPlan {
        .plain(source: info, storing: info.dtype, rule: "test", encoder: info.name == "b" ? FailingEncoder() : RawCopyEncoder())
    }
}

@Suite("Pack writer and reader")
struct PackWriterTests {
    static let longName = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"

    static func sampleSource() -> MemorySource {
        var views: [TensorView] = []
        let dtypes: [DType] = [.f32, .f16, .bf16, .f64, .i64, .i32, .i16, .i8, .u8, .bool, .u16, .u32, .u64, .f8e4m3, .f8e5m2]
        for (i, dtype) in dtypes.enumerated() {
            let shape = [3, 5]
            views.append(TensorView(name: "t\(i).\(dtype.rawValue)", dtype: dtype, shape: shape,
                                    data: ByteSlice(bytes: pseudoRandomBytes(15 * dtype.byteSize, seed: UInt64(i + 1)))))
        }
        views.append(TensorView(name: longName, dtype: .f16, shape: [32, 4], data: ByteSlice(bytes: pseudoRandomBytes(256, seed: 99))))
        views.append(TensorView(name: "scalar", dtype: .f32, shape: [], data: ByteSlice(bytes: floatBytes([2.5]))))
        views.append(TensorView(name: "conv.weight", dtype: .f16, shape: [2, 3, 3, 3], data: ByteSlice(bytes: pseudoRandomBytes(108, seed: 5))))
        views.append(TensorView(name: "five.d", dtype: .f32, shape: [2, 1, 2, 1, 3], data: ByteSlice(bytes: pseudoRandomBytes(48, seed: 6))))
        views.append(TensorView(name: "empty", dtype: .f32, shape: [0, 7], data: ByteSlice(bytes: [])))
        return MemorySource(views)
    }

    /// Keeping dtypes, every tensor reads back with its name, dtype, shape and exact bytes.
    @Test func losslessRoundTripOfEveryDType() throws {
        let folder = makePackTestFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = Self.sampleSource()
        let attachments = PackAttachments(component: "text_encoder", configJSON: "{\"d_model\": 8}", modelIndexJSON: "{}",
                                          schedulers: [("scheduler", "{\"beta_end\": 0.02}")], spieceModel: [0, 1, 2, 255],
                                          tokenizerConfigJSON: "{}", specialTokensMapJSON: "{\"eos\": \"</s>\"}")
        try writePack(source, to: folder + "/p.gguf", attachments: attachments)
        let pack = try Pack(readingAt: folder + "/p.gguf")
        #expect(pack.tensorNames == source.tensorNames)
        #expect(PackAttachments(metadata: pack.ggufMetadata) == attachments)
        for name in source.tensorNames {
            let original = try source.tensor(named: name)
            let read = try pack.tensor(named: name)
            #expect(read.dtype == original.dtype, "\(name)")
            #expect(read.shape == original.shape, "\(name)")
            #expect(read.data.copyBytes() == original.data.copyBytes(), "\(name)")
        }
        let long = try pack.packTensor(named: Self.longName)
        #expect(long.ggufName.utf8.count <= 63)
        #expect(long.ggufName != Self.longName)
        #expect(try pack.packTensor(named: "conv.weight").stored.storageShape == [2, 3, 3, 3])
        #expect(try pack.packTensor(named: "five.d").stored.storageShape == [2, 2, 1, 3])
        #expect(PackChecker.check(pack).ok)
    }

    @Test func sameInputGivesSameBytes() throws {
        let folder = makePackTestFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try writePack(Self.sampleSource(), to: folder + "/a.gguf", policy: FloatCastPolicy(target: .f16))
        try writePack(Self.sampleSource(), to: folder + "/b.gguf", policy: FloatCastPolicy(target: .f16))
        #expect(FileManager.default.contentsEqual(atPath: folder + "/a.gguf", andPath: folder + "/b.gguf"))
    }

    /// f32 -> f16 rounds to nearest even exactly like Swift's Float16 and counts overflow/flush.
    @Test func castToHalfCountsOverflowAndFlush() throws {
        let folder = makePackTestFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let values: [Float] = [1, -2.5, 70000, -1e6, 1e-9, -1e-12, 0, 65504, 1.0009766, .infinity, 6e-8]
        let source = MemorySource([
            TensorView(name: "w", dtype: .f32, shape: [values.count], data: ByteSlice(bytes: floatBytes(values))),
            TensorView(name: "encoder.block.0.layer.1.DenseReluDense.wo.weight", dtype: .f32, shape: [2], data: ByteSlice(bytes: floatBytes([1e5, 1]))),
            TensorView(name: "ids", dtype: .i64, shape: [1], data: ByteSlice(bytes: [7, 0, 0, 0, 0, 0, 0, 0])),
        ])
        let report = try writePack(source, to: folder + "/h.gguf", policy: FloatCastPolicy(target: .f16))
        #expect(report.tensors[0].overflowedToInfinity == 2)
        #expect(report.tensors[0].flushedToZero == 2)
        #expect(report.tensors[1].storedType == "f32")
        #expect(!report.tensors[1].notes.isEmpty)
        let pack = try Pack(readingAt: folder + "/h.gguf")
        let w = try pack.tensor(named: "w")
        #expect(w.dtype == .f16)
        let halves = w.data.copyBytes().withUnsafeBytes { raw in (0..<values.count).map { raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self) } }
        #expect(halves == values.map { Float16($0).bitPattern })
        #expect(try pack.tensor(named: "encoder.block.0.layer.1.DenseReluDense.wo.weight").dtype == .f32)
        #expect(try pack.tensor(named: "ids").dtype == .i64)

        let forced = try writePack(source, to: folder + "/h2.gguf", policy: FloatCastPolicy(target: .f16, castT5FeedForwardOutput: true))
        #expect(forced.tensors[1].storedType == "f16")
        #expect(forced.tensors[1].overflowedToInfinity == 1)
    }

    /// fp16 -> f32 -> (pack) -> values identical; bf16 cast matches the reference rounding.
    @Test func widenAndBFloat16Casts() throws {
        let folder = makePackTestFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let halves: [Float16] = [1, -0.5, 65504, 0.0001, -3]
        let halfBytes = halves.withUnsafeBytes { Array($0) }
        let source = MemorySource([TensorView(name: "h", dtype: .f16, shape: [5], data: ByteSlice(bytes: halfBytes))])
        try writePack(source, to: folder + "/f.gguf", policy: FloatCastPolicy(target: .f32))
        #expect(try Pack(readingAt: folder + "/f.gguf").tensor(named: "h").floats() == halves.map(Float.init))
        try writePack(source, to: folder + "/b.gguf", policy: FloatCastPolicy(target: .bf16))
        let bf = try Pack(readingAt: folder + "/b.gguf").tensor(named: "h")
        #expect(bf.dtype == .bf16)
        let expected = halves.map { v -> UInt16 in
            let bits = Float(v).bitPattern
            return UInt16((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16)
        }
        #expect(bf.data.copyBytes().withUnsafeBytes { raw in (0..<5).map { raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self) } } == expected)
    }

    /// A flipped bit in any tensor is found and named by its original name.
    @Test func checkNamesTheCorruptedTensor() throws {
        let folder = makePackTestFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/c.gguf"
        try writePack(Self.sampleSource(), to: path)
        let clean = try Pack(readingAt: path)
        let target = try clean.packTensor(named: Self.longName)
        let byteOffset = target.data.range.lowerBound + 17
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[byteOffset] ^= 0x04
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let report = PackChecker.check(try Pack(readingAt: path))
        #expect(!report.ok)
        #expect(report.failures.map(\.name) == [Self.longName])
    }

    /// An encoder failing mid-tensor leaves no output and no temp file; an existing output is untouched.
    @Test func interruptedWriteLeavesNoPartialOutput() throws {
        let folder = makePackTestFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let source = MemorySource([
            TensorView(name: "a", dtype: .f32, shape: [4], data: ByteSlice(bytes: pseudoRandomBytes(16, seed: 1))),
            TensorView(name: "b", dtype: .f32, shape: [4], data: ByteSlice(bytes: pseudoRandomBytes(16, seed: 2))),
        ])
        #expect(throws: TensorIOError.self) { try writePack(source, to: folder + "/x.gguf", policy: FailingPolicy()) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)

        try writePack(source, to: folder + "/x.gguf")
        let before = try Data(contentsOf: URL(fileURLWithPath: folder + "/x.gguf"))
        #expect(throws: TensorIOError.self) {
            try writePack(source, to: folder + "/x.gguf", policy: FailingPolicy(), options: PackWriteOptions(overwrite: true, hashSources: false))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/x.gguf")) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["x.gguf"])
        // Without overwrite an existing output is refused.
        #expect(throws: TensorIOError.self) { try writePack(source, to: folder + "/x.gguf") }
    }

    @Test func sourceFilesAreHashedIntoProvenance() throws {
        let folder = makePackTestFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let sourcePath = folder + "/src.bin"
        #expect(FileManager.default.createFile(atPath: sourcePath, contents: Data("abc".utf8)))
        let source = MemorySource([TensorView(name: "a", dtype: .f32, shape: [1], data: ByteSlice(bytes: floatBytes([1])))])
        let plan = PackPlan(outputPath: folder + "/p.gguf", component: "unet",
                            tensors: [try FloatCastPolicy(target: nil).plan(for: try source.info(named: "a"), component: "unet")],
                            attachments: PackAttachments(component: "unet"),
                            sourceFiles: [PackSourceFile(path: "src.bin", byteCount: 3, sha256: "")],
                            sourceFileLocations: [sourcePath], requestedType: "source", name: "unet")
        let report = try PackWriter.write(plan, from: source)
        #expect(report.sources.first?.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let pack = try Pack(readingAt: folder + "/p.gguf")
        #expect(pack.ggufMetadata[PackKeys.sourceSHA256] == .array(.string(["ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"])))
        #expect(pack.ggufMetadata[PackKeys.tool] == .string("ifconvert \(IFConvertVersion.string)"))
        #expect(pack.ggufMetadata[PackKeys.sourceSHA256Origins] == .array(.string(["computed"])))
    }

    /// A hub-recorded digest is written as recorded (not recomputed: the recorded value here is not
    /// the content's hash), also with hashing off; other files then get "" and origin "none".
    @Test func recordedDigestsNeedNoHashing() throws {
        let folder = makePackTestFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let recorded = String(repeating: "0f", count: 32)
        try FileManager.default.createDirectory(atPath: folder + "/.cache/huggingface/download", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: folder + "/hub.bin", contents: Data("abc".utf8)))
        #expect(FileManager.default.createFile(atPath: folder + "/own.bin", contents: Data("abc".utf8)))
        try "c0ffee\n\(recorded)\n\(Date().timeIntervalSince1970 + 5)\n".write(
            toFile: folder + "/.cache/huggingface/download/hub.bin.metadata", atomically: true, encoding: .utf8)
        let source = MemorySource([TensorView(name: "a", dtype: .f32, shape: [1], data: ByteSlice(bytes: floatBytes([1])))])
        for hashing in [true, false] {
            let plan = PackPlan(outputPath: folder + "/p\(hashing).gguf", component: "unet",
                                tensors: [try FloatCastPolicy(target: nil).plan(for: try source.info(named: "a"), component: "unet")],
                                attachments: PackAttachments(component: "unet"),
                                sourceFiles: [PackSourceFile(path: "hub.bin", byteCount: 3, sha256: ""), PackSourceFile(path: "own.bin", byteCount: 3, sha256: "")],
                                sourceFileLocations: [folder + "/hub.bin", folder + "/own.bin"], requestedType: "source", name: "unet")
            let report = try PackWriter.write(plan, from: source, options: PackWriteOptions(hashSources: hashing))
            let own = hashing ? "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" : ""
            #expect(report.sources.map(\.sha256) == [recorded, own])
            #expect(report.sources.map(\.sha256Origin) == [.hubLocalDirMetadata, hashing ? .computed : .none])
            let pack = try Pack(readingAt: plan.outputPath)
            #expect(pack.ggufMetadata[PackKeys.sourceSHA256] == .array(.string([recorded, own])))
            #expect(pack.ggufMetadata[PackKeys.sourceSHA256Origins] == .array(.string(["hub-local-dir-metadata", hashing ? "computed" : "none"])))
        }
    }
}

@Suite("Pack naming")
struct PackNamingTests {
    @Test func shortNamesAreKept() {
        let name = String(repeating: "a", count: 63)
        #expect(PackNaming.ggufName(for: name) == name)
    }

    @Test(arguments: [
        PackWriterTests.longName,
        String(repeating: "é", count: 40),
        "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_out.0.weight:scale",
    ])
    func longNamesAreShortenedDeterministically(name: String) {
        let short = PackNaming.ggufName(for: name)
        #expect(short.utf8.count <= 63)
        #expect(short == PackNaming.ggufName(for: name))
        #expect(short.contains("~"))
        #expect(name.hasPrefix(String(short.split(separator: "~")[0])))
    }

    @Test func differentLongNamesGetDifferentShortNames() {
        let base = String(repeating: "x", count: 70)
        #expect(PackNaming.ggufName(for: base + "1") != PackNaming.ggufName(for: base + "2"))
    }
}

@Suite("Source hashing")
struct SourceHashingTests {
    /// A hub-cache style symlink to blobs/<64 hex> takes its digest from the name; anything else is hashed.
    @Test func hubBlobNamesAreTrusted() throws {
        let folder = makePackTestFolder("blobs")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let digest = String(repeating: "ab", count: 32)
        try FileManager.default.createDirectory(atPath: folder + "/blobs", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: folder + "/blobs/" + digest, contents: Data("x".utf8)))
        try FileManager.default.createSymbolicLink(atPath: folder + "/model.safetensors", withDestinationPath: "blobs/" + digest)
        #expect(KnownSourceDigest.lookup(folder + "/model.safetensors")?.digest == digest)
        #expect(KnownSourceDigest.lookup(folder + "/model.safetensors")?.origin == .hubCacheBlobName)
        #expect(KnownSourceDigest.lookup(folder + "/blobs/" + digest) == nil, "not through a symlink")
        #expect(FileManager.default.createFile(atPath: folder + "/plain.bin", contents: Data("abc".utf8)))
        let paths = [folder + "/model.safetensors", folder + "/plain.bin"]
        let known = Dictionary(uniqueKeysWithValues: paths.compactMap { path in KnownSourceDigest.lookup(path).map { (path, $0.digest) } })
        let hasher = StreamingSourceHasher(paths: paths, known: known)
        #expect(try hasher.finish() == [digest, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"])
    }

    /// `hf download --local-dir` records: the etag line is the digest when it is a SHA-256 and the
    /// file was not modified after the recorded download time.
    @Test func hubLocalDirRecordsAreTrusted() throws {
        let folder = makePackTestFolder("localdir")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let digest = String(repeating: "cd", count: 32)
        let records = folder + "/.cache/huggingface/download/text_encoder"
        try FileManager.default.createDirectory(atPath: records, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder + "/text_encoder", withIntermediateDirectories: true)
        let file = folder + "/text_encoder/model.safetensors"
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        let now = Date().timeIntervalSince1970
        func record(_ etag: String, at time: Double) throws {
            try "0123456789abcdef0123456789abcdef01234567\n\(etag)\n\(time)\n".write(
                toFile: records + "/model.safetensors.metadata", atomically: true, encoding: .utf8)
        }
        try record(digest, at: now + 5)
        #expect(KnownSourceDigest.lookup(file)?.digest == digest)
        #expect(KnownSourceDigest.lookup(file)?.origin == .hubLocalDirMetadata)
        try record(String(repeating: "e", count: 40), at: now + 5)  // a git file's SHA-1 etag
        #expect(KnownSourceDigest.lookup(file) == nil)
        try record(digest, at: now - 3600)  // modified after the download
        #expect(KnownSourceDigest.lookup(file) == nil)
        #expect(KnownSourceDigest.lookup(folder + "/text_encoder/other.safetensors") == nil)
    }
}
