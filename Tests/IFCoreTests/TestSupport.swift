import Foundation

/// The repository root (the folder holding Package.swift), found from the calling file's path:
/// tests read committed fixtures relative to it.
func repositoryRoot(file: String = #filePath) -> String {
    var url = URL(fileURLWithPath: file).deletingLastPathComponent()
    while url.path != "/" {
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        url.deleteLastPathComponent()
    }
    return FileManager.default.currentDirectoryPath
}
