import IFCore

/// Weights as the runner sees them, whatever holds them: a safetensors snapshot folder (through any
/// `TensorSource`) or a GGUF pack. Names are the checkpoint's own names (e.g.
/// `encoder.block.0.layer.0.SelfAttention.q.weight`), shapes PyTorch order.
public protocol WeightStore: Sendable {
    /// Where the weights come from (a path), for messages.
    var sourceDescription: String { get }
    /// Free-form string metadata (safetensors `__metadata__`, pack key/values).
    var metadata: [String: String] { get }
    /// Names of every tensor held.
    var tensorNames: [String] { get }
    /// Dtype, shape and byte count without touching tensor bytes. For quantized pack tensors the
    /// dtype is the one the tensor was quantized from and `shape` is the logical shape.
    func info(named name: String) throws -> TensorInfo
    func has(_ name: String) -> Bool
    /// All elements widened (or dequantized) to Float: for small tensors (biases, norms, tables).
    func floats(named name: String) throws -> [Float]
    /// A weight `[out, in, ...]` used as `y = x W^T (+ b)`, viewed as `[out, product(rest)]`.
    func linear(weight: String, bias: String?) throws -> LinearWeight
    /// A short label of how `name` is stored ("F16", "F32", "Q8_0", "int8_rowwise"...), for reports
    /// and for picking tolerances.
    func storageLabel(of name: String) -> String
}

extension WeightStore {
    /// `floats(named:)`, checking the element count first (names the tensor on mismatch).
    public func floats(named name: String, count: Int) throws -> [Float] {
        let values = try floats(named: name)
        guard values.count == count else {
            throw RunnerError.badTensor(name: name, message: "has \(values.count) elements, expected \(count)")
        }
        return values
    }

    /// `linear(weight:bias:)`, checking `[out, in]` against what the model expects.
    public func linear(weight: String, bias: String? = nil, outFeatures: Int, inFeatures: Int) throws -> LinearWeight {
        let linear = try self.linear(weight: weight, bias: bias)
        guard linear.outFeatures == outFeatures, linear.inFeatures == inFeatures else {
            throw RunnerError.badTensor(
                name: weight,
                message: "viewed as [\(linear.outFeatures), \(linear.inFeatures)], expected [\(outFeatures), \(inFeatures)]")
        }
        return linear
    }
}
