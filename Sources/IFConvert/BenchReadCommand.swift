import ArgumentParser
import IFCore

/// Hidden: `ifconvert bench-read PATH`, the measurement scripts/bench/open_sharded.sh runs.
struct BenchReadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-read",
        abstract: "Time opening a checkpoint and reading every tensor's bytes (benchmark helper).",
        shouldDisplay: false
    )

    @Argument(help: "A .safetensors file or a *.safetensors.index*.json file.")
    var path: String

    @Option(help: "How many times to open the checkpoint.")
    var openRepeats = 20

    @Option(help: "How many full reads of all tensor bytes.")
    var readRepeats = 3

    @Flag(help: "Populate each tensor's pages with madvise(MADV_POPULATE_READ) before reading.")
    var populate = false

    func run() throws {
        let r = try ReadBenchmark.run(path: path, openRepeats: openRepeats, readRepeats: readRepeats, populate: populate)
        let open = r.openSeconds.map { String($0) }.joined(separator: ",")
        let read = r.readSeconds.map { String($0) }.joined(separator: ",")
        print(#"{"tensor_count": \#(r.tensorCount), "byte_count": \#(r.byteCount), "open_seconds": [\#(open)], "read_seconds": [\#(read)], "checksum": \#(r.checksum)}"#)
    }
}
