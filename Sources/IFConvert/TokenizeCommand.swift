import ArgumentParser
import Foundation
import IFRunner

/// `ifconvert tokenize MODEL PROMPT...`: the 77 token ids IF's T5 tokenizer gives each prompt.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the T5 token ids DeepFloyd IF feeds its text encoder (lower-cased, </s>, padded to 77).")

    @Argument(help: "Pack, snapshot folder, or tokenizer folder holding spiece.model.")
    var model: String

    @Argument(help: "Prompts (each tokenized separately).")
    var prompts: [String]

    @Flag(name: .long, help: "Also print the attention mask; with --json, an object per prompt.")
    var mask = false

    @Flag(name: .long, help: "Print JSON: [{\"prompt\", \"input_ids\", \"attention_mask\"}].")
    var json = false

    func run() throws {
        let encodings = try Console.exitingOnError("tokenize") {
            let tokenizer = try StageModel(path: model).tokenizer()
            return try prompts.map { try tokenizer.encode($0) }
        }
        if json {
            let objects = zip(prompts, encodings).map { prompt, encoding in
                ["prompt": prompt, "input_ids": encoding.inputIDs, "attention_mask": encoding.attentionMask] as [String: Any]
            }
            let data = try JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        for encoding in encodings {
            print(encoding.inputIDs.map(String.init).joined(separator: " "))
            if mask { print(encoding.attentionMask.map(String.init).joined(separator: " ")) }
        }
    }
}
