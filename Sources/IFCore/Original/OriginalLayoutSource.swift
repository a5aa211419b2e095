/// An original-layout IF UNet checkpoint (`config.yml` + any `TensorSource` with original key names)
/// seen through diffusers names and shapes. Renamed and squeezed tensors are zero-copy views of the
/// checkpoint's bytes; per-head splits of the fused `qkv` / `encoder_kv` weights are row slices of the
/// original tensor (one contiguous slice when there is one head, else the slices concatenated into a
/// heap buffer when the tensor is read).
///
/// Construction checks the whole checkpoint against the config: every original key must be consumed
/// by a rule, every key the derived diffusers model needs must be present, and every shape must match.
public struct OriginalLayoutSource: TensorSource {
    public let configFile: OriginalConfigFile
    public let params: OriginalUNetParams
    public let config: DiffusersUNetConfig
    public let plan: OriginalLayoutPlan
    public let checkpoint: any TensorSource
    private let byName: [String: Int]

    /// How many names an unmapped/missing-key error lists before "...".
    public static let namesInErrors = 8

    public init(configFile: OriginalConfigFile, checkpoint: any TensorSource) throws(OriginalLayoutError) {
        let params = try OriginalUNetParams(configFile)
        let stage = OriginalStage(tensorNames: checkpoint.tensorNames)
        let config = DiffusersUNetConfig(original: params, stage: stage)
        let plan = OriginalLayoutPlan(config: config)
        try Self.check(plan: plan, checkpoint: checkpoint)
        self.configFile = configFile
        self.params = params
        self.config = config
        self.plan = plan
        self.checkpoint = checkpoint
        var byName: [String: Int] = [:]
        for (index, tensor) in plan.tensors.enumerated() { byName[tensor.name] = index }
        self.byName = byName
    }

    private static func check(plan: OriginalLayoutPlan, checkpoint: any TensorSource) throws(OriginalLayoutError) {
        let path = checkpoint.filePaths.first ?? checkpoint.formatName
        let present = Set(checkpoint.tensorNames)
        var users: [String: String] = [:]
        for tensor in plan.tensors where users[tensor.recipe.source] == nil {
            users[tensor.recipe.source] = tensor.name
        }
        let missing = plan.originalNames.filter { !present.contains($0) }
        if !missing.isEmpty {
            throw .missingKeys(path: path,
                               names: missing.prefix(namesInErrors).map { "\($0) (for \(users[$0] ?? "?"))" },
                               total: missing.count)
        }
        let unmapped = checkpoint.tensorNames.filter { plan.originalShapes[$0] == nil }
        if !unmapped.isEmpty {
            throw .unmappedKeys(path: path, names: Array(unmapped.prefix(namesInErrors)), total: unmapped.count)
        }
        for name in plan.originalNames {
            let info: TensorInfo
            do { info = try checkpoint.info(named: name) } catch { throw .io(error) }
            let expected = plan.originalShapes[name]!
            guard info.shape == expected else {
                throw .badTensor(path: path, name: name,
                                 message: "shape \(info.shape), but config.yml implies \(expected) (for \(users[name] ?? "?"))")
            }
            guard info.dtype.isFloatingPoint else {
                throw .badTensor(path: path, name: name, message: "dtype \(info.dtype.rawValue), expected a floating-point type")
            }
        }
    }

    // MARK: TensorSource

    public var formatName: String { "original IF layout (\(checkpoint.formatName))" }
    public var filePaths: [String] { [configFile.path] + checkpoint.filePaths }
    public var tensorNames: [String] { plan.tensors.map(\.name) }
    public var metadata: [String: String] { checkpoint.metadata }

    public func info(named name: String) throws(TensorIOError) -> TensorInfo {
        let planned = try plannedTensor(named: name)
        let source = try checkpoint.info(named: planned.recipe.source)
        let byteCount = (CheckedMath.byteCount(shape: planned.shape, dtype: source.dtype)) ?? 0
        return TensorInfo(name: name, dtype: source.dtype, shape: planned.shape, byteCount: byteCount)
    }

    public func tensor(named name: String) throws(TensorIOError) -> TensorView {
        let planned = try plannedTensor(named: name)
        let source = try checkpoint.tensor(named: planned.recipe.source)
        switch planned.recipe {
        case .copy, .squeeze:
            return TensorView(name: name, dtype: source.dtype, shape: planned.shape, data: source.data)
        case let .headChunks(_, chunkRows, part, parts):
            let data = try Self.headChunks(of: source, chunkRows: chunkRows, part: part, parts: parts)
            return TensorView(name: name, dtype: source.dtype, shape: planned.shape, data: data)
        }
    }

    private func plannedTensor(named name: String) throws(TensorIOError) -> PlannedTensor {
        guard let index = byName[name] else {
            throw .missingTensor(path: filePaths.last ?? formatName, name: name)
        }
        return plan.tensors[index]
    }

    /// Rows `[(h x parts + part) x chunkRows, +chunkRows)` for every head h, in head order. The rows of
    /// a row-major tensor are contiguous, so each chunk is one byte range of the source.
    static func headChunks(of source: TensorView, chunkRows: Int, part: Int, parts: Int) throws(TensorIOError) -> ByteSlice {
        let rows = source.shape.first ?? 0
        let path = source.data.storage.storageDescription
        guard chunkRows > 0, rows > 0, rows % (chunkRows * parts) == 0, source.byteCount % rows == 0 else {
            throw .malformed(path: path, message:
                "tensor '\(source.name)': \(rows) rows do not split into \(parts) parts of \(chunkRows)-row head chunks")
        }
        let rowBytes = source.byteCount / rows
        let chunkBytes = chunkRows * rowBytes
        let heads = rows / (chunkRows * parts)
        if heads == 1 {
            return source.data.slice(part * chunkBytes..<(part + 1) * chunkBytes)
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(heads * chunkBytes)
        source.data.withUnsafeBytes { all in
            for head in 0..<heads {
                let start = (head * parts + part) * chunkBytes
                bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: all[start..<start + chunkBytes]))
            }
        }
        return ByteSlice(bytes: bytes)
    }
}
