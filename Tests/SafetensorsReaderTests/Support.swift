import Foundation
import SafetensorsReader

/// Repository paths for tests: the root is the folder above Tests/ that holds Package.swift.
enum Repo {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
            url.deleteLastPathComponent()
        }
        fatalError("no Package.swift above \(#filePath)")
    }()

    static func fixture(_ relative: String) -> String { root + "/fixtures/" + relative }

    static func json(_ relative: String) throws -> JSONValue {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture(relative))))
        return try JSONParser.parse(bytes, path: relative)
    }
}

/// A fresh temporary folder, removed when the value is released.
final class TemporaryDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "ifconvert-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: file(name), atomically: true, encoding: .utf8)
    }

    func write(_ name: String, bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: file(name)))
    }
}

/// The message of a TensorIOError, or nil when `body` did not throw one.
func errorDescription(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let error as TensorIOError {
        return error.description
    } catch {
        return "unexpected error type: \(error)"
    }
}

func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
}

func floatBytes(_ values: [Float]) -> [UInt8] { littleEndianBytes(values.map(\.bitPattern)) }
