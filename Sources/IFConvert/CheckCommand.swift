import ArgumentParser
import Foundation
import IFCore

/// `ifconvert check PACK`: recompute every tensor's CRC32C.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify a pack's per-tensor CRC32C checksums; names every damaged tensor.",
        discussion: "Exit status 0 when every tensor matches, 1 when any differs or has no checksum.")

    @Argument(help: "The .gguf pack to check.")
    var pack: String

    @Flag(help: "Print JSON on stdout.")
    var json = false

    func run() throws {
        let opened = try Pack(readingAt: pack)
        let bar = ProgressBar(label: "check", quiet: json)
        let report = PackChecker.check(opened) { bar.update(done: $0, total: $1) }
        bar.finish()
        if json {
            print(try JSONOutput.encode(report))
        } else {
            for failure in report.failures {
                print("DAMAGED \(failure.name) (GGUF '\(failure.ggufName)'): crc32c \(failure.actual), recorded \(failure.expected ?? "-")")
            }
            for name in report.unchecked { print("UNCHECKED \(name): no recorded checksum") }
            print(report.ok ? "\(pack): all \(report.tensorCount) tensors match their CRC32C (\(ProgressBar.bytes(report.checkedByteCount)))"
                            : "\(pack): \(report.failures.count) damaged, \(report.unchecked.count) unchecked of \(report.tensorCount) tensors")
        }
        if !report.ok { throw ExitCode(1) }
    }
}
