import IFCore

/// One computed tensor, named as in the bundle (`out.last_hidden_state`, `act.encoder.block.3`).
public struct ComputedTensor: Sendable {
    public let name: String
    public let shape: [Int]
    public let values: [Float]
    /// Integer outputs (token ids) must match exactly.
    public let isExact: Bool

    public init(name: String, shape: [Int], values: [Float], isExact: Bool = false) {
        self.name = name
        self.shape = shape
        self.values = values
        self.isExact = isExact
    }
}

/// The largest |activation| of one module, against the fp16 range (65504).
public struct RangeAuditEntry: Sendable, Codable, Equatable {
    public let module: String
    public let maxAbs: Double
    /// Which value inside the module peaked ("residual after attention", "feed-forward inner", ...).
    public let site: String
    /// maxAbs > 65504, the largest finite fp16 value: fp16 inference would overflow here.
    public let overflowsHalf: Bool

    enum CodingKeys: String, CodingKey { case module, maxAbs = "max_abs", site, overflowsHalf = "overflows_fp16" }

    public init(module: String, maxAbs: Double, site: String) {
        self.module = module
        self.maxAbs = maxAbs
        self.site = site
        self.overflowsHalf = maxAbs > Double(Float16.greatestFiniteMagnitude)
    }
}

/// What a stage runner hands back: outputs and activations in execution order.
public struct StageResult: Sendable {
    public var tensors: [ComputedTensor]
    public var rangeAudit: [RangeAuditEntry]

    public init(tensors: [ComputedTensor], rangeAudit: [RangeAuditEntry] = []) {
        self.tensors = tensors
        self.rangeAudit = rangeAudit
    }
}

/// Runs one kind of reference bundle. `load` does everything before compute (mapping weights,
/// building the model: reported as load_seconds); `compute` reads the bundle's `in.*` and returns
/// `out.*` plus whatever `act.*` it can produce (compute_seconds).
public protocol StageRunner: Sendable {
    static func load(model: StageModel, bundle: ReferenceBundle) throws -> Self
    func compute(bundle: ReferenceBundle) throws -> StageResult
    /// How the weights used are stored ("F16", "Q8_0", ...), to pick the default tolerance.
    var storageLabels: Set<String> { get }
    /// The default tolerance (the class of `storageLabels` unless a kind needs another).
    var defaultTolerance: VerifyTolerance { get }
}

extension StageRunner {
    public var defaultTolerance: VerifyTolerance { VerifyTolerance.defaultTolerance(forStorageLabels: storageLabels) }
}

extension ReferenceBundleKind {
    /// The runner of each kind (the registration point for new kinds); nil: not implemented yet.
    public var runnerType: (any StageRunner.Type)? {
        switch self {
        case .t5: T5StageRunner.self
        case .tokenizer: TokenizerStageRunner.self
        case .unet: UNetStageRunner.self
        case .loopI, .loopII: LoopStageRunner.self
        }
    }
}
