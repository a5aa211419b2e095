import Foundation
import IFCore
import Testing

/// Deterministic generator (SplitMix64) so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
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

func randomFloats(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in Float.random(in: -scale...scale, using: &generator) }
}

/// max |a - b| / max(1, max |b|): relative to the data's magnitude, absolute near zero.
func maxScaledError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    var worst: Float = 0
    var magnitude: Float = 1
    for v in b { magnitude = max(magnitude, abs(v)) }
    for i in a.indices {
        if a[i].isNaN != b[i].isNaN { return .infinity }
        if !a[i].isNaN { worst = max(worst, abs(a[i] - b[i])) }
    }
    return worst / magnitude
}

/// The repository root (the folder holding Package.swift), found from this file's path.
func repositoryRoot(filePath: String = #filePath) -> URL {
    var url = URL(fileURLWithPath: filePath).deletingLastPathComponent()
    while url.path != "/" {
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        url = url.deletingLastPathComponent()
    }
    fatalError("no Package.swift above \(filePath)")
}

/// A heap tensor view for tests, optionally placed at an odd byte offset to exercise unaligned reads.
func heapView(name: String, dtype: DType, shape: [Int], floats: [Float], misalign: Bool = false) -> TensorView {
    var bytes: [UInt8] = misalign ? [0] : []
    for v in floats {
        switch dtype {
        case .f32: withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
        case .f16: withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { bytes += $0 }
        case .bf16: withUnsafeBytes(of: UInt16(truncatingIfNeeded: v.bitPattern >> 16).littleEndian) { bytes += $0 }
        default: fatalError("test helper handles float types only")
        }
    }
    let storage = HeapStorage(bytes)
    let start = misalign ? 1 : 0
    return TensorView(name: name, dtype: dtype, shape: shape, data: ByteSlice(storage: storage, range: start..<bytes.count))
}

/// The value a float type stores for `v` (what the decoder must reproduce exactly).
func roundTripped(_ v: Float, _ dtype: DType) -> Float {
    switch dtype {
    case .f16: Float(Float16(v))
    case .bf16: Float(bitPattern: v.bitPattern & 0xFFFF_0000)
    default: v
    }
}
