#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The UNet-specific operations, on channels-last batches (`[batch, pixels, channels]`) unless
/// stated. Each has a plain twin in `UNetOps+Reference.swift` that defines its meaning; the tests
/// compare the two. Shapes are the caller's contract (preconditions).
enum UNetOps {
    /// Floats of im2col scratch per convolution tile (64 MiB): bounds memory whatever the layer size,
    /// yet lets one GEMM cover all 8192 pixels of a 64x64 batch of 2 at 192 channels (OpenBLAS runs
    /// these tall-skinny shapes ~1.5x faster with 8192 rows than with 4096).
    static let im2colElementBudget = 1 << 24

    /// Two threads for memory-bound loops big enough to be worth it (the machines have 2 cores;
    /// GEMMs split themselves over `Kernels.threadCount`).
    static func parallelChunks(_ count: Int, minimumChunk: Int = 1 << 16, _ body: (Range<Int>) -> Void) {
        Parallel.forEachRange(count, chunks: count >= 2 * minimumChunk ? 2 : 1, body)
    }

    // MARK: - Layout

    static func channelsFirstToChannelsLast(
        _ x: UnsafePointer<Float>, batch: Int, channels: Int, pixels: Int, output: UnsafeMutablePointer<Float>
    ) {
        for b in 0..<batch {
            let src = x + b * channels * pixels, dst = output + b * channels * pixels
            for c in 0..<channels {
                let plane = src + c * pixels
                for p in 0..<pixels { dst[p * channels + c] = plane[p] }
            }
        }
    }

    static func channelsLastToChannelsFirst(
        _ x: UnsafePointer<Float>, batch: Int, pixels: Int, channels: Int, output: UnsafeMutablePointer<Float>
    ) {
        for b in 0..<batch {
            let src = x + b * channels * pixels, dst = output + b * channels * pixels
            for p in 0..<pixels {
                let row = src + p * channels
                for c in 0..<channels { dst[c * pixels + p] = row[c] }
            }
        }
    }

    // MARK: - Convolution (stride 1, zero padding (k-1)/2) as im2col + GEMM

    /// Writes im2col rows `rows` (global pixel indices over the batch) of a channels-last batch.
    /// Each row is one output pixel's receptive field in the weight's own order `(c, ky, kx)`, so the
    /// weight `[out, in, kh, kw]` is used as stored, viewed as `[out, in*kh*kw]`.
    static func im2col(
        _ x: UnsafePointer<Float>, height: Int, width: Int, channels: Int, kernel: Int,
        rows: Range<Int>, output: UnsafeMutablePointer<Float>
    ) {
        let pad = (kernel - 1) / 2, taps = kernel * kernel, k = channels * taps, pixels = height * width
        for r in rows {
            let b = r / pixels, p = r % pixels, y = p / width, xx = p % width
            let dst = output + (r - rows.lowerBound) * k
            for ky in 0..<kernel {
                let sy = y + ky - pad
                for kx in 0..<kernel {
                    let sx = xx + kx - pad
                    let tap = ky * kernel + kx
                    if sy < 0 || sy >= height || sx < 0 || sx >= width {
                        for c in 0..<channels { dst[c * taps + tap] = 0 }
                    } else {
                        let src = x + (b * pixels + sy * width + sx) * channels
                        for c in 0..<channels { dst[c * taps + tap] = src[c] }
                    }
                }
            }
        }
    }

    /// `output[batch, pixels, out] = conv(x)`, bias included. 1x1 convolutions are a plain GEMM.
    static func conv2d(
        _ x: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int,
        weight: LinearWeight, kernel: Int, pool: BufferPool, output: UnsafeMutablePointer<Float>
    ) {
        let taps = kernel * kernel, k = channels * taps, total = batch * height * width
        precondition(weight.inFeatures == k, "conv weight \(weight.name): \(weight.inFeatures) inputs, expected \(k)")
        if kernel == 1 {
            weight.apply(x, rows: total, output: output)
            return
        }
        let tileRows = max(1, min(total, im2colElementBudget / k))
        let scratch = pool.take(tileRows * k)
        defer { pool.give(scratch) }
        var start = 0
        while start < total {
            let end = min(total, start + tileRows)
            parallelChunks(end - start, minimumChunk: max(1, (1 << 15) / k)) { part in
                im2col(x, height: height, width: width, channels: channels, kernel: kernel,
                       rows: (start + part.lowerBound)..<(start + part.upperBound),
                       output: scratch.base + part.lowerBound * k)
            }
            weight.apply(scratch.base, rows: end - start, output: output + start * weight.outFeatures)
            start = end
        }
    }

