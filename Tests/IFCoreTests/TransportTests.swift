import Foundation
import Testing
@testable import IFCore
import SafetensorsReader

/// Seekable zstd archives: byte-exact round trips, `zstd -d` compatibility, random access, and
/// corruption reported with what the frame held.
@Suite("zstd transport")
struct TransportTests {
    /// A deterministic pseudo-file: a small "header", then fp16-like and fp32-like tensors of mixed
    /// sizes (some above the grouping and frame limits used below).
    static func syntheticFile() -> (bytes: [UInt8], segments: [ArchiveSegment]) {
        var generator = SplitMix(seed: 42)
        var bytes: [UInt8] = Array("HEADER-JSON-{}".utf8)
        var segments = [ArchiveSegment(range: 0..<bytes.count, label: "header")]
        let sizes = [10, 4096, 3, 70_000, 1_500_000, 17, 1_000_001]
        for (index, size) in sizes.enumerated() {
            let start = bytes.count
            let width = index % 2 == 0 ? 2 : 0
            for _ in 0..<size {
                // Half-like data: a small set of high bytes, noisy low bytes, so shuffling matters.
                let value = generator.next()
                bytes.append(width == 2 && (bytes.count - start) % 2 == 1 ? UInt8(0x38 + value % 4) : UInt8(truncatingIfNeeded: value))
            }
            segments.append(ArchiveSegment(range: start..<bytes.count, label: "tensor 't\(index)'", shuffleWidth: width))
        }
        return (bytes, segments)
    }

    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "ifconvert-transport-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test(arguments: [false, true])
    func roundTripIsByteExact(shuffle: Bool) throws {
        let (bytes, segments) = Self.syntheticFile()
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archivePath = directory + "/pack.gguf.zst"
        let summary = try SeekableArchiveWriter.write(
            source: HeapStorage(bytes), segments: segments, to: archivePath,
            options: .init(level: 3, threads: 2, shuffle: shuffle))
        #expect(summary.originalByteCount == bytes.count)
        #expect(summary.shuffledFrameCount > 0 || !shuffle)
        let archive = try SeekableArchive(readingAt: archivePath)
        #expect(archive.byteCount == bytes.count)
        #expect(try archive.read(0..<bytes.count) == bytes)
        // Random access: one tensor alone, and a range straddling frames.
        let tensor = segments[5].range
        #expect(try archive.read(tensor) == Array(bytes[tensor]))
        #expect(try archive.read(100..<300_000) == Array(bytes[100..<300_000]))
        try archive.restore(to: directory + "/restored", overwrite: false)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/restored"))) == bytes)
    }

    @Test func sameBytesForAnyThreadCount() throws {
        let (bytes, segments) = Self.syntheticFile()
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var outputs: [Data] = []
        for threads in [1, 2, 5] {
            let path = directory + "/t\(threads).zst"
            _ = try SeekableArchiveWriter.write(source: HeapStorage(bytes), segments: segments, to: path,
                                                options: .init(level: 1, threads: threads))
            outputs.append(try Data(contentsOf: URL(fileURLWithPath: path)))
        }
        #expect(outputs[0] == outputs[1])
        #expect(outputs[0] == outputs[2])
    }

    /// Plain `zstd -d` (when the CLI is installed) restores an unshuffled archive exactly.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/zstd")))
    func zstdCommandRestoresArchive() throws {
        let (bytes, segments) = Self.syntheticFile()
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archivePath = directory + "/pack.gguf.zst"
        _ = try SeekableArchiveWriter.write(source: HeapStorage(bytes), segments: segments, to: archivePath,
                                            options: .init(level: 3, threads: 2))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/zstd")
        process.arguments = ["-q", "-d", archivePath, "-o", directory + "/plain"]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/plain"))) == bytes)
    }

    @Test func corruptFrameNamesWhatItHeld() throws {
        let (bytes, segments) = Self.syntheticFile()
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archivePath = directory + "/pack.gguf.zst"
        _ = try SeekableArchiveWriter.write(source: HeapStorage(bytes), segments: segments, to: archivePath,
                                            options: .init(level: 3, threads: 1))
        let clean = try SeekableArchive(readingAt: archivePath)
        // Flip one byte in the middle of the frame holding tensor 't4' (1.5 MB, its own frame).
        let index = try #require(clean.frames.firstIndex { $0.label == "tensor 't4'" })
        let target = clean.frames[index].compressedRange.lowerBound + clean.frames[index].compressedRange.count / 2
        var damaged = try [UInt8](Data(contentsOf: URL(fileURLWithPath: archivePath)))
        damaged[target] ^= 0x40
        try Data(damaged).write(to: URL(fileURLWithPath: archivePath))
        let archive = try SeekableArchive(readingAt: archivePath)
        #expect(try archive.read(segments[1].range) == Array(bytes[segments[1].range]))
        let outcome = Result { () throws(TransportError) in try archive.read(segments[5].range) }
        guard case let .failure(error) = outcome else {
            Issue.record("corruption went unnoticed")
            return
        }
        #expect(error.description.contains("tensor 't4'"))
        #expect(error.description.contains("corrupt"))
    }

