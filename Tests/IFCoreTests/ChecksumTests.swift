import Testing
@testable import IFCore

@Suite("CRC32C and SHA-256")
struct ChecksumTests {
    /// Known answers: RFC 3720 (iSCSI) check value and vectors of 32 zero / 32 0xFF bytes.
    @Test(arguments: [
        (Array("123456789".utf8), UInt32(0xE306_9283)),
        ([UInt8](repeating: 0, count: 32), UInt32(0x8A91_36AA)),
        ([UInt8](repeating: 0xFF, count: 32), UInt32(0x62A8_AB43)),
        ([UInt8](), UInt32(0)),
    ])
    func crcKnownVectors(input: [UInt8], expected: UInt32) {
        input.withUnsafeBytes { raw in
            #expect(CRC32C.reference(raw) == expected)
            #expect(CRC32C.portable(raw) == expected)
            #expect(CRC32C.checksum(raw) == expected)
        }
    }

    /// The hardware and slicing-by-8 paths equal the bitwise definition for every length and
    /// misalignment up to a few blocks, and chaining equals one pass.
    @Test func crcPathsAgree() {
        let bytes = pseudoRandomBytes(300, seed: 7)
        bytes.withUnsafeBytes { all in
            for start in 0..<9 {
                for end in stride(from: start, through: all.count, by: 7) {
                    let part = UnsafeRawBufferPointer(rebasing: all[start..<end])
                    let reference = CRC32C.reference(part)
                    #expect(CRC32C.portable(part) == reference)
                    #expect(CRC32C.checksum(part) == reference)
                }
            }
            let split = 123
            let chained = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: all[split...]),
                                          continuing: CRC32C.checksum(UnsafeRawBufferPointer(rebasing: all[..<split])))
            #expect(chained == CRC32C.reference(all))
        }
    }

    /// FIPS 180-4 examples plus the empty string and a million 'a'.
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func sha256KnownVectors(input: String, expected: String) {
        var hasher = SHA256()
        hasher.update(Array(input.utf8))
        #expect(Hex.string(hasher.finalize()) == expected)
        var portable = PortableSHA256()
        portable.update(Array(input.utf8))
        #expect(Hex.string(portable.finalize()) == expected)
    }

    @Test func sha256MillionA() {
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        var hasher = SHA256()
        var portable = PortableSHA256()
        for _ in 0..<1000 { hasher.update(chunk); portable.update(chunk) }
        #expect(Hex.string(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        #expect(Hex.string(portable.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// libcrypto's path equals the portable definition for odd split points and lengths.
    @Test func sha256PathsAgree() {
        let bytes = pseudoRandomBytes(1000, seed: 3)
        for length in [0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 500, 1000] {
            var portable = PortableSHA256()
            var fast = SHA256()
            portable.update(Array(bytes[0..<length]))
            fast.update(Array(bytes[0..<(length / 3)]))
            fast.update(Array(bytes[(length / 3)..<length]))
            #expect(portable.finalize() == fast.finalize(), "length \(length)")
        }
    }

    /// A copied hasher is a value: it goes on from the shared prefix without touching the original.
    @Test func sha256CopiesAreIndependent() {
        var first = SHA256()
        first.update(Array("ab".utf8))
        var second = first
        second.update(Array("c".utf8))
        first.update(Array("d".utf8))
        #expect(Hex.string(second.finalize()) == SHA256.hex(of: Array("abc".utf8)))
        #expect(Hex.string(first.finalize()) == SHA256.hex(of: Array("abd".utf8)))
        #expect(SHA256.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
