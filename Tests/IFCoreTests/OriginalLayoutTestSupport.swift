import Foundation
import Testing
@testable import IFCore

/// Checkpoints for tests of the original layout are `InMemoryTensorSource`s (MappedTensors) that
/// report one file, "memory".
extension InMemoryTensorSource {
    init(_ views: [TensorView]) { self.init(views, filePaths: ["memory"]) }

    /// An F32 tensor whose element i is `base + i`.
    static func counting(_ name: String, shape: [Int], base: Float = 0) -> TensorView {
        let count = shape.reduce(1, *)
        var bytes = [UInt8]()
        bytes.reserveCapacity(count * 4)
        for index in 0..<count {
            let bits = (base + Float(index)).bitPattern
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
        }
        return TensorView(name: name, dtype: .f32, shape: shape, data: ByteSlice(bytes: bytes))
    }
}

/// Parses JSON text with Foundation into a dictionary (test-side comparison only).
func jsonObject(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
    return try #require(object as? [String: Any], sourceLocation: sourceLocation)
}

/// Two JSON values from JSONSerialization, compared as Foundation objects (1 == 1.0, lists elementwise).
func jsonEqual(_ a: Any, _ b: Any) -> Bool {
    if a is NSNull || b is NSNull { return a is NSNull && b is NSNull }
    if let a = a as? [Any], let b = b as? [Any] {
        return a.count == b.count && zip(a, b).allSatisfy { jsonEqual($0, $1) }
    }
    if let a = a as? String, let b = b as? String { return a == b }
    if let a = a as? NSNumber, let b = b as? NSNumber { return a == b }
    return false
}

/// The repository root as a URL (see `repositoryRoot`).
func originalTestsRepositoryRoot(_ file: String = #filePath) -> URL {
    URL(fileURLWithPath: repositoryRoot(file: file))
}
