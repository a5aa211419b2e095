/// `ifconvert check`: recomputes every tensor's CRC32C and compares it with the pack's record.
public enum PackChecker {
    public struct TensorResult: Sendable, Codable, Equatable {
        /// Original (checkpoint) name; scale tensors are `<weight name>:scale`.
        public var name: String
        public var ggufName: String
        public var expected: String?
        public var actual: String
        public var ok: Bool
    }

    public struct Report: Sendable, Codable, Equatable {
        public var path: String
        public var algorithm: String
        public var tensorCount: Int
        public var checkedByteCount: Int
        public var failures: [TensorResult]
        /// GGUF tensors without a recorded checksum (foreign GGUF files).
        public var unchecked: [String]
        public var ok: Bool { failures.isEmpty && unchecked.isEmpty }
    }

    /// CRC32C of a slice, read in windows (mapped pages released after each).
    public static func crc(of data: ByteSlice) -> UInt32 {
        var crc: UInt32 = 0
        try? SourceWindows.forEach(data) { raw throws(TensorIOError) in crc = CRC32C.checksum(raw, continuing: crc) }
        return crc
    }

    public static func check(_ pack: Pack, progress: ((Int, Int) -> Void)? = nil) -> Report {
        var failures: [TensorResult] = []
        var unchecked: [String] = []
        var done = 0
        let total = pack.gguf.tensors.reduce(0) { $0 + $1.byteCount }
        for info in pack.gguf.tensors {
            let name = pack.originalName(ofGGUFTensor: info.name) ?? info.name
            let actual: UInt32
            do {
                // A compressed pack decodes here, reporting a corrupt frame instead of trapping.
                actual = crc(of: try pack.gguf.data(of: info).materialized())
            } catch {
                done += info.byteCount
                failures.append(TensorResult(name: name, ggufName: info.name, expected: pack.checksums[info.name].map(Hex.string),
                                             actual: "unreadable: \(error)", ok: false))
                continue
            }
            done += info.byteCount
            progress?(done, total)
            guard let expected = pack.checksums[info.name] else {
                unchecked.append(name)
                continue
            }
            if expected != actual {
                failures.append(TensorResult(name: name, ggufName: info.name, expected: Hex.string(expected), actual: Hex.string(actual), ok: false))
            }
        }
        return Report(path: pack.path, algorithm: PackKeys.checksumAlgorithmValue, tensorCount: pack.gguf.tensors.count,
                      checkedByteCount: total, failures: failures, unchecked: unchecked)
    }
}
