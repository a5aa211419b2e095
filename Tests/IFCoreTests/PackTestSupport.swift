import Foundation
import Testing
@testable import IFCore

/// A fresh empty folder under the system temp dir, removed by the caller.
func makePackTestFolder(_ label: String = "pack") -> String {
    let path = NSTemporaryDirectory() + "ifconvert-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// An in-memory tensor source for pipeline tests.
typealias MemorySource = InMemoryTensorSource

/// Deterministic pseudo-random bytes (xorshift), so tests need no fixtures for raw data.
func pseudoRandomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed | 1
    return (0..<count).map { _ in
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return UInt8(truncatingIfNeeded: state >> 24)
    }
}

func floatBytes(_ values: [Float]) -> [UInt8] {
    values.withUnsafeBytes { Array($0) }
}
