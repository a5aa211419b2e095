/// Tensors held in memory, served as a `TensorSource` (tests; callers that build tensors to write as
/// a pack). Names keep insertion order; adding a name again replaces that tensor in place.
public struct InMemoryTensorSource: TensorSource {
    public private(set) var tensorNames: [String] = []
    private var views: [String: TensorView] = [:]
    public let filePaths: [String]
    public var formatName: String { "memory" }
    public var metadata: [String: String] { [:] }

    public init(_ views: [TensorView] = [], filePaths: [String] = []) {
        self.filePaths = filePaths
        for view in views { add(view) }
    }

    public mutating func add(_ view: TensorView) {
        if views.updateValue(view, forKey: view.name) == nil { tensorNames.append(view.name) }
    }

    public func info(named name: String) throws(TensorIOError) -> TensorInfo {
        let view = try tensor(named: name)
        return TensorInfo(name: name, dtype: view.dtype, shape: view.shape, byteCount: view.byteCount)
    }

    public func tensor(named name: String) throws(TensorIOError) -> TensorView {
        guard let view = views[name] else { throw .missingTensor(path: "memory", name: name) }
        return view
    }
}
