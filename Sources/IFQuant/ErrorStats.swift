/// How far a quantized tensor's dequantized values are from the originals, over all elements.
/// Sums are accumulated in Double per chunk of rows and combined in row order (deterministic).
public struct ErrorStats: Sendable, Equatable, Codable {
    public var elementCount: Int = 0
    /// Σ x²
    public var signalEnergy: Double = 0
    /// Σ (x - x̂)²
    public var errorEnergy: Double = 0
    /// max |x - x̂|
    public var maxAbsError: Double = 0

    public init() {}

    /// sqrt(Σ(x - x̂)² / Σx²); 0 for an all-zero tensor reproduced exactly.
    public var relativeRMSError: Double {
        signalEnergy > 0 ? (errorEnergy / signalEnergy).squareRoot() : (errorEnergy > 0 ? .infinity : 0)
    }

    /// 10 log10(Σx² / Σ(x - x̂)²); nil when the error is exactly zero (infinite SNR).
    public var snrDB: Double? {
        guard errorEnergy > 0 else { return nil }
        guard signalEnergy > 0 else { return -.infinity }
        return 10 * log10Double(signalEnergy / errorEnergy)
    }

    mutating func add(original: UnsafePointer<Float>, reconstructed: UnsafePointer<Float>, count: Int) {
        var signal = 0.0, error = 0.0, maxError = maxAbsError
        for i in 0..<count {
            let x = Double(original[i])
            let e = x - Double(reconstructed[i])
            signal += x * x
            error += e * e
            maxError = max(maxError, abs(e))
        }
        elementCount += count
        signalEnergy += signal
        errorEnergy += error
        maxAbsError = maxError
    }

    mutating func merge(_ other: ErrorStats) {
        elementCount += other.elementCount
        signalEnergy += other.signalEnergy
        errorEnergy += other.errorEnergy
        maxAbsError = max(maxAbsError, other.maxAbsError)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@inline(__always)
func log10Double(_ x: Double) -> Double { log10(x) }
