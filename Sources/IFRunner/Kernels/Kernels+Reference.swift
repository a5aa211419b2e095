#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Kernels {
    /// Plain scalar versions of every kernel: they define the meaning (written straight from the
    /// torch/transformers formulas, accumulating in Double) and the fast paths are tested against
    /// them. Slow; never used by the runner itself.
    public enum Reference {
        public static func sgemm(
            transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
            c: UnsafeMutablePointer<Float>, ldc: Int
        ) {
            for i in 0..<m {
                for j in 0..<n {
                    var sum = 0.0
                    for p in 0..<k {
                        let av = transposeA ? a[p * lda + i] : a[i * lda + p]
                        let bv = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                        sum += Double(av) * Double(bv)
                    }
                    let previous = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                    c[i * ldc + j] = Float(Double(alpha) * sum + previous)
                }
            }
        }

        public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
            for r in 0..<rows {
                let row = x + r * columns
                let maximum = (0..<columns).map { Double(row[$0]) }.max() ?? 0
                let exps = (0..<columns).map { exp(Double(row[$0]) - maximum) }
                let sum = exps.reduce(0, +)
                for j in 0..<columns { row[j] = Float(exps[j] / sum) }
            }
        }

        public static func geluExact(_ x: UnsafeMutableBufferPointer<Float>) {
            for i in x.indices {
                let v = Double(x[i])
                x[i] = Float(0.5 * v * (1 + erf(v / 2.0.squareRoot())))
            }
        }

        public static func geluTanh(_ x: UnsafeMutableBufferPointer<Float>) {
            for i in x.indices {
                let v = Double(x[i])
                x[i] = Float(0.5 * v * (1 + tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * pow(v, 3)))))
            }
        }

        public static func rmsNorm(
            _ x: UnsafePointer<Float>, rows: Int, columns: Int, weight: UnsafePointer<Float>, epsilon: Float,
            output: UnsafeMutablePointer<Float>
        ) {
            for r in 0..<rows {
                var meanSquare = 0.0
                for j in 0..<columns { meanSquare += Double(x[r * columns + j]) * Double(x[r * columns + j]) }
                meanSquare /= Double(columns)
                let scale = 1 / (meanSquare + Double(epsilon)).squareRoot()
                for j in 0..<columns { output[r * columns + j] = Float(Double(weight[j]) * Double(x[r * columns + j]) * scale) }
            }
        }

        public static func layerNorm(
            _ x: UnsafePointer<Float>, rows: Int, columns: Int, weight: UnsafePointer<Float>?,
            bias: UnsafePointer<Float>?, epsilon: Float, output: UnsafeMutablePointer<Float>
        ) {
            for r in 0..<rows {
                let values = (0..<columns).map { Double(x[r * columns + $0]) }
                let mean = values.reduce(0, +) / Double(columns)
                let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(columns)
                for j in 0..<columns {
                    var v = (values[j] - mean) / (variance + Double(epsilon)).squareRoot()
                    if let weight { v *= Double(weight[j]) }
                    if let bias { v += Double(bias[j]) }
                    output[r * columns + j] = Float(v)
                }
            }
        }

        public static func groupNorm(
            _ x: UnsafePointer<Float>, channels: Int, spatial: Int, groups: Int, weight: UnsafePointer<Float>?,
            bias: UnsafePointer<Float>?, epsilon: Float, output: UnsafeMutablePointer<Float>
        ) {
            let perGroup = channels / groups
            for g in 0..<groups {
                let range = (g * perGroup * spatial)..<((g + 1) * perGroup * spatial)
                let values = range.map { Double(x[$0]) }
                let mean = values.reduce(0, +) / Double(values.count)
                let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
                for c in (g * perGroup)..<((g + 1) * perGroup) {
                    for s in 0..<spatial {
                        var v = (Double(x[c * spatial + s]) - mean) / (variance + Double(epsilon)).squareRoot()
                        if let weight { v *= Double(weight[c]) }
                        if let bias { v += Double(bias[c]) }
                        output[c * spatial + s] = Float(v)
                    }
                }
            }
        }
    }
}
