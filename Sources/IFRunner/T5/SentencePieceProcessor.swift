import CSentencePiece
import Foundation

/// Owns one sentencepiece processor (through the extern "C" shim) and frees it in deinit. The only
/// Swift file that imports CSentencePiece.
public final class SentencePieceProcessor: @unchecked Sendable {
    // SAFETY: after loading, the processor is only read (Encode/IdToPiece are const in
    // sentencepiece), and calls are serialized by `lock` anyway, so sharing across threads is safe.
    private let handle: OpaquePointer
    private let lock = NSLock()

    /// Loads a serialized model (the bytes of `spiece.model`).
    public init(modelBytes: [UInt8]) throws(RunnerError) {
        let loaded = modelBytes.withUnsafeBytes { csp_load_from_bytes($0.baseAddress, $0.count) }
        guard let loaded else { throw .badConfig("sentencepiece model: \(String(cString: csp_last_error()))") }
        handle = loaded
    }

    deinit { csp_free(handle) }

    /// Piece ids of `text` exactly as sentencepiece's `Encode` gives them (normalization, dummy prefix).
    public func encode(_ text: String) throws(RunnerError) -> [Int] {
        lock.lock(); defer { lock.unlock() }
        let utf8 = Array(text.utf8)
        var capacity = max(16, utf8.count * 2 + 8)
        while true {
            var ids = [Int32](repeating: 0, count: capacity)
            var count = 0
            let status = utf8.withUnsafeBufferPointer { textBuffer in
                ids.withUnsafeMutableBufferPointer { idBuffer in
                    textBuffer.withMemoryRebound(to: CChar.self) { chars in
                        csp_encode(handle, chars.baseAddress, chars.count, idBuffer.baseAddress, capacity, &count)
                    }
                }
            }
            guard status == 0 else { throw .badConfig("sentencepiece encode: \(String(cString: csp_last_error()))") }
            if count <= capacity { return ids[0..<count].map(Int.init) }
            capacity = count  // retry with the exact size
        }
    }

    public var vocabularySize: Int { Int(csp_vocab_size(handle)) }
    public var eosID: Int { Int(csp_eos_id(handle)) }
    public var padID: Int { Int(csp_pad_id(handle)) }
    public var unknownID: Int { Int(csp_unk_id(handle)) }

    /// The piece string of `id` (e.g. "▁cat"), or nil when out of range.
    public func piece(of id: Int) -> String? {
        lock.lock(); defer { lock.unlock() }
        guard let id32 = Int32(exactly: id) else { return nil }
        let length = csp_id_to_piece(handle, id32, nil, 0)
        guard length >= 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(length) + 1)
        _ = csp_id_to_piece(handle, id32, &buffer, buffer.count)
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The id of piece `piece`, or the unknown id when absent (sentencepiece's PieceToId).
    public func id(of piece: String) -> Int {
        lock.lock(); defer { lock.unlock() }
        return Int(csp_piece_to_id(handle, piece))
    }
}
