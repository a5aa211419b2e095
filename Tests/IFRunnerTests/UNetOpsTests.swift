import Foundation
import IFCore
import Testing
@testable import IFRunner

/// Fast UNet ops vs their plain references (UNetOps.Reference).
@Suite("UNet ops vs reference")
struct UNetOpsTests {
    /// fp32 GEMM/accumulation-order differences on sums of a few hundred terms of O(1) values.
    static let float32Tolerance: Float = 2e-5

    @Test(arguments: [(1, 5, 7, 3, 4), (3, 6, 5, 8, 16), (2, 4, 4, 40, 9)])
    func convolutionMatchesDirect(kernel: Int, height: Int, width: Int, inChannels: Int, outChannels: Int) throws {
        let batch = 2
        let x = unetRandomFloats(batch * height * width * inChannels, seed: 1)
        let w = unetRandomFloats(outChannels * inChannels * kernel * kernel, seed: 2, scale: 0.3)
        let bias = unetRandomFloats(outChannels, seed: 3)
        var source = UNetInMemorySource()
        source.add("c.weight", shape: [outChannels, inChannels, kernel, kernel], values: w)
        source.add("c.bias", shape: [outChannels], values: bias)
        let weight = try convolution(TensorSourceWeightStore(source: source), "c", inChannels: inChannels, outChannels: outChannels, kernel: kernel)
        let pool = BufferPool()
        var out = [Float](repeating: .nan, count: batch * height * width * outChannels)
        out.withUnsafeMutableBufferPointer { o in
            UNetOps.conv2d(x, batch: batch, height: height, width: width, channels: inChannels, weight: weight,
                           kernel: kernel, pool: pool, output: o.baseAddress!)
        }
        let expected = UNetOps.Reference.conv2d(x, batch: batch, height: height, width: width, channels: inChannels,
                                                weight: w, bias: bias, outChannels: outChannels, kernel: kernel)
        #expect(maxAbsDifference(out, expected) <= Self.float32Tolerance)
    }

    @Test func convolutionTilesAcrossSamples() throws {
        // A tile budget smaller than one sample forces tiles that straddle rows and samples.
        let (batch, height, width, cin, cout) = (3, 9, 7, 2, 3)
        let x = unetRandomFloats(batch * height * width * cin, seed: 4)
        let w = unetRandomFloats(cout * cin * 9, seed: 5)
        var source = UNetInMemorySource()
        source.add("c.weight", shape: [cout, cin, 3, 3], values: w)
        source.add("c.bias", shape: [cout], values: [0.5, -1, 2])
        let weight = try convolution(TensorSourceWeightStore(source: source), "c", inChannels: cin, outChannels: cout, kernel: 3)
        var out = [Float](repeating: .nan, count: batch * height * width * cout)
        out.withUnsafeMutableBufferPointer { o in
            for r in stride(from: 0, to: batch * height * width, by: 5) {
                let rows = r..<min(batch * height * width, r + 5)
                var cols = [Float](repeating: .nan, count: rows.count * cin * 9)
                cols.withUnsafeMutableBufferPointer { c in
                    UNetOps.im2col(x, height: height, width: width, channels: cin, kernel: 3, rows: rows, output: c.baseAddress!)
                    weight.apply(c.baseAddress!, rows: rows.count, output: o.baseAddress! + r * cout)
                }
            }
        }
        let expected = UNetOps.Reference.conv2d(x, batch: batch, height: height, width: width, channels: cin,
                                                weight: w, bias: [0.5, -1, 2], outChannels: cout, kernel: 3)
        #expect(maxAbsDifference(out, expected) <= Self.float32Tolerance)
    }

    @Test(arguments: [(1, 64, 32, 8), (2, 49, 96, 32), (2, 7, 64, 32)])
    func groupNormMatchesReference(batch: Int, pixels: Int, channels: Int, groups: Int) {
        let x = unetRandomFloats(batch * pixels * channels, seed: 6, scale: 3).map { $0 + 1.5 }
        let w = unetRandomFloats(channels, seed: 7), b = unetRandomFloats(channels, seed: 8)
        var out = [Float](repeating: .nan, count: x.count)
        UNetOps.groupNorm(x, batch: batch, pixels: pixels, channels: channels, groups: groups, weight: w, bias: b, epsilon: 1e-5, output: &out)
        let expected = UNetOps.Reference.groupNorm(x, batch: batch, pixels: pixels, channels: channels, groups: groups, weight: w, bias: b, epsilon: 1e-5)
        #expect(maxAbsDifference(out, expected) <= Self.float32Tolerance)
    }

    @Test func resamplingMatchesReference() {
        let (batch, h, w, c) = (2, 5, 6, 3)
        let x = unetRandomFloats(batch * h * w * c, seed: 9)
        var up = [Float](repeating: .nan, count: batch * 4 * h * w * c)
        UNetOps.upsampleNearest2x(x, batch: batch, height: h, width: w, channels: c, output: &up)
        #expect(up == UNetOps.Reference.upsampleNearest2x(x, batch: batch, height: h, width: w, channels: c))
        var down = [Float](repeating: .nan, count: batch * (h / 2) * (w / 2) * c)
        UNetOps.averagePool2x(x, batch: batch, height: h, width: w, channels: c, output: &down)
        #expect(maxAbsDifference(down, UNetOps.Reference.averagePool2x(x, batch: batch, height: h, width: w, channels: c)) <= 1e-6)
    }

