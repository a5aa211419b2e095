import Foundation
import IFCore
import SafetensorsReader

/// The result of comparing one computed tensor with the bundle's.
public struct TensorReport: Sendable, Codable {
    public let name: String
    public let shape: [Int]
    public let metrics: ComparisonMetrics
    /// Outputs only: within tolerance. Activations: nil (informative).
    public let passed: Bool?
}

/// The layer whose relative L2 error grew most over the one before it.
public struct ErrorGrowth: Sendable, Codable {
    public let layer: String
    public let previousLayer: String?
    public let relativeL2Before: Double
    public let relativeL2After: Double

    enum CodingKeys: String, CodingKey {
        case layer, previousLayer = "previous_layer", relativeL2Before = "relative_l2_before", relativeL2After = "relative_l2_after"
    }
}

/// Everything `ifconvert verify` reports (text or `--json`).
public struct VerifyReport: Sendable, Codable {
    public let kind: ReferenceBundleKind
    public let model: String
    public let reference: String
    public let storageTypes: [String]
    public let tolerance: VerifyTolerance
    public let outputs: [TensorReport]
    public let layers: [TensorReport]
    public let largestErrorGrowth: ErrorGrowth?
    public let fp16RangeAudit: [RangeAuditEntry]
    /// Image outputs (`[B, 3, H, W]`): PSNR and, with an image folder, the comparison PNG.
    public var images: [ImageComparison] = []
    public let passed: Bool
    public let loadSeconds: Double
    public let computeSeconds: Double
    /// CPU time (user + system, all threads) spent computing: comparable across runs on a busy machine.
    public let computeCPUSeconds: Double
    public let peakMemoryBytes: Int

    enum CodingKeys: String, CodingKey {
        case kind, model, reference, storageTypes = "storage_types", tolerance, outputs, layers
        case largestErrorGrowth = "largest_error_growth", fp16RangeAudit = "fp16_range_audit", images, passed
        case loadSeconds = "load_seconds", computeSeconds = "compute_seconds", computeCPUSeconds = "compute_cpu_seconds", peakMemoryBytes = "peak_memory_bytes"
    }

    public func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Human-readable report.
    public var text: String {
        func format(_ v: Double) -> String { String(format: "%.3e", v) }
        var lines = ["\(passed ? "PASS" : "FAIL") \(kind.rawValue): \(model) vs \(reference)"]
        lines.append("weights: \(storageTypes.isEmpty ? "-" : storageTypes.joined(separator: ", ")); tolerance: relative L2 <= \(format(tolerance.relativeL2)) (\(tolerance.reason))")
        for output in outputs {
            let m = output.metrics
            var line = "  \(output.passed == true ? "ok  " : "FAIL") \(output.name) \(output.shape): max abs \(format(m.maxAbsError)), mean abs \(format(m.meanAbsError)), rel L2 \(format(m.relativeL2Error)), cosine \(String(format: "%.8f", m.cosineSimilarity))"
            if m.nanCount + m.infCount > 0 { line += ", NaN \(m.nanCount), inf \(m.infCount)" }
            if m.mismatchCount > 0 && tolerance.relativeL2 == 0 { line += ", \(m.mismatchCount) of \(m.elementCount) differ" }
            lines.append(line)
        }
        if !layers.isEmpty {
            lines.append("per layer (relative L2 / max abs):")
            for layer in layers {
                lines.append("  \(layer.name): \(format(layer.metrics.relativeL2Error)) / \(format(layer.metrics.maxAbsError))")
            }
        }
        if let growth = largestErrorGrowth {
            lines.append("error grows most at \(growth.layer): \(format(growth.relativeL2Before)) -> \(format(growth.relativeL2After))")
        }
        if !fp16RangeAudit.isEmpty {
            let peak = fp16RangeAudit.max { $0.maxAbs < $1.maxAbs }!
            let over = fp16RangeAudit.filter(\.overflowsHalf).map(\.module)
            lines.append("fp16 range: max |activation| \(format(peak.maxAbs)) at \(peak.module) (\(peak.site)); "
                + (over.isEmpty ? "no layer exceeds 65504" : "exceeds 65504 in \(over.joined(separator: ", "))"))
        }
        for image in images {
            let psnr = image.psnr.map { String(format: "%.2f dB", $0) } ?? "identical"
            let psnr8 = image.psnr8Bit.map { String(format: "%.2f dB", $0) } ?? "identical"
            lines.append("image \(image.name): PSNR \(psnr) (8-bit pixels: \(psnr8)), max pixel error \(format(image.maxAbsPixelError))"
                + (image.pngPath.map { String(format: "; reference | ours | difference x%.3g: ", image.heatMapGain) + $0 } ?? ""))
        }
        lines.append(String(format: "load %.3f s, compute %.3f s (CPU %.3f s), peak memory %.1f MiB", loadSeconds, computeSeconds,
                            computeCPUSeconds, Double(peakMemoryBytes) / 1_048_576))
        return lines.joined(separator: "\n")
    }
}

