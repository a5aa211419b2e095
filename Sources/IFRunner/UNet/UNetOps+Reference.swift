#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension UNetOps {
    /// Plain versions of the UNet operations, written straight from the PyTorch definitions and
    /// accumulated in Double. They define what the fast paths mean; tests compare the two. Slow.
    enum Reference {
        /// Direct convolution (stride 1, zero padding (k-1)/2) on channels-last `x`; `weight` is
        /// `[out, in, k, k]` as PyTorch stores it.
        static func conv2d(
            _ x: [Float], batch: Int, height: Int, width: Int, channels: Int,
            weight: [Float], bias: [Float]?, outChannels: Int, kernel: Int
        ) -> [Float] {
            let pad = (kernel - 1) / 2
            var out = [Float](repeating: 0, count: batch * height * width * outChannels)
            for b in 0..<batch {
                for y in 0..<height {
                    for xx in 0..<width {
                        for o in 0..<outChannels {
                            var sum = Double(bias?[o] ?? 0)
                            for c in 0..<channels {
                                for ky in 0..<kernel {
                                    for kx in 0..<kernel {
                                        let sy = y + ky - pad, sx = xx + kx - pad
                                        guard sy >= 0, sy < height, sx >= 0, sx < width else { continue }
                                        let w = weight[((o * channels + c) * kernel + ky) * kernel + kx]
                                        sum += Double(w) * Double(x[((b * height + sy) * width + sx) * channels + c])
                                    }
                                }
                            }
                            out[((b * height + y) * width + xx) * outChannels + o] = Float(sum)
                        }
                    }
                }
            }
            return out
        }

        /// GroupNorm: `(x - mean) / sqrt(var + eps) * w + b`, statistics per (sample, group).
        static func groupNorm(
            _ x: [Float], batch: Int, pixels: Int, channels: Int, groups: Int,
            weight: [Float], bias: [Float], epsilon: Float
        ) -> [Float] {
            let per = channels / groups
            var out = x
            for b in 0..<batch {
                for g in 0..<groups {
                    var values: [Double] = []
                    for p in 0..<pixels {
                        for c in (g * per)..<((g + 1) * per) { values.append(Double(x[(b * pixels + p) * channels + c])) }
                    }
                    let mean = values.reduce(0, +) / Double(values.count)
                    let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
                    let inv = 1 / (variance + Double(epsilon)).squareRoot()
                    for p in 0..<pixels {
                        for c in (g * per)..<((g + 1) * per) {
                            let i = (b * pixels + p) * channels + c
                            out[i] = Float((Double(x[i]) - mean) * inv * Double(weight[c]) + Double(bias[c]))
                        }
                    }
                }
            }
            return out
        }

        /// torch nearest: `src = floor(dst * in / out)`.
        static func upsampleNearest2x(_ x: [Float], batch: Int, height: Int, width: Int, channels: Int) -> [Float] {
            let oh = 2 * height, ow = 2 * width
            var out = [Float](repeating: 0, count: batch * oh * ow * channels)
            for b in 0..<batch {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let sy = Int((Double(oy) * Double(height) / Double(oh)).rounded(.down))
                        let sx = Int((Double(ox) * Double(width) / Double(ow)).rounded(.down))
                        for c in 0..<channels {
                            out[((b * oh + oy) * ow + ox) * channels + c] = x[((b * height + sy) * width + sx) * channels + c]
                        }
                    }
                }
            }
            return out
        }

        /// Mean of each 2x2 window (floor for odd sizes).
        static func averagePool2x(_ x: [Float], batch: Int, height: Int, width: Int, channels: Int) -> [Float] {
            let oh = height / 2, ow = width / 2
            var out = [Float](repeating: 0, count: batch * oh * ow * channels)
            for b in 0..<batch {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        for c in 0..<channels {
                            var s = 0.0
                            for dy in 0..<2 { for dx in 0..<2 { s += Double(x[((b * height + 2 * oy + dy) * width + 2 * ox + dx) * channels + c]) } }
                            out[((b * oh + oy) * ow + ox) * channels + c] = Float(s / 4)
                        }
                    }
                }
            }
            return out
        }

        /// Bilinear with align_corners=True: output pixel i samples input coordinate `i (in-1)/(out-1)`.
        static func resizeBilinearAlignCorners(_ x: [Float], planes: Int, height: Int, width: Int, outputHeight: Int, outputWidth: Int) -> [Float] {
            var out = [Float](repeating: 0, count: planes * outputHeight * outputWidth)
            func coordinate(_ i: Int, _ input: Int, _ output: Int) -> (Int, Int, Double) {
                let real = output > 1 ? Double(i) * Double(input - 1) / Double(output - 1) : 0
                let i0 = min(Int(real), input - 1)
                return (i0, min(i0 + 1, input - 1), real - Double(i0))
            }
            for p in 0..<planes {
                for oy in 0..<outputHeight {
                    let (y0, y1, fy) = coordinate(oy, height, outputHeight)
                    for ox in 0..<outputWidth {
                        let (x0, x1, fx) = coordinate(ox, width, outputWidth)
                        func v(_ y: Int, _ c: Int) -> Double { Double(x[(p * height + y) * width + c]) }
                        let top = v(y0, x0) * (1 - fx) + v(y0, x1) * fx
                        let bottom = v(y1, x0) * (1 - fx) + v(y1, x1) * fx
                        out[(p * outputHeight + oy) * outputWidth + ox] = Float(top * (1 - fy) + bottom * fy)
                    }
                }
            }
            return out
        }

        /// Sinusoidal timestep embedding in Double.
        static func timestepEmbedding(_ timesteps: [Float], dimension: Int, flipSinToCos: Bool, downscaleFreqShift: Float) -> [Float] {
            let half = dimension / 2
            var out = [Float](repeating: 0, count: timesteps.count * dimension)
            for (b, t) in timesteps.enumerated() {
                for i in 0..<half {
                    let arg = Double(t) * exp(-log(10000.0) * Double(i) / (Double(half) - Double(downscaleFreqShift)))
                    out[b * dimension + i] = Float(flipSinToCos ? cos(arg) : sin(arg))
                    out[b * dimension + half + i] = Float(flipSinToCos ? sin(arg) : cos(arg))
                }
            }
            return out
        }

        /// One AttnAddedKV attention on channels-last `x` `[batch, pixels, channels]` with text
        /// `[batch, length, crossDim]` (already normalized), projections given as `[out, in]`
        /// matrices with biases; returns `to_out(attention) + x`.
        static func addedKVAttention(
            x: [Float], normalizedX: [Float], text: [Float], batch: Int, pixels: Int, length: Int, channels: Int,
            crossDim: Int, heads: Int, headDim: Int,
            q: ([Float], [Float]), k: ([Float], [Float])?, v: ([Float], [Float])?,
            addK: ([Float], [Float]), addV: ([Float], [Float]), out: ([Float], [Float])
        ) -> [Float] {
            let inner = heads * headDim
            func linear(_ input: ArraySlice<Float>, _ w: ([Float], [Float]), inF: Int, outF: Int) -> [Double] {
                let base = input.startIndex
                return (0..<outF).map { o in
                    var s = Double(w.1[o])
                    for i in 0..<inF { s += Double(w.0[o * inF + i]) * Double(input[base + i]) }
                    return s
                }
            }
            var result = x
            for b in 0..<batch {
                let qs = (0..<pixels).map { p in linear(normalizedX[((b * pixels + p) * channels)...], q, inF: channels, outF: inner) }
                var ks = (0..<length).map { t in linear(text[((b * length + t) * crossDim)...], addK, inF: crossDim, outF: inner) }
                var vs = (0..<length).map { t in linear(text[((b * length + t) * crossDim)...], addV, inF: crossDim, outF: inner) }
                if let k, let v {
                    ks += (0..<pixels).map { p in linear(normalizedX[((b * pixels + p) * channels)...], k, inF: channels, outF: inner) }
                    vs += (0..<pixels).map { p in linear(normalizedX[((b * pixels + p) * channels)...], v, inF: channels, outF: inner) }
                }
                let scale = 1 / Double(headDim).squareRoot()
                for p in 0..<pixels {
                    var attended = [Double](repeating: 0, count: inner)
                    for h in 0..<heads {
                        let r = (h * headDim)..<((h + 1) * headDim)
                        let logits = ks.map { key in r.reduce(0.0) { $0 + qs[p][$1] * key[$1] } * scale }
                        let m = logits.max()!
                        let e = logits.map { exp($0 - m) }
                        let total = e.reduce(0, +)
                        for j in r { attended[j] = zip(e, vs).reduce(0.0) { $0 + $1.0 / total * $1.1[j] } }
                    }
                    for o in 0..<channels {
                        var s = Double(out.1[o])
                        for i in 0..<inner { s += Double(out.0[o * inner + i]) * attended[i] }
                        let index = (b * pixels + p) * channels + o
                        result[index] = Float(s + Double(x[index]))
                    }
                }
            }
            return result
        }
    }
}
