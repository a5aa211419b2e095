/// Finds the tensors and skipped objects in an unpickled checkpoint and picks its state dict.
///
/// Checkpoints nest their weights: Lightning under `state_dict`, many trainers under `model`,
/// `module`, `ema`, ... We walk the whole object graph once (iteratively, each container at most
/// once, so shared references and cycles cost nothing extra), then descend through well-known keys
/// while no tensor sits directly at the current level.
struct StateDictLayout {
    struct FoundTensor {
        let path: [String]
        let record: TensorRecord
    }

    /// Keys that hold a state dict, in order of preference.
    static let stateDictKeys = [
        "state_dict", "model_state_dict", "model", "module", "ema", "model_ema", "ema_model",
        "ema_state_dict", "net", "network", "params", "params_ema", "generator", "weights",
    ]

    /// Deeper nesting is refused: no checkpoint needs it, and path copies would grow quadratically.
    static let maximumDepth = 256
    /// Names (and skipped-object paths) longer than this are refused: a hostile pickle could
    /// otherwise multiply one huge memoized key across many tensors.
    static let maximumNameByteCount = 64 << 10
    /// Skipped objects recorded; the rest are counted in one final entry.
    static let maximumSkippedCount = 10_000

    private(set) var tensors: [FoundTensor] = []
    private(set) var skipped: [(path: String, global: String)] = []

    init(_ document: PickleDocument, path filePath: String) throws(TensorIOError) {
        var visited = Set<Int>()
        var pending: [(PickleValue, [String])] = [(document.root, [])]
        var unrecordedSkips = 0
        while let (value, path) = pending.popLast() {
            guard case .object(let index) = value else { continue }
            guard path.count <= Self.maximumDepth else {
                throw .malformed(path: filePath, message: "pickle nests containers more than \(Self.maximumDepth) levels deep")
            }
            var children: [(PickleValue, [String])] = []
            switch document.objects[index] {
            case .tensor(let record):
                tensors.append(FoundTensor(path: path, record: record))
                continue
            case .storage:
                continue
            default:
                guard visited.insert(index).inserted else { continue }
            }
            switch document.objects[index] {
            case .dict(let dict):
                for (key, child) in zip(dict.keys, dict.values) { children.append((child, path + [Self.component(key)])) }
            case .list(let items), .tuple(let items), .set(let items):
                for (position, child) in items.enumerated() { children.append((child, path + [String(position)])) }
            case .opaque(let opaque):
                if skipped.count < Self.maximumSkippedCount {
                    skipped.append((path: try Self.joined(path, filePath), global: opaque.global))
                } else {
                    unrecordedSkips += 1
                }
                if let state = opaque.state {
                    children += Self.stateChildren(state, path: path, document: document)
                }
                for (position, child) in opaque.listItems.enumerated() { children.append((child, path + [String(position)])) }
                for (key, child) in opaque.dictItems { children.append((child, path + [Self.component(key)])) }
            case .tensor, .storage:
                break
            }
            pending.append(contentsOf: children.reversed())
        }
        if unrecordedSkips > 0 { skipped.append((path: "...", global: "\(unrecordedSkips) more skipped objects")) }
    }

    /// The state of a skipped object. An `nn.Module` pickled whole keeps its tensors under
    /// `_parameters`, `_buffers` and `_modules`; those levels are left out of the names, as
    /// `Module.state_dict()` does.
    private static func stateChildren(_ state: PickleValue, path: [String], document: PickleDocument) -> [(PickleValue, [String])] {
        guard let dict = document.dict(state) else { return [(state, path)] }
        let moduleKeys: Set<String> = ["_parameters", "_buffers", "_modules"]
        let isModule = dict.keys.contains { if case .string(let key) = $0 { moduleKeys.contains(key) } else { false } }
        var children: [(PickleValue, [String])] = []
        for (key, value) in zip(dict.keys, dict.values) {
            let name = component(key)
            if isModule, moduleKeys.contains(name), let inner = document.dict(value) {
                for (innerKey, innerValue) in zip(inner.keys, inner.values) { children.append((innerValue, path + [component(innerKey)])) }
            } else if !isModule {
                children.append((value, path + [name]))
            }
        }
        return children
    }

    static func component(_ key: PickleValue) -> String {
        switch key {
        case .string(let text): text
        case .int(let number): String(number)
        case .bytes(let raw): String(decoding: raw, as: UTF8.self)
        default: key.shortDescription
        }
    }

    static func joined(_ path: some Collection<String>, _ filePath: String) throws(TensorIOError) -> String {
        let byteCount = path.reduce(path.count) { $0 + $1.utf8.count }
        guard byteCount <= maximumNameByteCount else {
            throw .malformed(path: filePath, message: "a name in the pickle tree is \(byteCount) bytes long (limit \(maximumNameByteCount))")
        }
        return path.isEmpty ? "<root>" : path.joined(separator: ".")
    }

    /// The state dict: its prefix (nil at the root) and its tensors named relative to it.
    func stateDict(path: String) throws(TensorIOError) -> (prefix: String?, tensors: [(name: String, record: TensorRecord)]) {
        var prefix: [String] = []
        var current = tensors.map { (path: $0.path[...], record: $0.record) }
        while !current.isEmpty, !current.contains(where: { $0.path.count <= 1 }) {
            let firsts = Set(current.compactMap { $0.path.first })
            guard let key = Self.stateDictKeys.first(where: firsts.contains) else { break }
            prefix.append(key)
            current = current.filter { $0.path.first == key }.map { (path: $0.path.dropFirst(), record: $0.record) }
        }
        var seen = Set<String>()
        var result: [(name: String, record: TensorRecord)] = []
        for tensor in current {
            let name = try Self.joined(tensor.path, path)
            guard seen.insert(name).inserted else {
                throw .malformed(path: path, message: "two tensors flatten to the same name '\(name.debugDescriptionTrimmed)'")
            }
            result.append((name, tensor.record))
        }
        return (prefix.isEmpty ? nil : prefix.joined(separator: "."), result)
    }
}
