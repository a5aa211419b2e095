import Foundation
import IFCore
@testable import IFQuant

/// Deterministic test inputs (SplitMix64), so failures reproduce.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 24) }
    /// Roughly normal (sum of uniforms), mean 0, std ~1.
    mutating func normal() -> Float { (unit() + unit() + unit() + unit() - 2) * 1.7320508 }
}

/// Value patterns that exercise the quantizers' edge cases.
enum Pattern: String, CaseIterable, CustomStringConvertible {
    case normal            // weights-like values
    case zeroRows          // every other row all zero
    case denormals         // subnormal floats (and zeros): 1/d overflows
    case tiny              // normal but tiny: d underflows fp16
    case halfTies          // values k + 0.5 with absmax 127, so x * id is exactly on .5
    case signedTies        // +a and -a both present: q4_0 must take the first
    case large             // values near 1e4 (scales far from 1)
    case outliers          // one large value per block among small ones
    case halfSubnormals    // fp16 subnormals (exact in fp32), so fp16 sources widen them too

    var description: String { rawValue }

    func values(rows: Int, rowLength: Int, seed: UInt64 = 42) -> [Float] {
        var rng = SplitMix64(state: seed)
        var out = [Float](repeating: 0, count: rows * rowLength)
        for r in 0..<rows {
            for c in 0..<rowLength {
                let i = r * rowLength + c
                switch self {
                case .normal: out[i] = rng.normal() * 0.05
                case .zeroRows: out[i] = r % 2 == 0 ? 0 : rng.normal()
                case .denormals: out[i] = c % 3 == 0 ? 0 : Float(bitPattern: UInt32(rng.next() & 0x7f_ffff)) * (rng.unit() < 0.5 ? -1 : 1)
                case .tiny: out[i] = rng.normal() * 1e-30
                case .halfTies: out[i] = c % 32 == 0 ? 127 : (c % 7 == 3 ? (c % 2 == 0 ? 0.49999997 : -0.49999997) : Float(Int(rng.next() % 200) - 100) + 0.5)
                case .signedTies: out[i] = c % 32 == 5 ? -3 : (c % 32 == 9 ? 3 : rng.normal())
                case .large: out[i] = rng.normal() * 5e3
                case .outliers: out[i] = c % 32 == 7 ? 40 * (rng.unit() + 1) : rng.normal() * 0.01
                case .halfSubnormals:
                    out[i] = Float(Float16(bitPattern: UInt16(rng.next() % 0x3ff) + 1)) * (rng.unit() < 0.5 ? -1 : 1)
                }
            }
        }
        return out
    }
}

func floatBytes(_ values: [Float]) -> [UInt8] {
    values.withUnsafeBytes { Array($0) }
}

func view(_ name: String, _ values: [Float], shape: [Int]) -> TensorView {
    TensorView(name: name, dtype: .f32, shape: shape, data: ByteSlice(bytes: floatBytes(values)))
}

/// The repository root (the folder holding Package.swift), found from this file's path.
func repositoryRoot(filePath: String = #filePath) -> URL {
    var url = URL(fileURLWithPath: filePath).deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { url.deleteLastPathComponent() }
    return url
}
