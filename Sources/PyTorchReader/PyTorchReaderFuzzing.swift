/// Entry points for fuzzing (scripts/fuzz_pytorch.sh) and for tests that feed arbitrary bytes.
/// Each one must return or throw `TensorIOError` for every input: never trap, never hang.
public enum PyTorchReaderFuzzing {
    /// Runs the pickle machine on `bytes` and walks the result as a checkpoint would.
    public static func pickle(_ bytes: [UInt8]) throws(TensorIOError) {
        let document = try Unpickler.load(ByteSlice(bytes: bytes), name: "fuzz.pkl", path: "<fuzz>")
        let layout = try StateDictLayout(document, path: "<fuzz>")
        _ = try layout.stateDict(path: "<fuzz>")
    }

    /// Parses `bytes` as a zip archive's directory and reads every entry (inflating with a small cap).
    public static func zipDirectory(_ bytes: [UInt8]) throws(TensorIOError) {
        let archive = try ZipArchive(storage: HeapStorage(bytes), path: "<fuzz>")
        for entry in archive.entries {
            _ = try? archive.contents(of: entry, maximumInflatedByteCount: 1 << 20)
        }
    }

    /// Opens `bytes` as a whole checkpoint and reads every tensor.
    public static func checkpoint(_ bytes: [UInt8]) throws(TensorIOError) {
        var options = PyTorchCheckpoint.Options()
        options.maximumInflatedByteCount = 1 << 20
        let checkpoint = try PyTorchCheckpoint(storage: HeapStorage(bytes), path: "<fuzz>", options: options)
        for name in checkpoint.tensorNames { _ = try checkpoint.tensor(named: name) }
    }
}
