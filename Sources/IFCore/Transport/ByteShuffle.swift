/// The byte-shuffle filter for 16-bit data: all low bytes of a run of 2-byte elements, then all
/// high bytes. Exponent bits of fp16/bf16 gather in one plane, which zstd compresses better.
/// `zstd -d` cannot undo it, so shuffled frames are listed in the archive's marker frame.
enum ByteShuffle {
    /// [l0 h0 l1 h1 ...] -> [l0 l1 ... h0 h1 ...]. An odd trailing byte stays at the end.
    static func shuffle16(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) {
        precondition(source.count == destination.count)
        let pairs = source.count / 2
        for i in 0..<pairs {
            destination[i] = source[2 * i]
            destination[pairs + i] = source[2 * i + 1]
        }
        if source.count % 2 == 1 { destination[source.count - 1] = source[source.count - 1] }
    }

    /// Inverse of `shuffle16`.
    static func unshuffle16(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) {
        precondition(source.count == destination.count)
        let pairs = source.count / 2
        for i in 0..<pairs {
            destination[2 * i] = source[i]
            destination[2 * i + 1] = source[pairs + i]
        }
        if source.count % 2 == 1 { destination[source.count - 1] = source[source.count - 1] }
    }
}
