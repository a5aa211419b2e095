// Benchmark body for scripts/bench/torch_read.sh (compiled with swiftc -O together with the sources of
// MappedTensors + PyTorchReader). Opens a PyTorch checkpoint and touches every byte of every tensor
// (wrapping sum of its little-endian int64 words, the same reduction the torch side computes), `reps`
// times; prints one line per run: seconds and the checksum.
import Foundation

@main
struct TorchReadBench {
    static func main() throws {
        let arguments = CommandLine.arguments
        let path = arguments[1]
        let reps = arguments.count > 2 ? Int(arguments[2]) ?? 5 : 5
        for _ in 0..<reps {
            let clock = ContinuousClock()
            var checksum: UInt64 = 0
            let elapsed = try clock.measure {
                let checkpoint = try PyTorchCheckpoint(readingAt: path)
                for name in checkpoint.tensorNames {
                    let view = try checkpoint.tensor(named: name)
                    checksum &+= view.data.withUnsafeBytes(wordSum)
                }
            }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            print(String(format: "%.4f %llu", seconds, checksum))
        }
    }

    static func wordSum(_ raw: UnsafeRawBufferPointer) -> UInt64 {
        let count = raw.count / 8
        var sum: UInt64 = 0
        if let base = raw.baseAddress, Int(bitPattern: base) % 8 == 0 {
            // SAFETY: aligned and within the view; read-only.
            let words = UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt64.self), count: count)
            for word in words { sum &+= UInt64(littleEndian: word) }
        } else {
            for i in 0..<count { sum &+= UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) }
        }
        return sum
    }
}
