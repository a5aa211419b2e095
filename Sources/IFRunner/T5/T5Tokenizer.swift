import Foundation

/// The prompt tokenizer of DeepFloyd IF: what `IFPipeline.encode_prompt` gets from transformers'
/// `T5Tokenizer` (transformers 5.24, tokenizers backend) with `max_length=77`,
/// `padding="max_length"`, `truncation=True`, `add_special_tokens=True`, after `text.lower().strip()`.
///
/// transformers first splits the text at its added special tokens (`<pad>`, `</s>`, `<unk>`,
/// `<extra_id_0>`...`<extra_id_N>`, matched verbatim, longest first), encodes each piece of plain
/// text with the sentencepiece model (which normalizes, collapses whitespace and prefixes "▁"),
/// truncates to 76 ids, appends `</s>`, and pads with `<pad>` (mask 0) to 77.
public struct T5Tokenizer: Sendable {
    public let processor: SentencePieceProcessor
    /// Sequence length IF's pipelines hard-code ("the text encoder was trained with a max length of 77").
    public static let ifMaxLength = 77
    public let maxLength: Int
    /// Added special tokens and their ids, longest first.
    let specialTokens: [(text: [UInt8], id: Int)]
    public let padID: Int
    public let eosID: Int

    /// `extraIDCount` extra ids (T5's default 100) take ids `vocab + extraIDCount - 1 - n` for
    /// `<extra_id_n>`, past the sentencepiece vocabulary, as T5Tokenizer assigns them.
    public init(modelBytes: [UInt8], extraIDCount: Int = 100, maxLength: Int = T5Tokenizer.ifMaxLength) throws(RunnerError) {
        processor = try SentencePieceProcessor(modelBytes: modelBytes)
        guard maxLength >= 1 else { throw .badConfig("tokenizer max length \(maxLength) must be at least 1") }
        self.maxLength = maxLength
        let size = processor.vocabularySize
        padID = processor.padID >= 0 ? processor.padID : 0
        eosID = processor.eosID >= 0 ? processor.eosID : 1
        var tokens: [(text: [UInt8], id: Int)] = []
        for (text, id) in [("<pad>", padID), ("</s>", eosID), ("<unk>", processor.unknownID)] where id >= 0 {
            tokens.append((Array(text.utf8), id))
        }
        for n in 0..<extraIDCount { tokens.append((Array("<extra_id_\(n)>".utf8), size + extraIDCount - 1 - n)) }
        specialTokens = tokens.sorted { $0.text.count > $1.text.count }
    }

    public init(contentsOf path: String, extraIDCount: Int = 100) throws(RunnerError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .io(.io(path: path, message: "cannot read the sentencepiece model"))
        }
        try self.init(modelBytes: [UInt8](data), extraIDCount: extraIDCount)
    }

    public struct Encoding: Sendable, Equatable {
        /// `maxLength` ids.
        public let inputIDs: [Int]
        /// 1 for real tokens (including `</s>`), 0 for padding.
        public let attentionMask: [Int]
    }

    /// IF's text preprocessing without caption cleaning: Python's `str.lower()` then `str.strip()`.
    public static func preprocess(_ prompt: String) -> String {
        let lowered = prompt.lowercased()
        let scalars = Array(lowered.unicodeScalars)
        guard let first = scalars.firstIndex(where: { !isPythonWhitespace($0) }),
              let last = scalars.lastIndex(where: { !isPythonWhitespace($0) }) else { return "" }
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars[first...last])
        return String(result)
    }

    /// Python's `str.isspace()` set (White_Space plus the ASCII separators 0x1C-0x1F).
    static func isPythonWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }

    /// Ids of already-preprocessed text, without `</s>`, padding or truncation.
    public func tokenize(_ text: String) throws(RunnerError) -> [Int] {
        var ids: [Int] = []
        let bytes = Array(text.utf8)
        var segmentStart = 0, i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "<"), let match = specialTokens.first(where: { token in
                i + token.text.count <= bytes.count && bytes[i..<(i + token.text.count)].elementsEqual(token.text)
            }) {
                ids += try processor.encode(String(decoding: bytes[segmentStart..<i], as: UTF8.self))
                ids.append(match.id)
                i += match.text.count
                segmentStart = i
            } else {
                i += 1
            }
        }
        ids += try processor.encode(String(decoding: bytes[segmentStart...], as: UTF8.self))
        return ids
    }

    /// One prompt as IF encodes it.
    public func encode(_ prompt: String) throws(RunnerError) -> Encoding {
        var ids = try tokenize(Self.preprocess(prompt))
        if ids.count > maxLength - 1 { ids.removeLast(ids.count - (maxLength - 1)) }
        ids.append(eosID)
        let real = ids.count
        ids += [Int](repeating: padID, count: maxLength - real)
        return Encoding(inputIDs: ids, attentionMask: (0..<maxLength).map { $0 < real ? 1 : 0 })
    }
}
