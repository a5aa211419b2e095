import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a source file's SHA-256 in a pack came from (`if.provenance.source_sha256_origin`).
public enum SourceDigestOrigin: String, Sendable, Codable {
    /// Hashed by ifconvert while converting.
    case computed
    /// A Hugging Face cache snapshot file: a symlink to `blobs/<sha256 of its content>` (LFS files;
    /// the hub client checks that hash when downloading).
    case hubCacheBlobName = "hub-cache-blob-name"
    /// A `hf download --local-dir` file: `.cache/huggingface/download/<path>.metadata` records the
    /// LFS etag (the SHA-256) and the file was not modified after the download.
    case hubLocalDirMetadata = "hub-local-dir-metadata"
    /// Not hashed (`--no-source-hash`); the digest is "".
    case none
}

/// SHA-256 digests the hub already recorded for downloaded files, so a 10 GB shard need not be
/// hashed again (SHA-256 runs at 0.2-1.2 GB/s per core, slower than the copy itself).
public enum KnownSourceDigest {
    /// The recorded digest of the file at `path`, or nil when there is none to trust.
    public static func lookup(_ path: String) -> (digest: String, origin: SourceDigestOrigin)? {
        if let digest = cacheBlobDigest(path) { return (digest, .hubCacheBlobName) }
        if let digest = localDirDigest(path) { return (digest, .hubLocalDirMetadata) }
        return nil
    }

    /// `…/blobs/<64 lower-case hex>` as the symlink's target (git-stored files are named by their
    /// 40-digit SHA-1 and are not taken).
    static func cacheBlobDigest(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        let target = String(cString: resolved)
        let parts = target.split(separator: "/")
        guard parts.count >= 2, parts[parts.count - 2] == "blobs", target != path else { return nil }
        let name = String(parts[parts.count - 1])
        return isDigest(name) ? name : nil
    }

    /// huggingface_hub's local-dir download record (`_local_folder.py`): for `DIR/a/b.safetensors`
    /// the file `DIR/.cache/huggingface/download/a/b.safetensors.metadata` holds three lines:
    /// commit hash, etag (the SHA-256 for LFS files), download time (Unix seconds). Like the hub
    /// client, the record is trusted only when the file's mtime is not later than that time (1 s slack).
    static func localDirDigest(_ path: String) -> String? {
        var folder = URL(fileURLWithPath: path).standardizedFileURL
        let fileURL = folder
        var relative: [String] = [folder.lastPathComponent]
        for _ in 0..<6 {
            folder = folder.deletingLastPathComponent()
            guard folder.path != "/" else { return nil }
            let record = folder.appendingPathComponent(".cache/huggingface/download")
                .appendingPathComponent(relative.joined(separator: "/") + ".metadata")
            if let text = try? String(contentsOf: record, encoding: .utf8) {
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                guard lines.count >= 3, isDigest(lines[1]), let recorded = Double(lines[2]),
                      let attributes = try? FileManager.default.attributesOfItem(atPath: fileURL.path),
                      let modified = attributes[.modificationDate] as? Date,
                      modified.timeIntervalSince1970 - 1 <= recorded
                else { return nil }
                return lines[1]
            }
            relative.insert(folder.lastPathComponent, at: 0)
        }
        return nil
    }

    static func isDigest(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