    // MARK: - Normalization and activations

    /// torch `GroupNorm` for channels-last samples: statistics per (sample, group) over the group's
    /// channels and all pixels (biased variance, two passes accumulated in Double), then
    /// `y = x * scale[c] + shift[c]` with `scale = rstd * weight`, `shift = bias - mean * scale`
    /// (the form torch's CPU kernel applies). `x` and `output` may alias.
    static func groupNorm(
        _ x: UnsafePointer<Float>, batch: Int, pixels: Int, channels: Int, groups: Int,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, epsilon: Float,
        output: UnsafeMutablePointer<Float>
    ) {
        precondition(groups > 0 && channels % groups == 0 && pixels > 0)
        let perGroup = channels / groups
        let count = Double(perGroup * pixels)
        var channelSum = [Double](repeating: 0, count: channels)
        var partial = [Float](repeating: 0, count: channels)
        var channelMean = [Float](repeating: 0, count: channels)
        var scale = [Float](repeating: 0, count: channels)
        var shift = [Float](repeating: 0, count: channels)
        let block = 64  // pixels summed in Float before each Double flush
        for b in 0..<batch {
            let src = x + b * pixels * channels
            let dst = output + b * pixels * channels
            for c in 0..<channels { channelSum[c] = 0 }
            var p0 = 0
            while p0 < pixels {
                let p1 = min(pixels, p0 + block)
                for c in 0..<channels { partial[c] = 0 }
                for p in p0..<p1 {
                    let row = src + p * channels
                    for c in 0..<channels { partial[c] += row[c] }
                }
                for c in 0..<channels { channelSum[c] += Double(partial[c]) }
                p0 = p1
            }
            var groupMean = [Float](repeating: 0, count: groups)
            for g in 0..<groups {
                var s = 0.0
                for c in (g * perGroup)..<((g + 1) * perGroup) { s += channelSum[c] }
                groupMean[g] = Float(s / count)
                for c in (g * perGroup)..<((g + 1) * perGroup) { channelMean[c] = groupMean[g] }
            }
            for c in 0..<channels { channelSum[c] = 0 }
            p0 = 0
            while p0 < pixels {
                let p1 = min(pixels, p0 + block)
                for c in 0..<channels { partial[c] = 0 }
                for p in p0..<p1 {
                    let row = src + p * channels
                    for c in 0..<channels {
                        let d = row[c] - channelMean[c]
                        partial[c] += d * d
                    }
                }
                for c in 0..<channels { channelSum[c] += Double(partial[c]) }
                p0 = p1
            }
            for g in 0..<groups {
                var s = 0.0
                for c in (g * perGroup)..<((g + 1) * perGroup) { s += channelSum[c] }
                let rstd = 1 / (Float(s / count) + epsilon).squareRoot()
                for c in (g * perGroup)..<((g + 1) * perGroup) {
                    scale[c] = rstd * weight[c]
                    shift[c] = bias[c] - groupMean[g] * scale[c]
                }
            }
            scale.withUnsafeBufferPointer { sc in
                shift.withUnsafeBufferPointer { sh in
                    let scp = sc.baseAddress!, shp = sh.baseAddress!
                    parallelChunks(pixels, minimumChunk: max(1, (1 << 15) / channels)) { range in
                        for p in range {
                            let row = src + p * channels, out = dst + p * channels
                            for c in 0..<channels { out[c] = row[c] * scp[c] + shp[c] }
                        }
                    }
                }
            }
        }
    }

