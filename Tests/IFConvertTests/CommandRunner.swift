import Foundation

/// Runs the built `ifconvert` binary for end-to-end CLI tests: the one next to the test bundle,
/// else `.build/debug/ifconvert`.
enum CLI {
    /// The repository root (the folder holding Package.swift), found from this file's path.
    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/", !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url.path
    }()

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    static var binaryURL: URL {
        let beside = Bundle.main.bundleURL.appendingPathComponent("ifconvert")
        return FileManager.default.fileExists(atPath: beside.path) ? beside : URL(fileURLWithPath: repoRoot + "/.build/debug/ifconvert")
    }

    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = binaryURL
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }
}
