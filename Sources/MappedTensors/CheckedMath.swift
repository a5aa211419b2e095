/// Overflow-checked size arithmetic for values that come from untrusted files.
public enum CheckedMath {
    /// Product of `values`, or nil on overflow or a negative factor.
    public static func product(_ values: [Int]) -> Int? {
        var result = 1
        for value in values {
            guard value >= 0 else { return nil }
            let (next, overflow) = result.multipliedReportingOverflow(by: value)
            if overflow { return nil }
            result = next
        }
        return result
    }

    public static func multiply(_ a: Int, _ b: Int) -> Int? {
        let (result, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : result
    }

    public static func add(_ a: Int, _ b: Int) -> Int? {
        let (result, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : result
    }

    /// Byte count of a tensor of `shape` x `dtype`, or nil on overflow.
    public static func byteCount(shape: [Int], dtype: DType) -> Int? {
        guard let elements = product(shape) else { return nil }
        return multiply(elements, dtype.byteSize)
    }
}
