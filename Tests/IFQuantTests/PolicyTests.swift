import Testing
import IFCore
@testable import IFQuant

@Suite("Quantization policy and memory estimates")
struct PolicyTests {
    /// Names and shapes of the real IF-I-XL / T5-XXL checkpoints (IF-FACTS 3.2, 5).
    @Test(arguments: [
        ("conv_in.weight", [704, 3, 3, 3], "keep", "conv_in"),
        ("conv_out.weight", [6, 704, 3, 3], "keep", "conv_out"),
        ("conv_in.bias", [704], "keep", "1-D"),
        ("down_blocks.1.attentions.0.to_q.weight", [1408, 1408], "q8_0", "Linear"),
        ("down_blocks.1.resnets.0.conv1.weight", [1408, 1408, 3, 3], "q8_0", "Conv"),
        ("down_blocks.0.resnets.0.norm1.weight", [704], "keep", "1-D"),
        ("add_embedding.pool.positional_embedding", [77, 4096], "keep", "positional"),
        ("encoder_hid_proj.weight", [2816, 4096], "q8_0", "Linear"),
        ("shared.weight", [32128, 4096], "keep", "embedding"),
        ("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", [32, 64], "keep", "relative-attention"),
        ("encoder.block.3.layer.1.DenseReluDense.wo.weight", [4096, 10240], "keep", "wo"),
        ("encoder.block.3.layer.1.DenseReluDense.wi_0.weight", [10240, 4096], "q8_0", "Linear"),
        ("down_blocks.0.resnets.0.time_emb_proj.weight", [1408, 2816], "q8_0", "Linear"),
    ] as [(String, [Int], String, String)])
    func defaultDecisions(name: String, shape: [Int], expected: String, ruleMentions: String) {
        let d = QuantPolicy(scheme: .q8_0).decide(name: name, shape: shape, sourceType: .f16)
        #expect(d.target.description == expected)
        #expect(d.rule.contains(ruleMentions), "\(d.rule)")
    }

    @Test func rowsThatDoNotFitFallBackWithAReason() {
        // [out, in*kh*kw] = [192, 1728]: not a multiple of 256, a multiple of 32.
        let conv = QuantPolicy(scheme: .q4_k).decide(name: "down_blocks.0.resnets.0.conv1.weight", shape: [192, 192, 3, 3], sourceType: .f16)
        #expect(conv.target == .quantized(.q4_0))
        #expect(conv.fallback?.contains("1728") == true)
        let odd = QuantPolicy(scheme: .q8_0).decide(name: "x.proj.weight", shape: [8, 27], sourceType: .f32)
        #expect(odd.target == .keep && odd.storageType == .f32)
        #expect(odd.fallback?.contains("27") == true)
        let int8 = QuantPolicy(scheme: .int8).decide(name: "x.proj.weight", shape: [8, 27], sourceType: .f32)
        #expect(int8.target == .quantized(.int8) && int8.fallback == nil)
    }

    @Test func userRulesComeFirstAndTheFirstMatchWins() throws {
        let rules = try ["DenseReluDense\\.wo\\.weight$=q8_0", "attentions=q4_k", "to_q=f16", "conv_in=int8"].map(QuantRule.init(parsing:))
        let policy = QuantPolicy(scheme: .q4_0, rules: rules)
        let wo = policy.decide(name: "encoder.block.0.layer.1.DenseReluDense.wo.weight", shape: [4096, 10240], sourceType: .f32)
        #expect(wo.target == .quantized(.q8_0))
        #expect(wo.rule == "--rule 'DenseReluDense\\.wo\\.weight$=q8_0'")
        let q = policy.decide(name: "mid_block.attentions.0.to_q.weight", shape: [768, 768], sourceType: .f16)
        #expect(q.target == .quantized(.q4_k))     // "attentions" matched first
        let convIn = policy.decide(name: "conv_in.weight", shape: [192, 3, 3, 3], sourceType: .f16)
        #expect(convIn.target == .quantized(.int8))
        let cast = policy.decide(name: "down_blocks.0.to_q.weight", shape: [64, 64], sourceType: .f32)
        #expect(cast.target == .f16 && cast.storageType == .f16)
    }

    @Test(arguments: ["noequals", "x=q5_1", "=q8_0", "(unclosed=f16"])
    func malformedRulesAreRejected(text: String) {
        #expect(throws: QuantError.self) { _ = try QuantRule(parsing: text) }
    }

    /// The generated stage lists reproduce IF-FACTS' parameter counts and published byte sizes.
    @Test func publishedStagesMatchKnownSizes() {
        let estimates = Dictionary(uniqueKeysWithValues: PublishedStages.estimates().map { ($0.component, $0) })
        #expect(estimates["IF-I-XL"]?.parameterCount == 4_304_695_110)
        #expect(estimates["IF-II-L"]?.parameterCount == 1_243_277_190)
        #expect(estimates["IF-I-M (stand-in)"]?.parameterCount == 371_605_830)
        #expect(estimates["T5-v1.1-XXL"]?.parameterCount == 4_762_310_656)
        #expect(estimates["T5-v1.1-XXL"]?.variants.first?.weightBytes == 11_537_887_232)   // fp16 + fp32 wo
        for e in estimates.values {
            let bytes = Dictionary(uniqueKeysWithValues: e.variants.map { ($0.name, $0.weightBytes) })
            #expect(bytes["q8_0"]! < bytes["float"]!)
            #expect(bytes["q4_0"]! < bytes["q8_0"]!)
            #expect(e.activationBytes > 0)
        }
    }
}
