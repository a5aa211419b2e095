import ArgumentParser
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

    /// Runs `body`; an error it throws becomes one line `ifconvert COMMAND: error` on stderr and
    /// exit status 2 (bad input; 1 is kept for a check that ran and failed).
    static func exitingOnError<T>(_ command: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            self.error("ifconvert \(command): \(error)\n")
            throw ExitCode(2)
        }
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
