/// How close a computed output must be to its reference. Defaults depend on how the weights are
/// stored (docs/VERIFY.md, "Tolerances"); `--tolerance` overrides the relative L2 bound.
public struct VerifyTolerance: Sendable, Equatable, Codable {
    /// Upper bound on `relativeL2Error` of every float output.
    public var relativeL2: Double
    /// Why this bound (printed with the report).
    public var reason: String

    enum CodingKeys: String, CodingKey { case relativeL2 = "relative_l2", reason }

    public init(relativeL2: Double, reason: String) {
        self.relativeL2 = relativeL2
        self.reason = reason
    }

    /// Float weights (F32/F16/BF16) used exactly as the reference used them: only the summation
    /// order differs (OpenBLAS blocking vs torch's), which costs ~1e-7..1e-6 relative per layer in fp32.
    public static let float = VerifyTolerance(
        relativeL2: 1e-5,
        reason: "float weights as the reference used them: only summation order differs (fp32 rounding)")

    /// 8-bit weights (Q8_0 blocks of 32, int8 per-row absmax): each weight is off by up to half a
    /// quantization step (~0.4-0.8% of a row's RMS); through a stack of layers that gives a few
    /// percent relative L2 on the output. Measured on the fixture T5 (docs/VERIFY.md): well inside.
    public static let eightBit = VerifyTolerance(
        relativeL2: 5e-2,
        reason: "8-bit weights (q8_0 / int8_rowwise): per-weight rounding of up to half a step, accumulated over layers")

    /// 4-bit weights (Q4_0, Q4_K): 16 levels per block, ~8 % RMS error per weight, compounding
    /// through every matmul of every layer (the 2-layer fixture T5 in q4_0 lands at 0.29). A pass
    /// only says the output still points the same way (cosine ~0.95); 4-bit text encoders are not
    /// recommended for IF.
    public static let fourBit = VerifyTolerance(
        relativeL2: 5e-1,
        reason: "4-bit weights (q4_0 / q4_k): 16 levels per block, several percent error per weight compounding over layers")

    /// Exact integer outputs (token ids): any difference fails.
    public static let exact = VerifyTolerance(relativeL2: 0, reason: "token ids must be identical")

    /// The default for a model whose weights are stored as `labels` (GGML/safetensors type names or
    /// "int8_rowwise"): the loosest class present decides.
    public static func defaultTolerance(forStorageLabels labels: Set<String>) -> VerifyTolerance {
        let lowered = Set(labels.map { $0.lowercased() })
        if lowered.contains(where: { $0.hasPrefix("q4") || $0.hasPrefix("q3") || $0.hasPrefix("q2") }) { return fourBit }
        if lowered.contains(where: { $0.hasPrefix("q8") || $0.hasPrefix("q5") || $0.hasPrefix("q6") || $0 == "i8" || $0.hasPrefix("int8") }) {
            return eightBit
        }
        return float
    }
}
