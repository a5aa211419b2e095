/// Error statistics of a computed tensor against its reference (all in Double).
public struct ComparisonMetrics: Sendable, Equatable, Codable {
    public let elementCount: Int
    public let maxAbsError: Double
    public let meanAbsError: Double
    /// ||computed - reference||_2 / ||reference||_2 (the absolute L2 error when the reference is all zero).
    public let relativeL2Error: Double
    /// <computed, reference> / (||computed|| ||reference||); 1 when both are all zero.
    public let cosineSimilarity: Double
    /// Non-finite values in the computed tensor (the reference's are counted separately).
    public let nanCount: Int
    public let infCount: Int
    public let referenceNonFiniteCount: Int
    /// Elements that differ at all (exact comparisons: token ids).
    public let mismatchCount: Int

    enum CodingKeys: String, CodingKey {
        case elementCount = "element_count", maxAbsError = "max_abs_error", meanAbsError = "mean_abs_error"
        case relativeL2Error = "relative_l2_error", cosineSimilarity = "cosine_similarity", nanCount = "nan_count"
        case infCount = "inf_count", referenceNonFiniteCount = "reference_non_finite_count", mismatchCount = "mismatch_count"
    }

    /// Compares `computed` with `reference` (same length; the caller checks shapes).
    public init(computed: [Float], reference: [Float]) {
        precondition(computed.count == reference.count, "compare equal-length tensors")
        var maxAbs = 0.0, sumAbs = 0.0, diffSquares = 0.0, refSquares = 0.0, compSquares = 0.0, dot = 0.0
        var nan = 0, inf = 0, refBad = 0, mismatches = 0
        var finitePairs = 0
        for i in computed.indices {
            let c = computed[i], r = reference[i]
            if c.isNaN { nan += 1 } else if c.isInfinite { inf += 1 }
            if !r.isFinite { refBad += 1 }
            if c != r { mismatches += 1 }
            guard c.isFinite, r.isFinite else { continue }
            finitePairs += 1
            let cd = Double(c), rd = Double(r), d = abs(cd - rd)
            maxAbs = max(maxAbs, d)
            sumAbs += d
            diffSquares += d * d
            refSquares += rd * rd
            compSquares += cd * cd
            dot += cd * rd
        }
        elementCount = computed.count
        maxAbsError = maxAbs
        meanAbsError = finitePairs > 0 ? sumAbs / Double(finitePairs) : 0
        relativeL2Error = refSquares > 0 ? (diffSquares / refSquares).squareRoot() : diffSquares.squareRoot()
        if refSquares == 0 && compSquares == 0 {
            cosineSimilarity = 1
        } else if refSquares == 0 || compSquares == 0 {
            cosineSimilarity = 0
        } else {
            cosineSimilarity = dot / (refSquares.squareRoot() * compSquares.squareRoot())
        }
        nanCount = nan
        infCount = inf
        referenceNonFiniteCount = refBad
        mismatchCount = mismatches
    }
}
