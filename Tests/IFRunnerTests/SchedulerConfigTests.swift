import Foundation
import Testing
@testable import IFRunner

@Suite("DDPM scheduler and UNet config")
struct SchedulerConfigTests {
    /// Plain linear-interpolation quantile in Double (numpy/torch "linear" method).
    static func referenceQuantile(_ values: [Float], _ q: Double) -> Double {
        let s = values.map(Double.init).sorted()
        let rank = q * Double(s.count - 1)
        let lo = Int(rank.rounded(.down)), hi = Int(rank.rounded(.up))
        return s[lo] + (rank - Double(lo)) * (s[hi] - s[lo])
    }

    @Test(arguments: [1, 2, 7, 20, 3072, 12288])
    func quantileMatchesReference(count: Int) {
        let v = unetRandomFloats(count, seed: UInt64(count)).map { abs($0) * 2 }
        let ours = DDPMScheduler.quantile(v, 0.95)
        #expect(abs(Double(ours) - Self.referenceQuantile(v, 0.95)) <= 1e-6 * max(1, Double(ours)))
    }

    @Test func dynamicThresholdingClampsPerSample() {
        // Sample 0 has |x0| quantile far above the max: scaled into [-1, 1]; sample 1 is within [-1, 1]: unchanged.
        var x: [Float] = (0..<100).map { Float($0) / 10 } + (0..<100).map { Float($0) / 200 - 0.25 }
        let original = x
        DDPMScheduler.dynamicThreshold(&x, batch: 2, ratio: 0.95, maxValue: 1.5)
        #expect(x[0..<100].allSatisfy { $0 <= 1 && $0 >= 0 })
        #expect(x[99] == 1)
        #expect(Array(x[100...]) == Array(original[100...]))
    }

    @Test func leadingTimestepsAsDiffusers() throws {
        var config = DDPMScheduler.Config()
        config.betaSchedule = "squaredcos_cap_v2"
        let s = try DDPMScheduler(config: config)
        #expect(try s.timesteps(steps: 5) == [800, 600, 400, 200, 0])
        #expect(try s.timesteps(steps: 3) == [666, 333, 0])
        #expect(throws: RunnerError.self) { try s.validate(customTimesteps: [10, 20]) }
        #expect(throws: RunnerError.self) { try s.validate(customTimesteps: [1000, 0]) }
        // cosine betas are capped at 0.999 at the end; alphas_cumprod decreasing
        #expect(s.betas.last == 0.999)
        #expect(zip(s.alphasCumprod, s.alphasCumprod.dropFirst()).allSatisfy { $0 > $1 })
    }

    @Test func rejectsWhatTheRunnerDoesNotImplement() {
        let bad = [
            (#"{"block_out_channels": [32], "down_block_types": ["CrossAttnDownBlock2D"], "up_block_types": ["UpBlock2D"]}"#, "CrossAttnDownBlock2D"),
            (#"{"block_out_channels": [32, 64], "down_block_types": ["ResnetDownsampleBlock2D"], "up_block_types": ["ResnetUpsampleBlock2D"]}"#, "1 down and 1 up"),
            (#"{"block_out_channels": [32], "layers_per_block": "two", "down_block_types": ["ResnetDownsampleBlock2D"], "up_block_types": ["ResnetUpsampleBlock2D"]}"#, "layers_per_block"),
        ]
        for (json, fragment) in bad {
            do {
                _ = try UNetConfig(json: Data(json.utf8))
                Issue.record("accepted \(json)")
            } catch {
                #expect("\(error)".contains(fragment), "message: \(error)")
            }
        }
    }

    @Test func readsPerLevelLists() throws {
        let config = try UNetConfig(json: Data("""
            {"block_out_channels": [32, 64], "layers_per_block": [1, 3], "attention_head_dim": 16,
             "down_block_types": ["ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"],
             "up_block_types": ["SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"], "act_fn": "gelu",
             "resnet_time_scale_shift": "scale_shift", "mid_block_type": "UNetMidBlock2DSimpleCrossAttn",
             "class_embed_type": "timestep", "time_embedding_dim": 96, "resnet_out_scale_factor": 1.4142271248762552}
            """.utf8))
        #expect(config.layersPerBlock == [1, 3])
        #expect(config.attentionHeadDim == [16, 16])
        #expect(config.timeEmbedDim == 96)
        #expect(config.classEmbedTimestep)
        #expect(config.resnetOutScaleFactor == Float(1.4142271248762552))
    }
}
