import Foundation
import Testing
@testable import PyTorchReader

/// fixtures/torch/ and its manifest, written by scripts/fixturegen/torch_files.py with torch 2.13.0+cpu.
enum TorchFixtures {
    static let repoRoot: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url = url.deletingLastPathComponent()
        }
        return url
    }()

    static let folder = repoRoot.appendingPathComponent("fixtures/torch")

    static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    struct TensorEntry: Decodable {
        let dtype: String
        let shape: [Int]
        let sha256: String
    }

    struct FileEntry: Decodable {
        let format: String
        let prefix: String?
        let skipped: [[String]]
        let tensors: [String: TensorEntry]
    }

    struct HostileEntry: Decodable {
        let outcome: String
        let message: String?
        let tensors: [String]?
        let skipped: [[String]]?
        let read_tensors: Bool?
    }

    struct Manifest: Decodable {
        let generator: String
        let files: [String: FileEntry]
        let hostile: [String: HostileEntry]
    }

    static let manifest: Manifest = {
        let data = try! Data(contentsOf: folder.appendingPathComponent("manifest.json"))
        return try! JSONDecoder().decode(Manifest.self, from: data)
    }()

    static var fileNames: [String] { manifest.files.keys.sorted() }
    static var hostileNames: [String] { manifest.hostile.keys.sorted() }

    /// Opens a manifest file as the right kind of source.
    static func open(_ name: String) throws -> any TensorSource {
        if name.hasSuffix(".index.json") { return try ShardedPyTorchCheckpoint(indexAt: path(name)) }
        return try PyTorchCheckpoint(readingAt: path(name))
    }
}
