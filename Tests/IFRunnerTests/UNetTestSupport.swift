import Foundation
import IFCore
@testable import IFRunner

/// Minimal safetensors reader for the UNet tests (header JSON + mapped bytes); the package's
/// SafetensorsReader replaces it once merged.
struct UNetTestSafetensors: TensorSource {
    let path: String
    let file: MappedFile
    let entries: [String: (DType, [Int], Range<Int>)]
    let order: [String]
    let metadata: [String: String]

    init(path: String) throws {
        self.path = path
        file = try MappedFile(readingAt: path)
        let headerLength = file.withUnsafeBytes(in: 0..<8) { Int($0.loadUnaligned(as: UInt64.self).littleEndian) }
        let json = file.withUnsafeBytes(in: 8..<(8 + headerLength)) { Data($0) }
        let object = try JSONSerialization.jsonObject(with: json) as! [String: Any]
        var entries: [String: (DType, [Int], Range<Int>)] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            let d = value as! [String: Any]
            if name == "__metadata__" { metadata = d as! [String: String]; continue }
            let offsets = d["data_offsets"] as! [Int]
            entries[name] = (DType(rawValue: d["dtype"] as! String)!, d["shape"] as! [Int],
                             (8 + headerLength + offsets[0])..<(8 + headerLength + offsets[1]))
        }
        self.entries = entries
        self.metadata = metadata
        order = entries.keys.sorted { entries[$0]!.2.lowerBound < entries[$1]!.2.lowerBound }
    }

    var formatName: String { "safetensors" }
    var filePaths: [String] { [path] }
    var tensorNames: [String] { order }

    func info(named name: String) throws(TensorIOError) -> TensorInfo {
        guard let e = entries[name] else { throw .missingTensor(path: path, name: name) }
        return TensorInfo(name: name, dtype: e.0, shape: e.1, byteCount: e.2.count)
    }

    func tensor(named name: String) throws(TensorIOError) -> TensorView {
        guard let e = entries[name] else { throw .missingTensor(path: path, name: name) }
        return TensorView(name: name, dtype: e.0, shape: e.1, data: ByteSlice(storage: file, range: e.2))
    }
}

/// The repository root (the folder holding Package.swift), found from this file's path.
func unetRepositoryRoot(filePath: String = #filePath) -> URL {
    var url = URL(fileURLWithPath: filePath).deletingLastPathComponent()
    while url.path != "/" {
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        url = url.deletingLastPathComponent()
    }
    fatalError("no Package.swift above \(filePath)")
}

/// sqrt(sum (a-b)^2) / sqrt(sum b^2), accumulated in Double.
func relativeL2(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var num = 0.0, den = 0.0
    for i in a.indices {
        let d = Double(a[i]) - Double(b[i])
        num += d * d
        den += Double(b[i]) * Double(b[i])
    }
    return (num / max(den, .leastNormalMagnitude)).squareRoot()
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// Deterministic test data (SplitMix64), uniform in [-scale, scale].
func unetRandomFloats(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return (Float(z >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
}

/// Tensors held in memory (f32 or f16), served as a TensorSource for building small layers.
struct UNetInMemorySource: TensorSource {
    var tensors: [String: TensorView] = [:]
    var formatName: String { "memory" }
    var filePaths: [String] { ["memory"] }
    var tensorNames: [String] { Array(tensors.keys).sorted() }
    var metadata: [String: String] { [:] }

    mutating func add(_ name: String, shape: [Int], values: [Float], dtype: DType = .f32) {
        var bytes: [UInt8] = []
        for v in values {
            if dtype == .f16 {
                withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { bytes += $0 }
            } else {
                withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
            }
        }
        tensors[name] = TensorView(name: name, dtype: dtype, shape: shape, data: ByteSlice(bytes: bytes))
    }

    func info(named name: String) throws(TensorIOError) -> TensorInfo {
        guard let t = tensors[name] else { throw .missingTensor(path: "memory", name: name) }
        return TensorInfo(name: name, dtype: t.dtype, shape: t.shape, byteCount: t.byteCount)
    }

    func tensor(named name: String) throws(TensorIOError) -> TensorView {
        guard let t = tensors[name] else { throw .missingTensor(path: "memory", name: name) }
        return t
    }
}
