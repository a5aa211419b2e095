import Foundation
import IFCore

/// What `ifconvert quantize` decided and measured (`--report FILE.json`, `--json`).
public struct QuantReport: Sendable, Codable {
    public struct Tensor: Sendable, Codable {
        public var name: String
        public var shape: [Int]
        public var sourceType: String
        public var storedType: String
        /// keep, f16, f32, q8_0, int8, q4_0, q4_k
        public var target: String
        public var rule: String
        public var fallback: String?
        public var bytesBefore: Int
        public var bytesAfter: Int
        /// sqrt(Σ(x - x̂)² / Σx²) over the tensor; nil when not measured (dry run, kept tensors).
        public var relativeRMSError: Double?
        public var maxAbsError: Double?
        /// 10 log10(Σx² / Σ(x - x̂)²); nil when not measured or the error is exactly 0.
        public var snrDB: Double?
    }

    public struct Summary: Sendable, Codable {
        public var tensorCount: Int
        public var quantizedTensorCount: Int
        public var fallbackCount: Int
        public var parameterCount: Int
        public var quantizedParameterCount: Int
        public var bytesBefore: Int
        public var bytesAfter: Int
        /// bytesAfter / bytesBefore
        public var sizeRatio: Double
        /// Element-weighted over quantized tensors: sqrt(ΣΣ(x - x̂)² / ΣΣx²).
        public var overallRelativeRMSError: Double?
        public var worstTensor: String?
        public var worstRelativeRMSError: Double?
    }

    public struct Combination: Sendable, Codable {
        public var stages: [String]
        public var variant: String
        /// Weights of all stages resident + the largest activation estimate + runtime overhead.
        public var totalBytes: Int
        public var fitsGPUs: [String]
    }

    public struct Memory: Sendable, Codable {
        public var assumptions: String
        public var runtimeOverheadBytes: Int
        public var thisComponent: MemoryEstimate
        public var published: [MemoryEstimate]
        public var combinations: [Combination]
    }

    public var input: String
    public var output: String?
    public var scheme: String
    public var rules: [String]
    public var dryRun: Bool
    public var tensors: [Tensor]
    public var summary: Summary
    public var memory: Memory

    public static let gpuSizes: [(String, Int)] = [("8 GB", 8_000_000_000), ("12 GB", 12_000_000_000), ("16 GB", 16_000_000_000), ("24 GB", 24_000_000_000)]

