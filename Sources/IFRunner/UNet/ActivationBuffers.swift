/// An owned, uninitialized run of floats: the storage behind a feature map or a scratch area.
/// The pool hands these out and takes them back, so a UNet forward (and every later step of a
/// sampling loop) reuses the same few allocations instead of allocating per layer.
final class FloatBuffer: @unchecked Sendable {
    // SAFETY: a buffer is used by one forward at a time (the pool is not shared across threads).
    let base: UnsafeMutablePointer<Float>
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        base = UnsafeMutablePointer<Float>.allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }
}

/// Recycles `FloatBuffer`s by size (best fit). Tracks the bytes it holds at peak, which is what
/// the runner reports as its activation memory.
final class BufferPool: @unchecked Sendable {
    // SAFETY: owned by one model instance; forwards on one instance are serialized by the caller.
    private var free: [FloatBuffer] = []
    private(set) var allocatedFloats = 0
    private(set) var peakAllocatedFloats = 0

    /// A buffer holding at least `count` floats (contents undefined).
    func take(_ count: Int) -> FloatBuffer {
        var best: Int?
        for (i, b) in free.enumerated() where b.capacity >= count {
            if best == nil || b.capacity < free[best!].capacity { best = i }
        }
        // Reuse only when the fit is reasonable, so a tiny request does not pin a huge buffer.
        if let best, free[best].capacity <= max(count * 2, count + 4096) {
            return free.remove(at: best)
        }
        let buffer = FloatBuffer(capacity: count)
        allocatedFloats += buffer.capacity
        peakAllocatedFloats = max(peakAllocatedFloats, allocatedFloats)
        return buffer
    }

    func give(_ buffer: FloatBuffer) {
        free.append(buffer)
    }

    /// Frees every idle buffer (between uses of a model, to hand memory back).
    func trim() {
        for b in free { allocatedFloats -= b.capacity }
        free.removeAll()
    }
}

/// A batch of feature maps in channels-last layout `[batch, height, width, channels]`: each pixel's
/// channels are one contiguous row, so a 1x1 convolution or an attention projection is one GEMM
/// over `batch * height * width` rows, and im2col rows are gathered per pixel.
struct FeatureMap {
    let buffer: FloatBuffer
    let batch: Int
    let height: Int
    let width: Int
    let channels: Int

    var pixels: Int { height * width }
    var rows: Int { batch * height * width }
    var count: Int { rows * channels }
    var base: UnsafeMutablePointer<Float> { buffer.base }

    init(pool: BufferPool, batch: Int, height: Int, width: Int, channels: Int) {
        buffer = pool.take(batch * height * width * channels)
        self.batch = batch
        self.height = height
        self.width = width
        self.channels = channels
    }

    func release(to pool: BufferPool) { pool.give(buffer) }

    /// Copies out as `[batch, channels, height, width]` (PyTorch's layout), for outputs and `act.*`.
    func nchw() -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { out, n in
            UNetOps.channelsLastToChannelsFirst(base, batch: batch, pixels: pixels, channels: channels, output: out.baseAddress!)
            n = count
        }
    }

    var shapeNCHW: [Int] { [batch, channels, height, width] }
}
