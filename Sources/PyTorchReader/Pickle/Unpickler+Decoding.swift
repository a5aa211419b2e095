/// Decoding of the scalar opcodes' arguments (integers, floats' text, strings), split from the
/// opcode loop in Unpickler.swift.
extension Unpickler {
    // MARK: Scalar decoding

    func littleEndianInteger(_ raw: Slice<UnsafeRawBufferPointer>) throws(TensorIOError) -> PickleValue {
        guard !raw.isEmpty else { return .int(0) }
        guard raw.count <= 8 else { return .bigInt(Array(raw)) }
        var value: UInt64 = 0
        for (shift, byte) in raw.enumerated() { value |= UInt64(byte) << (8 * UInt64(shift)) }
        let bits = raw.count * 8
        if bits < 64, raw.last! & 0x80 != 0 { value |= ~0 << UInt64(bits) }
        return .int(Int(Int64(bitPattern: value)))
    }

    func textInteger(_ text: String, allowBool: Bool) throws(TensorIOError) -> PickleValue {
        if allowBool, text == "00" { return .bool(false) }
        if allowBool, text == "01" { return .bool(true) }
        let digits = text.hasSuffix("L") ? String(text.dropLast()) : text
        if let value = Int(digits) { return .int(value) }
        guard !digits.isEmpty, digits.drop(while: { $0 == "-" }).allSatisfy(\.isNumber) else {
            throw failure("'\(text.debugDescriptionTrimmed)' is not an integer")
        }
        return .bigInt(Array(digits.utf8))
    }

    func textIndex(_ text: String) throws(TensorIOError) -> Int {
        guard let value = Int(text), value >= 0 else { throw failure("'\(text.debugDescriptionTrimmed)' is not a memo index") }
        return value
    }

    func utf8(_ raw: Slice<UnsafeRawBufferPointer>) throws(TensorIOError) -> String {
        guard let text = String(validating: raw, as: UTF8.self) else { throw failure("string is not valid UTF-8") }
        return text
    }

    /// STRING (protocol 0): a Python repr with quotes; escapes other than `\\` and quotes are kept.
    func quotedString(_ text: String) throws(TensorIOError) -> String {
        guard text.count >= 2, let quote = text.first, quote == "'" || quote == "\"", text.last == quote else {
            throw failure("STRING argument must be quoted")
        }
        return String(text.dropFirst().dropLast())
            .replacingAll("\\\\", with: "\\").replacingAll("\\'", with: "'")
    }

    /// UNICODE (protocol 0): raw-unicode-escape, i.e. Latin-1 bytes plus `\uXXXX` and `\UXXXXXXXX`.
    func rawUnicodeEscapeDecoded(_ raw: Slice<UnsafeRawBufferPointer>) -> String {
        var scalars = String.UnicodeScalarView()
        var input = raw.map { Unicode.Scalar($0) }[...]
        while let scalar = input.popFirst() {
            if scalar == "\\", let marker = input.first, marker == "u" || marker == "U" {
                let width = marker == "u" ? 4 : 8
                let digits = input.dropFirst().prefix(width)
                if digits.count == width, let code = UInt32(String(String.UnicodeScalarView(digits)), radix: 16),
                   let decoded = Unicode.Scalar(code) {
                    scalars.append(decoded)
                    input = input.dropFirst(1 + width)
                    continue
                }
            }
            scalars.append(scalar)
        }
        return String(scalars)
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