    @Test(arguments: [(16, 16, 64, 64), (5, 7, 12, 9), (4, 4, 4, 4), (3, 3, 1, 5)])
    func bilinearMatchesReference(height: Int, width: Int, outHeight: Int, outWidth: Int) {
        let x = unetRandomFloats(2 * height * width, seed: 10)
        var out = [Float](repeating: .nan, count: 2 * outHeight * outWidth)
        UNetOps.resizeBilinearAlignCorners(x, planes: 2, height: height, width: width, outputHeight: outHeight, outputWidth: outWidth, output: &out)
        let expected = UNetOps.Reference.resizeBilinearAlignCorners(x, planes: 2, height: height, width: width, outputHeight: outHeight, outputWidth: outWidth)
        #expect(maxAbsDifference(out, expected) <= 1e-5)
    }

    @Test func timestepEmbeddingMatchesReference() {
        let t: [Float] = [0, 1, 250, 999]
        let fast = UNetOps.timestepEmbedding(t, dimension: 33, flipSinToCos: true, downscaleFreqShift: 0)
        let slow = UNetOps.Reference.timestepEmbedding(t, dimension: 33, flipSinToCos: true, downscaleFreqShift: 0)
        // float32 frequencies times t up to 999: argument error up to ~1e-4 rad.
        #expect(maxAbsDifference(fast, slow) <= 2e-4)
        #expect(fast[32] == 0 && fast[3 * 33 + 32] == 0)  // odd width: zero pad
        #expect(fast[0] == 1 && fast[16] == 0)  // t = 0: cos 0, sin 0
    }

    @Test(arguments: [false, true])
    func attentionMatchesReference(onlyCross: Bool) throws {
        let (batch, h, w, channels, headDim, length, crossDim) = (2, 3, 4, 64, 16, 5, 32)
        let pixels = h * w, inner = channels
        var source = UNetInMemorySource()
        var seed: UInt64 = 100
        func add(_ name: String, _ shape: [Int], scale: Float = 0.2) -> [Float] {
            seed += 1
            let v = unetRandomFloats(shape.reduce(1, *), seed: seed, scale: scale)
            source.add(name, shape: shape, values: v)
            return v
        }
        let gnw = add("a.group_norm.weight", [channels], scale: 1), gnb = add("a.group_norm.bias", [channels])
        let ncw = add("a.norm_cross.weight", [crossDim], scale: 1), ncb = add("a.norm_cross.bias", [crossDim])
        let q = (add("a.to_q.weight", [inner, channels]), add("a.to_q.bias", [inner]))
        let k = (add("a.to_k.weight", [inner, channels]), add("a.to_k.bias", [inner]))
        let v = (add("a.to_v.weight", [inner, channels]), add("a.to_v.bias", [inner]))
        let ak = (add("a.add_k_proj.weight", [inner, crossDim]), add("a.add_k_proj.bias", [inner]))
        let av = (add("a.add_v_proj.weight", [inner, crossDim]), add("a.add_v_proj.bias", [inner]))
        let o = (add("a.to_out.0.weight", [channels, inner]), add("a.to_out.0.bias", [channels]))
        let config = try UNetConfig(json: Data("""
            {"block_out_channels": [64], "down_block_types": ["SimpleCrossAttnDownBlock2D"], "up_block_types": ["SimpleCrossAttnUpBlock2D"],
             "norm_num_groups": 8, "cross_attention_dim": \(crossDim), "cross_attention_norm": "group_norm",
             "resnet_time_scale_shift": "scale_shift", "mid_block_type": "UNetMidBlock2DSimpleCrossAttn", "attention_head_dim": \(headDim)}
            """.utf8))
        let attention = try AddedKVAttention(store: TensorSourceWeightStore(source: source), name: "a", channels: channels,
                                             headDim: headDim, onlyCrossAttention: onlyCross, config: config)
        let x = unetRandomFloats(batch * pixels * channels, seed: 1)
        let text = unetRandomFloats(batch * length * crossDim, seed: 2)
        let pool = BufferPool()
        let input = FeatureMap(pool: pool, batch: batch, height: h, width: w, channels: channels)
        input.base.update(from: x, count: x.count)
        let ctx = ForwardContext(pool: pool, batch: batch, timeEmbedding: [], activatedTimeEmbedding: [], encoderStates: text,
                                 sequenceLength: length, observer: nil)
        let out = attention.forward(input, ctx)
        let ours = Array(UnsafeBufferPointer(start: out.base, count: out.count))
        let nx = UNetOps.Reference.groupNorm(x, batch: batch, pixels: pixels, channels: channels, groups: 8, weight: gnw, bias: gnb, epsilon: 1e-5)
        let nt = UNetOps.Reference.groupNorm(text, batch: batch, pixels: length, channels: crossDim, groups: 32, weight: ncw, bias: ncb, epsilon: 1e-5)
        let expected = UNetOps.Reference.addedKVAttention(
            x: x, normalizedX: nx, text: nt, batch: batch, pixels: pixels, length: length, channels: channels, crossDim: crossDim,
            heads: channels / headDim, headDim: headDim, q: q, k: onlyCross ? nil : k, v: onlyCross ? nil : v,
            addK: ak, addV: av, out: o)
        #expect(maxAbsDifference(ours, expected) <= Self.float32Tolerance)
    }

    @Test func bufferPoolReusesBuffers() {
        let pool = BufferPool()
        let a = pool.take(1000)
        pool.give(a)
        let b = pool.take(900)
        #expect(a === b)
        let c = pool.take(10)  // would waste the big buffer: gets its own
        #expect(c !== b)
        #expect(pool.peakAllocatedFloats == 1010)
    }
}
