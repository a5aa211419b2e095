import Foundation
import IFCore
#if canImport(Glibc)
import Glibc
#endif

/// In-process timing of the quantizer alone on a pack's tensors (no pack writing, hashing or
/// verification): what scripts/bench/quantize.sh compares with gguf-py's numpy quantizer.
public enum QuantizeBenchmark {
    public struct Result: Sendable, Codable {
        public var tensorCount: Int
        public var inputByteCount: Int
        /// Wall seconds of each repeat.
        public var seconds: [Double]
        /// user + sys CPU seconds of each repeat.
        public var cpuSeconds: [Double]
        public var peakRSSBytes: Int
    }

    public static func run(packPath: String, scheme: QuantScheme, threads: Int, repeats: Int) throws(QuantError) -> Result {
        let pack: Pack
        do { pack = try Pack(readingAt: packPath) } catch { throw .io(path: packPath, message: error.description) }
        let policy = QuantPolicy(scheme: scheme)
        var views: [TensorView] = []
        for record in pack.records where record.encoding == .plain {
            let d = policy.decide(name: record.originalName, shape: record.shape, sourceType: PackStorage.ggmlType(holding: record.dtype))
            guard d.target == .quantized(scheme), let view = try? pack.tensor(named: record.originalName) else { continue }
            views.append(view)
        }
        var seconds: [Double] = [], cpu: [Double] = []
        for _ in 0..<repeats {
            let wallStart = Date(), cpuStart = cpuTime()
            for view in views {
                let (rows, rowLength) = PackStorage.rowView(of: view.shape)
                let rowBytes = rowLength * view.dtype.byteSize
                let windowRows = max(1, SourceWindows.defaultByteCount / max(1, rowBytes))
                var row = 0
                while row < rows {
                    let count = min(windowRows, rows - row)
                    let window = view.data.slice((row * rowBytes)..<((row + count) * rowBytes))
                    var failure: QuantError?
                    window.withUnsafeBytes { raw in
                        do throws(QuantError) {
                            _ = try TensorQuantizer.quantize(name: view.name, bytes: raw, dtype: view.dtype, shape: [count, rowLength],
                                                             as: scheme, implementation: .fast(threads: threads), firstRowIndex: row)
                        } catch { failure = error }
                    }
                    if let failure { throw failure }
                    row += count
                }
            }
            seconds.append(Date().timeIntervalSince(wallStart))
            cpu.append(cpuTime() - cpuStart)
        }
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Result(tensorCount: views.count, inputByteCount: views.reduce(0) { $0 + $1.byteCount },
                      seconds: seconds, cpuSeconds: cpu, peakRSSBytes: Int(usage.ru_maxrss) * 1024)
    }

    static func cpuTime() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return s(usage.ru_utime) + s(usage.ru_stime)
    }
}
