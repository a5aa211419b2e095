import ArgumentParser
import Foundation
import IFCore

/// `ifconvert compress`: a seekable zstd archive that plain `zstd -d` restores.
struct CompressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compress",
        abstract: "Compress a pack (or safetensors file) into a seekable .zst that `zstd -d` restores.",
        discussion: """
            Frames are split at tensor boundaries and indexed by a zstd seek table, so `inspect` and
            `export` can read one tensor without decompressing the rest. --shuffle groups the high and
            low bytes of 16-bit tensors (often a better ratio); such archives are marked and only
            `ifconvert decompress` restores them.
            """)

    @Argument(help: "The file to compress (.gguf pack or .safetensors).")
    var input: String

    @Option(name: .shortAndLong, help: "Output path (default: INPUT.zst).")
    var output: String?

    @Option(help: "zstd level (1-19; negative levels are faster).")
    var level: Int = 3

    @Option(help: "Frames compressed at once (output is identical for any count).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Byte-shuffle 16-bit tensors before compressing (restored only by ifconvert).")
    var shuffle = false

    @Flag(help: "Overwrite the output if it exists.")
    var force = false

    @Flag(help: "Print a JSON summary on stdout.")
    var json = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        TemporaryFiles.removeOnInterrupt()
        let destination = output ?? input + ".zst"
        let bar = ProgressBar(label: "compress", quiet: json)
        let summary = try SeekableArchiveWriter.compressFile(
            at: input, to: destination,
            options: .init(level: level, threads: threads, shuffle: shuffle, overwrite: force)) { bar.update(done: $0, total: $1) }
        bar.finish()
        if json {
            print(try JSONOutput.encode(summary))
        } else {
            print("\(destination): \(ProgressBar.bytes(summary.originalByteCount)) -> \(ProgressBar.bytes(summary.compressedByteCount)) (ratio \(String(format: "%.3f", summary.ratio)), \(summary.frameCount) frames\(summary.shuffledFrameCount > 0 ? ", \(summary.shuffledFrameCount) shuffled" : ""))")
        }
    }
}

/// `ifconvert decompress`: restores the exact original file.
struct DecompressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decompress",
        abstract: "Restore the exact original file from an archive written by `ifconvert compress`.")

    @Argument(help: "The .zst archive.")
    var input: String

    @Option(name: .shortAndLong, help: "Output path (default: INPUT without .zst).")
    var output: String?

    @Option(help: "Extract only this tensor's raw bytes (random access: only its frames are decompressed).")
    var tensor: String?

    @Flag(help: "Overwrite the output if it exists.")
    var force = false

    func validate() throws {
        if tensor != nil, output == nil { throw ValidationError("--tensor needs -o FILE for the tensor's bytes") }
        guard output != nil || input.hasSuffix(".zst") else {
            throw ValidationError("'\(input)' does not end in .zst: name the output with -o")
        }
    }

    func run() throws {
        TemporaryFiles.removeOnInterrupt()
        let destination = output ?? String(input.dropLast(4))
        let archive = try SeekableArchive(readingAt: input)
        if let tensor {
            let bytes = try archive.tensorBytes(named: tensor)
            let writer = try AtomicFileWriter(destination: destination, overwrite: force)
            try writer.write(bytes)
            try writer.commit()
            print("\(destination): \(ProgressBar.bytes(bytes.count)) of tensor '\(tensor)'")
            return
        }
        let bar = ProgressBar(label: "decompress")
        try archive.restore(to: destination, overwrite: force) { bar.update(done: $0, total: $1) }
        bar.finish()
        print("\(destination): \(ProgressBar.bytes(archive.byteCount)) restored from \(archive.frameCount) frames")
    }
}
