import Foundation
import IFCore
import SafetensorsReader
@testable import IFRunner

/// A bundle whose tensor `name` is replaced by `values` (perturbed-reference tests).
struct UNetPerturbedSource: TensorSource {
    let base: any TensorSource
    let name: String
    let replacement: TensorView

    init(base: any TensorSource, name: String, transform: ([Float]) -> [Float]) throws {
        self.base = base
        self.name = name
        let view = try base.tensor(named: name)
        var bytes: [UInt8] = []
        for v in transform(try view.floats()) { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        replacement = TensorView(name: name, dtype: .f32, shape: view.shape, data: ByteSlice(bytes: bytes))
    }

    var formatName: String { base.formatName }
    var filePaths: [String] { base.filePaths }
    var tensorNames: [String] { base.tensorNames }
    var metadata: [String: String] { base.metadata }
    func info(named n: String) throws(TensorIOError) -> TensorInfo {
        n == name ? TensorInfo(name: n, dtype: .f32, shape: replacement.shape, byteCount: replacement.byteCount) : try base.info(named: n)
    }
    func tensor(named n: String) throws(TensorIOError) -> TensorView { n == name ? replacement : try base.tensor(named: n) }
}

/// sqrt(sum (a-b)^2) / sqrt(sum b^2), accumulated in Double.
func relativeL2(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var num = 0.0, den = 0.0
    for i in a.indices {
        let d = Double(a[i]) - Double(b[i])
        num += d * d
        den += Double(b[i]) * Double(b[i])
    }
    return (num / max(den, .leastNormalMagnitude)).squareRoot()
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// Deterministic test data (SplitMix64), uniform in [-scale, scale].
func unetRandomFloats(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map { _ in (Float(generator.next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
}

/// Tensors held in memory (f32 or f16), served as a TensorSource for building small layers.
typealias UNetInMemorySource = InMemoryTensorSource

extension InMemoryTensorSource {
    mutating func add(_ name: String, shape: [Int], values: [Float], dtype: DType = .f32) {
        var bytes: [UInt8] = []
        for v in values {
            if dtype == .f16 {
                withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { bytes += $0 }
            } else {
                withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
            }
        }
        add(TensorView(name: name, dtype: dtype, shape: shape, data: ByteSlice(bytes: bytes)))
    }
}
