import Foundation
import IFCore

/// The kinds of reference bundle `verify` understands (docs/VERIFY.md). A new kind is one case here,
/// one line in `detect` and one in `runnerType` (StageRunner.swift).
public enum ReferenceBundleKind: String, Sendable, CaseIterable, Codable {
    case t5
    case tokenizer
    case unet
    case loopI = "loop-I"
    case loopII = "loop-II"

    /// The kind a bundle declares (`__metadata__["kind"]`), else the one its tensors imply.
    public static func detect(_ bundle: ReferenceBundle) throws(RunnerError) -> ReferenceBundleKind {
        if let declared = bundle.metadata["kind"] {
            guard let kind = ReferenceBundleKind(rawValue: declared) else {
                throw .badReference(path: bundle.path, message: "__metadata__ kind '\(declared)' is not one of \(allCases.map(\.rawValue))")
            }
            return kind
        }
        if bundle.has("in.input_ids"), bundle.has("out.last_hidden_state") { return .t5 }
        if bundle.metadata["prompts"] != nil, bundle.has("out.input_ids") { return .tokenizer }
        if bundle.has("in.initial_noise") { return bundle.has("in.low_res") ? .loopII : .loopI }
        if bundle.has("in.sample"), bundle.has("out.sample") { return .unet }
        throw .badReference(path: bundle.path, message: "cannot tell the bundle kind: no __metadata__ kind and none of the input/output sets of docs/VERIFY.md (e.g. in.input_ids + out.last_hidden_state)")
    }
}

/// A reference bundle: a safetensors file of `in.*` inputs, `out.*` expected outputs, optional
/// `act.*` intermediate activations and string parameters in `__metadata__`.
public struct ReferenceBundle: Sendable {
    public let path: String
    public let source: any TensorSource

    public init(path: String, source: any TensorSource) {
        self.path = path
        self.source = source
    }

    public var metadata: [String: String] { source.metadata }
    public func has(_ name: String) -> Bool { source.tensorNames.contains(name) }

    /// Names starting with `prefix` ("out.", "act."), in file order.
    public func names(withPrefix prefix: String) -> [String] {
        source.tensorNames.filter { $0.hasPrefix(prefix) }
    }

    public func view(_ name: String) throws(RunnerError) -> TensorView {
        do { return try source.tensor(named: name) } catch {
            if case .missingTensor = error { throw .badReference(path: path, message: "lacks tensor '\(name)'") }
            throw .io(error)
        }
    }

    public func floats(_ name: String) throws(RunnerError) -> [Float] {
        let view = try view(name)
        do { return try view.floats() } catch { throw .io(error) }
    }

    /// An integer tensor (I64/I32/I16/I8/U8/BOOL) as Int, with its shape.
    public func integers(_ name: String) throws(RunnerError) -> (values: [Int], shape: [Int]) {
        let view = try view(name)
        let count = view.elementCount
        let size = view.dtype.byteSize
        guard !view.dtype.isFloatingPoint, view.byteCount == count * size else {
            throw .badReference(path: path, message: "tensor '\(name)' is \(view.dtype.rawValue), expected an integer type")
        }
        let values: [Int] = view.data.withUnsafeBytes { raw in
            (0..<count).map { i in
                switch view.dtype {
                case .i64: Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)))
                case .i32: Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
                case .i16: Int(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)))
                case .i8: Int(raw.load(fromByteOffset: i, as: Int8.self))
                case .u8, .bool: Int(raw[i])
                case .u16: Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
                case .u32: Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                default: Int(truncatingIfNeeded: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))
                }
            }
        }
        return (values, view.shape)
    }

    /// `__metadata__[key]` parsed as a JSON list of strings (e.g. "prompts").
    public func stringList(_ key: String) throws(RunnerError) -> [String] {
        guard let text = metadata[key] else { throw .badReference(path: path, message: "__metadata__ lacks '\(key)'") }
        guard let list = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String] else {
            throw .badReference(path: path, message: "__metadata__ '\(key)' is not a JSON list of strings")
        }
        return list
    }
}