    /// The UNet's activation (`act_fn`, `time_embedding_act_fn`) in place.
    static func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ activation: UNetConfig.Activation) {
        parallelChunks(count) { range in
            let part = UnsafeMutableBufferPointer(start: x + range.lowerBound, count: range.count)
            switch activation {
            case .gelu:
                Kernels.geluExact(part)
            case .silu, .swish:
                for i in part.indices { part[i] = part[i] / (1 + expf(-part[i])) }
            case .relu:
                for i in part.indices { part[i] = max(0, part[i]) }
            }
        }
    }

    // MARK: - Resampling

    /// Nearest-neighbour x2 (torch `F.interpolate(scale_factor=2, mode="nearest")`).
    static func upsampleNearest2x(
        _ x: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int,
        output: UnsafeMutablePointer<Float>
    ) {
        let outWidth = width * 2
        for b in 0..<batch {
            for oy in 0..<(height * 2) {
                let srcRow = x + (b * height + oy / 2) * width * channels
                let dstRow = output + (b * height * 2 + oy) * outWidth * channels
                for ox in 0..<outWidth {
                    (dstRow + ox * channels).update(from: srcRow + (ox / 2) * channels, count: channels)
                }
            }
        }
    }

    /// `AvgPool2d(kernel 2, stride 2)`: `((a + b) + c) + d) / 4` in torch's summation order; odd
    /// trailing rows/columns are dropped (floor), as torch does.
    static func averagePool2x(
        _ x: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int,
        output: UnsafeMutablePointer<Float>
    ) {
        let oh = height / 2, ow = width / 2
        for b in 0..<batch {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let p00 = x + ((b * height + 2 * oy) * width + 2 * ox) * channels
                    let p01 = p00 + channels
                    let p10 = p00 + width * channels
                    let p11 = p10 + channels
                    let dst = output + ((b * oh + oy) * ow + ox) * channels
                    for c in 0..<channels { dst[c] = (((p00[c] + p01[c]) + p10[c]) + p11[c]) / 4 }
                }
            }
        }
    }

    /// torch `F.interpolate(mode="bilinear", align_corners=True)` on channels-first `[planes, h, w]`
    /// (planes = batch x channels): source coordinate `i * (in-1)/(out-1)` in Float, lambdas
    /// `l1 = src - floor(src)`, `l0 = 1 - l1`, `h0l*(w0l*a + w1l*b) + h1l*(w0l*c + w1l*d)`.
    static func resizeBilinearAlignCorners(
        _ x: UnsafePointer<Float>, planes: Int, height: Int, width: Int,
        outputHeight: Int, outputWidth: Int, output: UnsafeMutablePointer<Float>
    ) {
        func axis(_ input: Int, _ output: Int) -> [(Int, Int, Float, Float)] {
            let scale: Float = output > 1 ? Float(input - 1) / Float(output - 1) : 0
            return (0..<output).map { i in
                let real = scale * Float(i)
                let i0 = min(Int(real), input - 1)
                let i1 = i0 + (i0 < input - 1 ? 1 : 0)
                let l1 = real - Float(i0)
                return (i0, i1, 1 - l1, l1)
            }
        }
        let ys = axis(height, outputHeight), xs = axis(width, outputWidth)
        for plane in 0..<planes {
            let src = x + plane * height * width
            let dst = output + plane * outputHeight * outputWidth
            for (oy, (y0, y1, h0, h1)) in ys.enumerated() {
                for (ox, (x0, x1, w0, w1)) in xs.enumerated() {
                    let top = w0 * src[y0 * width + x0] + w1 * src[y0 * width + x1]
                    let bottom = w0 * src[y1 * width + x0] + w1 * src[y1 * width + x1]
                    dst[oy * outputWidth + ox] = h0 * top + h1 * bottom
                }
            }
        }
    }

    // MARK: - Embeddings

    /// diffusers `get_timestep_embedding` in float32: `freq_i = exp(-ln(10000) * i / (half - shift))`,
    /// `[sin(t f), cos(t f)]`, swapped to `[cos, sin]` when `flipSinToCos`; odd widths get a zero pad.
    static func timestepEmbedding(
        _ timesteps: [Float], dimension: Int, flipSinToCos: Bool, downscaleFreqShift: Float
    ) -> [Float] {
        let half = dimension / 2
        let logPeriod = Float(-9.210340371976184)  // -ln(10000), rounded to float as torch does
        let frequencies = (0..<half).map { i in expf((logPeriod * Float(i)) / (Float(half) - downscaleFreqShift)) }
        var out = [Float](repeating: 0, count: timesteps.count * dimension)
        for (b, t) in timesteps.enumerated() {
            for i in 0..<half {
                let arg = t * frequencies[i]
                let s = sinf(arg), c = cosf(arg)
                out[b * dimension + i] = flipSinToCos ? c : s
                out[b * dimension + half + i] = flipSinToCos ? s : c
            }
        }
        return out
    }
}
