import Foundation
import IFCore
@testable import IFRunner
import Testing

@Suite("T5 pieces")
struct T5PieceTests {
    /// transformers 5.24 `T5Attention._relative_position_bucket(arange(-200, 201), bidirectional=True,
    /// num_buckets, max_distance)`, printed by Python (golden numbers from the peer).
    static let bucketGoldens: [(Int, Int, String)] = [
        (32, 128, "15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,14,14,14,14,14,14,14,14,14,14,14,14,14,14,14,14,14,14,14,14,14,14,14,14,14,14,14,13,13,13,13,13,13,13,13,13,13,13,13,13,13,13,13,13,13,12,12,12,12,12,12,12,12,12,12,12,12,12,12,11,11,11,11,11,11,11,11,11,10,10,10,10,10,10,10,9,9,9,9,8,8,8,8,7,6,5,4,3,2,1,0,17,18,19,20,21,22,23,24,24,24,24,25,25,25,25,26,26,26,26,26,26,26,27,27,27,27,27,27,27,27,27,28,28,28,28,28,28,28,28,28,28,28,28,28,28,29,29,29,29,29,29,29,29,29,29,29,29,29,29,29,29,29,29,30,30,30,30,30,30,30,30,30,30,30,30,30,30,30,30,30,30,30,30,30,30,30,30,30,30,30,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31,31"),
        (16, 64, "7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,6,5,5,5,5,5,5,5,5,4,4,4,4,3,2,1,0,9,10,11,12,12,12,12,13,13,13,13,13,13,13,13,14,14,14,14,14,14,14,14,14,14,14,14,14,14,14,14,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15,15"),
    ]

    @Test func relativePositionBucketsMatchTransformers() {
        for (buckets, distance, text) in Self.bucketGoldens {
            let expected = text.split(separator: ",").map { Int($0)! }
            let computed = (-200...200).map { T5Encoder.relativePositionBucket($0, numBuckets: buckets, maxDistance: distance) }
            #expect(computed == expected, "buckets \(buckets), max distance \(distance)")
        }
    }

    @Test func configFromJSONMatchesShapes() throws {
        let folder = repositoryRoot().appendingPathComponent("fixtures/IF-I-tiny/text_encoder").path
        let model = try StageModel(path: folder)
        let data = try #require(try model.configJSON(for: .textEncoder))
        let config = try T5Config(configJSON: data)
        #expect(config.dModel == 64 && config.numHeads == 4 && config.dKV == 16 && config.dFF == 128 && config.numLayers == 2)
        #expect(config.denseActivation == "gelu_new" && config.isGated && config.layerNormEpsilon == 1e-6)
        let inferred = try T5Config.inferred(from: try model.weights(for: .textEncoder), base: config)
        #expect(inferred == config)
    }

    @Test func configDisagreeingWithWeightsIsRejected() throws {
        let folder = repositoryRoot().appendingPathComponent("fixtures/IF-I-tiny/text_encoder").path
        let model = try StageModel(path: folder)
        var config = try T5Config(configJSON: try #require(try model.configJSON(for: .textEncoder)))
        config.numHeads = 8
        #expect(throws: RunnerError.self) { try T5Encoder(weights: try model.weights(for: .textEncoder), config: config) }
    }

    @Test func feedForwardProjectionDecidesActivation() throws {
        let gated = try T5Config(configJSON: Data(#"{"vocab_size":10,"d_model":4,"d_kv":2,"d_ff":8,"num_heads":2,"num_layers":1,"feed_forward_proj":"gated-gelu","dense_act_fn":"relu"}"#.utf8))
        #expect(gated.denseActivation == "gelu_new" && gated.isGated)
        let plain = try T5Config(configJSON: Data(#"{"vocab_size":10,"d_model":4,"d_kv":2,"d_ff":8,"num_heads":2,"num_layers":1}"#.utf8))
        #expect(plain.denseActivation == "relu" && !plain.isGated)
        #expect(throws: RunnerError.self) { try T5Config(configJSON: Data(#"{"d_model":4}"#.utf8)) }
    }

    @Test func encoderRejectsOutOfVocabularyIDs() throws {
        let folder = repositoryRoot().appendingPathComponent("fixtures/IF-I-tiny").path
        let encoder = try T5Encoder(weights: try StageModel(path: folder).weights(for: .textEncoder))
        #expect(throws: RunnerError.self) { try encoder.encode(inputIDs: [1, 600], attentionMask: [1, 1], batch: 1, length: 2) }
        #expect(throws: RunnerError.self) { try encoder.encode(inputIDs: [1, 2], attentionMask: [1], batch: 1, length: 2) }
    }

    /// Python's str.strip() whitespace set, including the separators 0x1C-0x1F that Swift's
    /// CharacterSet.whitespacesAndNewlines lacks; zero-width space is not whitespace.
    @Test func preprocessLowercasesAndStripsLikePython() {
        #expect(T5Tokenizer.preprocess("  A Photo\u{1C}\u{3000}") == "a photo")
        #expect(T5Tokenizer.preprocess("\u{200B}X ") == "\u{200B}x")
        #expect(T5Tokenizer.preprocess(" \t\n ") == "")
    }
}
