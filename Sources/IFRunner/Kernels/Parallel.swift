import Dispatch

/// Runs independent iterations on all cores (DispatchQueue.concurrentPerform) for the element-wise
/// and per-row work around sgemm. Callers guarantee iterations touch disjoint memory.
public enum Parallel {
    /// Calls `body(i)` for `i in 0..<count`, concurrently when `count > 1`; returns when all are done.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        if count == 1 { body(0); return }
        withoutActuallyEscaping(body) { escapable in
            // SAFETY: concurrentPerform returns only after every iteration ran; iterations write
            // disjoint memory by the caller's contract.
            let box = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
        }
    }

    /// Splits `0..<count` into at most `chunks` contiguous ranges and runs them concurrently.
    public static func forEachRange(_ count: Int, chunks: Int, _ body: (Range<Int>) -> Void) {
        let pieces = max(1, min(chunks, count))
        let per = (count + pieces - 1) / max(1, pieces)
        forEach(pieces) { index in
            let lo = index * per, hi = min(count, lo + per)
            if lo < hi { body(lo..<hi) }
        }
    }
}

struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