    public init(input: String, output: String?, scheme: QuantScheme, rules: [QuantRule], dryRun: Bool,
                decisions: [TensorDecision], errors: (String) -> ErrorStats?) {
        self.input = input
        self.output = output
        self.scheme = scheme.rawValue
        self.rules = rules.map(\.description)
        self.dryRun = dryRun
        var tensors: [Tensor] = []
        var total = ErrorStats()
        var worst: (String, Double)?
        for d in decisions {
            let stats = d.isQuantized ? errors(d.name) : nil
            if let stats {
                total.merge(stats)
                if worst == nil || stats.relativeRMSError > worst!.1 { worst = (d.name, stats.relativeRMSError) }
            }
            let elements = d.shape.reduce(1, *)
            tensors.append(Tensor(
                name: d.name, shape: d.shape, sourceType: d.sourceType.name, storedType: d.storageType.name,
                target: d.target.description, rule: d.rule, fallback: d.fallback,
                bytesBefore: d.sourceType.byteCount(elementCount: elements) ?? 0, bytesAfter: d.byteCount,
                relativeRMSError: stats?.relativeRMSError, maxAbsError: stats?.maxAbsError, snrDB: stats?.snrDB))
        }
        self.tensors = tensors
        let before = tensors.reduce(0) { $0 + $1.bytesBefore }, after = tensors.reduce(0) { $0 + $1.bytesAfter }
        summary = Summary(
            tensorCount: decisions.count, quantizedTensorCount: decisions.filter(\.isQuantized).count,
            fallbackCount: decisions.filter { $0.fallback != nil }.count,
            parameterCount: decisions.reduce(0) { $0 + $1.shape.reduce(1, *) },
            quantizedParameterCount: decisions.filter(\.isQuantized).reduce(0) { $0 + $1.shape.reduce(1, *) },
            bytesBefore: before, bytesAfter: after, sizeRatio: before > 0 ? Double(after) / Double(before) : 1,
            overallRelativeRMSError: total.elementCount > 0 ? total.relativeRMSError : nil,
            worstTensor: worst?.0, worstRelativeRMSError: worst?.1)

        let this = MemoryEstimate(component: "this pack", tensors: decisions.map { ($0.name, $0.shape, $0.sourceType) }, rules: rules)
        let published = PublishedStages.estimates(rules: rules)
        var combinations: [Combination] = []
        let byName = Dictionary(uniqueKeysWithValues: published.map { ($0.component, $0) })
        for stages in [["IF-I-XL", "T5-v1.1-XXL"], ["IF-II-L", "T5-v1.1-XXL"], ["IF-I-XL", "IF-II-L", "T5-v1.1-XXL"],
                       ["IF-I-M (stand-in)", "T5-v1.1-XXL"]] {
            let parts = stages.compactMap { byName[$0] }
            for variant in MemoryEstimate.variantNames {
                let weights = parts.reduce(0) { $0 + ($1.variants.first { $0.name == variant }?.weightBytes ?? 0) }
                let total = weights + (parts.map(\.activationBytes).max() ?? 0) + MemoryEstimate.runtimeOverheadBytes
                combinations.append(Combination(stages: stages, variant: variant, totalBytes: total,
                                                fitsGPUs: Self.gpuSizes.filter { total <= $0.1 }.map(\.0)))
            }
        }
        memory = Memory(
            assumptions: "weights of every listed stage resident on the GPU under this run's rules (T5 'wo' kept as stored: fp32); activations: fp16, batch 2 (classifier-free guidance), 77 tokens, UNets at 64 px (stage I) / 256 px (stage II), attention scores materialized; plus \(MemoryEstimate.runtimeOverheadBytes / 1_000_000) MB runtime overhead (CUDA context, allocator). An estimate for planning, not a measurement.",
            runtimeOverheadBytes: MemoryEstimate.runtimeOverheadBytes, thisComponent: this, published: published,
            combinations: combinations)
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    /// Human-readable lines: summary, worst tensors, memory table.
    public func summaryLines() -> [String] {
        func gb(_ bytes: Int) -> String { String(format: "%.2f GB", Double(bytes) / 1e9) }
        var lines: [String] = []
        let s = summary
        lines.append("\(s.quantizedTensorCount) of \(s.tensorCount) tensors quantized to \(scheme) (\(String(format: "%.1f", 100 * Double(s.quantizedParameterCount) / Double(max(1, s.parameterCount))))% of parameters), \(s.fallbackCount) fell back")
        lines.append("size: \(gb(s.bytesBefore)) -> \(gb(s.bytesAfter)) (x\(String(format: "%.3f", s.sizeRatio)))")
        if let overall = s.overallRelativeRMSError, let worst = s.worstTensor, let worstValue = s.worstRelativeRMSError {
            lines.append(String(format: "relative RMS error: overall %.3e, worst %.3e (%@)", overall, worstValue, worst))
        }
        lines.append("GPU memory estimate (weights + activations + \(gb(memory.runtimeOverheadBytes)) overhead):")
        for variant in MemoryEstimate.variantNames {
            let row = memory.combinations.filter { $0.variant == variant && $0.stages.count == 2 && $0.stages[0] != "IF-I-M (stand-in)" }
            let text = row.map { "\($0.stages.joined(separator: " + ")) \(gb($0.totalBytes))\($0.fitsGPUs.first.map { " (fits \($0))" } ?? "")" }
            lines.append("  \(variant.padding(toLength: 6, withPad: " ", startingAt: 0)) " + text.joined(separator: "; "))
        }
        return lines
    }
}
