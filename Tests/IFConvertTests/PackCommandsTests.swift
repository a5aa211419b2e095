import Foundation
import Testing
@testable import IFConvert
import IFCore

/// convert / check / export end to end through the built `ifconvert` binary on the fixture snapshot.
@Suite struct PackCommandsTests {
    static var repoRoot: String { CLI.repoRoot }

    static func ifconvert(_ arguments: [String]) throws -> CLI.Result { try CLI.run(arguments) }

    @Test func convertCheckExportThroughTheBinary() throws {
        let folder = NSTemporaryDirectory() + "ifconvert-packcli-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let snapshot = Self.repoRoot + "/fixtures/IF-I-tiny"

        let dry = try Self.ifconvert(["convert", snapshot, "-o", folder, "--variant", "fp16", "--dry-run", "--json"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("\"estimatedPeakMemoryByteCount\""))
        #expect(!FileManager.default.fileExists(atPath: folder), "dry run writes nothing")

        let convert = try Self.ifconvert(["convert", snapshot, "-o", folder, "--variant", "fp16", "--type", "f16", "--verify"])
        #expect(convert.status == 0, "\(convert.stderr)")
        #expect(convert.stdout.contains("packs are in \(folder)/"))
        #expect(convert.stdout.contains("DenseReluDense.wo.weight: kept F32"))
        #expect(convert.stderr.isEmpty, "no progress bar when stderr is not a terminal")

        let again = try Self.ifconvert(["convert", snapshot, "-o", folder, "--variant", "fp16"])
        #expect(again.status != 0 && again.stderr.contains("--force"))

        let check = try Self.ifconvert(["check", folder + "/unet.gguf"])
        #expect(check.status == 0 && check.stdout.contains("all 301 tensors match"), "\(check.stdout)")

        let export = try Self.ifconvert(["export", folder + "/text_encoder.gguf", "-o", folder + "/te", "--layout", "diffusers"])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(FileManager.default.fileExists(atPath: folder + "/te/model.safetensors"))
        #expect(FileManager.default.fileExists(atPath: folder + "/te/config.json"))

        // Flip one bit in the last tensor's data: check names the tensor and fails.
        let pack = try Pack(readingAt: folder + "/unet.gguf")
        let victim = pack.records.last!
        let offset = try pack.packTensor(for: victim).data.range.lowerBound
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: folder + "/unet.gguf"))
        try handle.seek(toOffset: UInt64(offset))
        let byte = try handle.read(upToCount: 1)![0]
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: Data([byte ^ 0x01]))
        try handle.close()
        let damaged = try Self.ifconvert(["check", folder + "/unet.gguf", "--json"])
        #expect(damaged.status == 1)
        #expect(damaged.stdout.contains("\"name\" : \"\(victim.originalName)\""), "\(damaged.stdout)")
    }

    /// Ctrl-C during a conversion leaves neither the output nor a temp file; a temp file left by a
    /// killed (`kill -9`) earlier run is removed by the next run.
    @Test func interruptedConversionLeavesNothing() throws {
        let folder = NSTemporaryDirectory() + "ifconvert-sigint-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A 256 MiB safetensors file, sparse on disk: converting it takes seconds in a debug build.
        let count = 256 << 20
        let header = Array("{\"w\":{\"dtype\":\"F32\",\"shape\":[\(count / 4)],\"data_offsets\":[0,\(count)]}}".utf8)
        let padded = header + [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        var bytes = withUnsafeBytes(of: UInt64(padded.count).littleEndian) { Array($0) } + padded
        let source = folder + "/big.safetensors"
        FileManager.default.createFile(atPath: source, contents: Data(bytes))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: source))
        try handle.truncate(atOffset: UInt64(bytes.count + count))
        try handle.close()
        bytes.removeAll()
        // A stale temp file of a dead process (pid 2^22+1 is above Linux's default pid_max).
        let stale = folder + "/.out.gguf.partial-4194305-1"
        FileManager.default.createFile(atPath: stale, contents: Data([1, 2, 3]))

        let binary = CLI.binaryURL
        let process = Process()
        process.executableURL = binary
        process.arguments = ["convert", source, "-o", folder + "/out.gguf"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait until the temp file exists (the run is under way), then interrupt.
        for _ in 0..<200 {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            if names.contains(where: { $0.hasPrefix(".out.gguf.partial-") && !$0.hasSuffix("-4194305-1") }) { break }
            usleep(20_000)
        }
        process.interrupt()
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        let left = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(left == ["big.safetensors"], "\(left)")
    }

    @Test func convertHelpListsTypes() {
        let help = IFConvertCommand.helpMessage(for: ConvertCommand.self, columns: 100)
        #expect(help.contains("--type <type>"))
        #expect(help.contains("values: f32, f16, bf16"))
        #expect(help.contains("--dry-run"))
    }
}
