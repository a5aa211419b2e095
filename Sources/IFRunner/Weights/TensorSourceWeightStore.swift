import IFCore

/// A `WeightStore` over any `TensorSource` (a safetensors file, a sharded snapshot component, a
/// PyTorch checkpoint): float tensors are widened on demand from the mapped bytes.
public struct TensorSourceWeightStore: WeightStore {
    public let source: any TensorSource

    public init(source: any TensorSource) {
        self.source = source
    }

    public var sourceDescription: String { source.filePaths.first ?? source.formatName }
    public var metadata: [String: String] { source.metadata }
    public var tensorNames: [String] { source.tensorNames }

    public func info(named name: String) throws -> TensorInfo {
        do { return try source.info(named: name) } catch { throw Self.wrap(error, name: name, source: sourceDescription) }
    }

    public func has(_ name: String) -> Bool {
        (try? source.info(named: name)) != nil
    }

    public func floats(named name: String) throws -> [Float] {
        do { return try source.tensor(named: name).floats() } catch { throw Self.wrap(error, name: name, source: sourceDescription) }
    }

    public func linear(weight: String, bias: String?) throws -> LinearWeight {
        let view: TensorView
        do { view = try source.tensor(named: weight) } catch { throw Self.wrap(error, name: weight, source: sourceDescription) }
        let decoder = try DenseRowDecoder(view: view)
        var biasValues: [Float]?
        if let bias {
            biasValues = try floats(named: bias, count: decoder.rowCount)
        }
        return LinearWeight(name: weight, decoder: decoder, bias: biasValues)
    }

    public func storageLabel(of name: String) -> String {
        (try? source.info(named: name).dtype.rawValue) ?? "?"
    }

    static func wrap(_ error: TensorIOError, name: String, source: String) -> RunnerError {
        if case .missingTensor = error { return .missingTensor(name: name, source: source) }
        return .io(error)
    }
}