    @Test func plainZstdFileIsRefusedWithAdvice() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/x.zst"
        try Data(repeating: 7, count: 64).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try SeekableArchive(readingAt: path)
        } throws: { error in
            (error as? TransportError)?.description.contains("no seek table") == true
        }
    }

    @Test func planSplitsLargeAndGroupsSmallSegments() throws {
        let segments = [
            ArchiveSegment(range: 0..<10, label: "header"),
            ArchiveSegment(range: 10..<20, label: "a", shuffleWidth: 2),
            ArchiveSegment(range: 20..<30, label: "b", shuffleWidth: 2),
            ArchiveSegment(range: 30..<1030, label: "big", shuffleWidth: 2),
        ]
        let frames = try FramePlanner.plan(segments: segments, fileByteCount: 1030, shuffle: true,
                                           maximumFrameByteCount: 400, groupingByteCount: 100)
        #expect(frames.map(\.label) == ["header", "a .. b", "big [part 1/3]", "big [part 2/3]", "big [part 3/3]"])
        #expect(frames.map(\.range) == [0..<10, 10..<30, 30..<430, 430..<830, 830..<1030])
        #expect(frames.map(\.shuffled) == [false, true, true, true, true])
        #expect(throws: TransportError.self) {
            _ = try FramePlanner.plan(segments: [ArchiveSegment(range: 1..<5, label: "x")], fileByteCount: 5, shuffle: false)
        }
    }
}

/// A tiny deterministic generator so test data does not depend on the platform's RNG.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Reading one tensor of a compressed safetensors file decodes only what it needs and gives the
/// same bytes as the uncompressed file.
@Suite("zstd random access")
struct ArchivedSourceTests {
    static let fixture = repositoryRoot() + "/fixtures/IF-I-tiny/unet/diffusion_pytorch_model.fp16.safetensors"

    @Test(arguments: [false, true])
    func tensorBytesMatchUncompressedFile(shuffle: Bool) throws {
        let directory = try TransportTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = try MappedFile(readingAt: Self.fixture)
        let archivePath = directory + "/unet.safetensors.zst"
        _ = try SeekableArchiveWriter.write(source: file, segments: ArchiveSegments.forFile(at: Self.fixture, storage: file),
                                            to: archivePath, options: .init(level: 3, threads: 2, shuffle: shuffle))
        let plain = try SafetensorsFile(readingAt: Self.fixture)
        let archived = try ArchiveSegments.openArchivedSource(try SeekableArchive(readingAt: archivePath))
        #expect(archived.tensorNames == plain.tensorNames)
        for name in plain.tensorNames {
            #expect(try archived.tensor(named: name).data.materialized().copyBytes() == plain.tensor(named: name).data.copyBytes())
        }
    }
}

/// A real pack (the converted fixture UNet) compresses into frames that follow its tensors, and
/// restores byte for byte.
@Suite("zstd packs")
struct PackArchiveTests {
    @Test func packFramesFollowTensorsAndRestoreExactly() throws {
        let folder = makePackTestFolder("zstd-pack")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let request = ConvertRequest(sourcePath: repositoryRoot() + "/fixtures/IF-I-tiny/unet", outputPath: folder + "/unet.gguf",
                                     policy: FloatCastPolicy(target: nil), variant: "fp16")
        _ = try Converter.run(try Converter.plan(request), request: request)
        let file = try MappedFile(readingAt: folder + "/unet.gguf")
        let gguf = try GGUFFile(file: file)
        let segments = try ArchiveSegments.forFile(at: folder + "/unet.gguf", storage: file)
        #expect(segments.count == gguf.tensors.count + 1)
        #expect(segments.first?.range.lowerBound == 0)
        #expect(segments.last?.range.upperBound == file.byteCount)
        for (a, b) in zip(segments, segments.dropFirst()) { #expect(a.range.upperBound == b.range.lowerBound) }
        for info in gguf.tensors {
            let start = gguf.dataSectionOffset + info.dataOffset
            let segment = try #require(segments.first { $0.range.lowerBound == start })
            #expect(segment.label == "tensor '\(info.name)'")
            #expect(segment.range.count >= info.byteCount)
        }
        _ = try SeekableArchiveWriter.write(source: file, segments: segments, to: folder + "/unet.gguf.zst",
                                            options: .init(level: 3, threads: 2, shuffle: true))
        let archive = try SeekableArchive(readingAt: folder + "/unet.gguf.zst")
        try archive.restore(to: folder + "/restored.gguf", overwrite: false)
        // The compressed pack reads in place: same records, same bytes, checksums verified.
        let plain = try Pack(readingAt: folder + "/unet.gguf")
        let compressed = try Pack(readingAt: folder + "/unet.gguf.zst")
        #expect(compressed.tensorNames == plain.tensorNames)
        #expect(PackChecker.check(compressed).ok)
        for name in plain.tensorNames.prefix(20) {
            #expect(try compressed.tensor(named: name).data.materialized().copyBytes() == plain.tensor(named: name).data.copyBytes())
        }
        // A flipped byte inside a data frame is reported per tensor, never a trap.
        var damaged = try [UInt8](Data(contentsOf: URL(fileURLWithPath: folder + "/unet.gguf.zst")))
        let frame = archive.frames[archive.frames.count - 1]
        damaged[frame.compressedRange.lowerBound + frame.compressedRange.count / 2] ^= 0x10
        try Data(damaged).write(to: URL(fileURLWithPath: folder + "/damaged.gguf.zst"))
        let report = PackChecker.check(try Pack(readingAt: folder + "/damaged.gguf.zst"))
        #expect(!report.ok)
        #expect(report.failures.contains { $0.actual.contains("is corrupt") })
        #expect(try MappedFile(readingAt: folder + "/restored.gguf").withUnsafeBytes(in: 0..<file.byteCount) { Array($0) }
                == file.withUnsafeBytes(in: 0..<file.byteCount) { Array($0) })
    }
}
