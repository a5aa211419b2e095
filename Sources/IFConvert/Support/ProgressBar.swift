import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A one-line progress bar on stderr: bytes done of total, rate and ETA. Quiet when stderr is not
/// a terminal (logs and CI stay clean) or when the caller asks for quiet. Redraws at most ~10
/// times a second.
final class ProgressBar {
    private let label: String
    private let enabled: Bool
    private let start = ProgressBar.now()
    private var lastDraw = 0.0
    private var drew = false

    init(label: String, quiet: Bool = false) {
        self.label = label
        self.enabled = !quiet && Console.stderrIsTerminal
    }

    func update(done: Int, total: Int) {
        guard enabled else { return }
        let now = Self.now()
        guard now - lastDraw >= 0.1 || done >= total else { return }
        lastDraw = now
        let elapsed = max(now - start, 1e-6)
        let rate = Double(done) / elapsed
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
        let width = 28
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let line = "\r\(label) [\(bar)] \(Self.bytes(done))/\(Self.bytes(total)) \(Self.bytes(Int(rate)))/s ETA \(Self.duration(eta))  "
        Console.error(line)
        drew = true
    }

    /// Ends the line so later output starts on a fresh one.
    func finish() {
        if enabled && drew { Console.error("\n") }
    }

    static func bytes(_ count: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(count)
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "--" }
        let total = Int(seconds.rounded())
        return total >= 3600 ? "\(total / 3600)h\(total % 3600 / 60)m" : "\(total / 60)m\(String(format: "%02d", total % 60))s"
    }

    private static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
