#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Diagnostics go to stderr, results to stdout (so `--json` output stays clean).
enum Console {
    static func error(_ text: String) {
        writeAll(STDERR_FILENO, text)
    }

    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    private static func writeAll(_ descriptor: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 { return }
            offset += written
        }
    }
}