/// Runs a stage on a reference bundle's inputs and compares (docs/VERIFY.md).
public enum Verifier {
    /// The middle value (mean of the two middle ones for an even count).
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// Opens the bundle at `path` (a safetensors file).
    public static func openBundle(at path: String) throws(RunnerError) -> ReferenceBundle {
        do { return ReferenceBundle(path: path, source: try SafetensorsFile(readingAt: path)) } catch {
            throw .badReference(path: path, message: error.description)
        }
    }

    /// Verifies `model` against `bundle`. Throws `RunnerError` on bad input (unknown kind, missing
    /// tensors, shape mismatch); a numerical miss is `passed == false` in the report.
    /// `imageDirectory`: where to write a comparison PNG per image output (reference | ours | heat map).
    /// `repeats`: runs of the stage; with 2 or more the first is a warm-up and `computeSeconds` /
    /// `computeCPUSeconds` are medians of the others (what benchmarks compare with a warmed-up peer).
    public static func verify(
        model: StageModel, bundle: ReferenceBundle, tolerance override: Double? = nil, imageDirectory: String? = nil,
        repeats: Int = 1
    ) throws -> VerifyReport {
        let kind = try ReferenceBundleKind.detect(bundle)
        guard let runnerType = kind.runnerType else {
            throw RunnerError.unsupported("verifying '\(kind.rawValue)' bundles is not implemented yet")
        }
        let loadStart = Date()
        let runner = try runnerType.load(model: model, bundle: bundle)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        var runs: [(wall: Double, cpu: Double)] = []
        func timedRun() throws -> StageResult {
            let computeStart = Date(), cpuStart = ProcessMemory.cpuSeconds()
            let result = try runner.compute(bundle: bundle)
            runs.append((Date().timeIntervalSince(computeStart), ProcessMemory.cpuSeconds() - cpuStart))
            return result
        }
        var result = try timedRun()
        for _ in 1..<max(1, repeats) { result = try timedRun() }
        let timed = runs.count > 1 ? runs.dropFirst() : runs[...]
        let computeSeconds = median(timed.map(\.wall))
        let computeCPUSeconds = median(timed.map(\.cpu))

        var tolerance = runner.defaultTolerance
        if let override { tolerance = VerifyTolerance(relativeL2: override, reason: "given with --tolerance") }
        let computed = Dictionary(result.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

        var outputs: [TensorReport] = []
        for name in bundle.names(withPrefix: "out.") {
            guard let tensor = computed[name] else {
                throw RunnerError.badReference(path: bundle.path, message: "expects '\(name)', which the \(kind.rawValue) runner does not produce (it gives \(result.tensors.map(\.name).filter { $0.hasPrefix("out.") }))")
            }
            let metrics = try compare(tensor, bundle: bundle)
            let within = metrics.nanCount + metrics.infCount <= metrics.referenceNonFiniteCount
                && (tensor.isExact ? metrics.mismatchCount == 0 : metrics.relativeL2Error <= tolerance.relativeL2)
            outputs.append(TensorReport(name: name, shape: tensor.shape, metrics: metrics, passed: within))
        }
        guard !outputs.isEmpty else { throw RunnerError.badReference(path: bundle.path, message: "holds no out.* tensor to compare") }

        // Activations (and a loop's per-step samples), in the runner's execution order, for those the bundle has.
        var layers: [TensorReport] = []
        for tensor in result.tensors where (tensor.name.hasPrefix("act.") || tensor.name.hasPrefix("step")) && bundle.has(tensor.name) {
            layers.append(TensorReport(name: tensor.name, shape: tensor.shape, metrics: try compare(tensor, bundle: bundle), passed: nil))
        }
        var report = VerifyReport(
            kind: kind, model: model.path, reference: bundle.path, storageTypes: runner.storageLabels.sorted(),
            tolerance: kind == .tokenizer ? .exact : tolerance, outputs: outputs, layers: layers,
            largestErrorGrowth: largestGrowth(layers), fp16RangeAudit: result.rangeAudit,
            passed: outputs.allSatisfy { $0.passed == true }, loadSeconds: loadSeconds, computeSeconds: computeSeconds,
            computeCPUSeconds: computeCPUSeconds, peakMemoryBytes: ProcessMemory.peakResidentBytes())
        for output in outputs where ImageComparison.isImage(shape: output.shape) && output.name != "out.sample" {
            let file = ((bundle.path as NSString).lastPathComponent as NSString).deletingPathExtension + "-" + output.name.replacingOccurrences(of: ".", with: "_")
            report.images.append(try ImageComparison(name: output.name, shape: output.shape, reference: try bundle.floats(output.name),
                                                     ours: computed[output.name]!.values, directory: imageDirectory, file: file))
        }
        return report
    }

    static func compare(_ tensor: ComputedTensor, bundle: ReferenceBundle) throws -> ComparisonMetrics {
        let view = try bundle.view(tensor.name)
        guard view.elementCount == tensor.values.count else {
            throw RunnerError.badReference(path: bundle.path, message: "'\(tensor.name)' has shape \(view.shape), the model computes \(tensor.shape)")
        }
        let expected = view.dtype.isFloatingPoint ? try bundle.floats(tensor.name) : try bundle.integers(tensor.name).values.map(Float.init)
        return ComparisonMetrics(computed: tensor.values, reference: expected)
    }

    /// The layer with the largest increase of relative L2 error over its predecessor.
    static func largestGrowth(_ layers: [TensorReport]) -> ErrorGrowth? {
        guard !layers.isEmpty else { return nil }
        var best: ErrorGrowth?
        var bestIncrease = -Double.infinity
        for (i, layer) in layers.enumerated() {
            let before = i == 0 ? 0 : layers[i - 1].metrics.relativeL2Error
            let increase = layer.metrics.relativeL2Error - before
            if increase > bestIncrease {
                bestIncrease = increase
                best = ErrorGrowth(layer: layer.name, previousLayer: i == 0 ? nil : layers[i - 1].name,
                                   relativeL2Before: before, relativeL2After: layer.metrics.relativeL2Error)
            }
        }
        return best
    }
}

/// Process memory and CPU-time figures for reports and benchmarks.
public enum ProcessMemory {
    /// User + system CPU time of the whole process (all threads) so far.
    public static func cpuSeconds() -> Double {
        var usage = rusage()
        #if os(Linux)
        guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return 0 }
        #else
        guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
        #endif
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Peak resident set size of this process so far (getrusage ru_maxrss).
    public static func peakResidentBytes() -> Int {
        var usage = rusage()
        #if os(Linux)
        guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return 0 }
        return Int(usage.ru_maxrss) * 1024  // kilobytes on Linux
        #else
        guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
        return Int(usage.ru_maxrss)  // bytes on macOS
        #endif
    }
}
