import CCrypto

/// Streaming SHA-256 (FIPS 180-4) for source-file provenance, through OpenSSL's libcrypto, whose
/// assembly paths (SHA extensions, AVX2) hash several times faster than portable code: provenance
/// hashing of a 10 GB shard runs beside the copy instead of bounding it. `PortableSHA256` below is
/// the definition tests compare it against (and both against the FIPS vectors).
public struct SHA256: Sendable {
    private var context: DigestContext

    public init() { context = DigestContext() }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        unshare()
        context.update(base, count: bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The 32-byte digest. The hasher should not be used afterwards.
    public mutating func finalize() -> [UInt8] {
        unshare()
        return context.finalize()
    }

    public static func hex(of bytes: [UInt8]) -> String {
        var hasher = SHA256()
        hasher.update(bytes)
        return Hex.string(hasher.finalize())
    }

    /// Value semantics: a copied hasher continues on its own copy of the context.
    private mutating func unshare() {
        if !isKnownUniquelyReferenced(&context) { context = context.copy() }
    }
}

/// Owns one `EVP_MD_CTX` set up for SHA-256.
private final class DigestContext: @unchecked Sendable {
    // SAFETY: used only through SHA256, which copies it before mutating when it is shared.
    private let handle: OpaquePointer

    init() {
        guard let ctx = EVP_MD_CTX_new(), EVP_DigestInit_ex(ctx, EVP_sha256(), nil) == 1 else {
            fatalError("libcrypto could not set up SHA-256")
        }
        handle = ctx
    }

    private init(copying other: OpaquePointer) {
        guard let ctx = EVP_MD_CTX_new(), EVP_MD_CTX_copy_ex(ctx, other) == 1 else {
            fatalError("libcrypto could not copy a SHA-256 context")
        }
        handle = ctx
    }

    deinit { EVP_MD_CTX_free(handle) }

    func copy() -> DigestContext { DigestContext(copying: handle) }

    func update(_ base: UnsafeRawPointer, count: Int) {
        guard EVP_DigestUpdate(handle, base, count) == 1 else { fatalError("libcrypto SHA-256 update failed") }
    }

    func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(handle, &digest, &length) == 1, length == 32 else { fatalError("libcrypto SHA-256 final failed") }
        return digest
    }
}

/// The portable definition of SHA-256 (the reference `SHA256` is tested against).
struct PortableSHA256 {
    private var state: [UInt32] = [
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
    ]
    private var pending: [UInt8] = []
    private var byteCount: UInt64 = 0

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        byteCount &+= UInt64(bytes.count)
        var rest = bytes
        if !pending.isEmpty {
            let take = min(64 - pending.count, rest.count)
            pending.append(contentsOf: rest[0..<take])
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            if pending.count == 64 {
                let block = pending
                block.withUnsafeBytes { compress($0, blocks: 1) }
                pending.removeAll(keepingCapacity: true)
            }
        }
        let whole = rest.count / 64
        if whole > 0 {
            compress(UnsafeRawBufferPointer(rebasing: rest[0..<(whole * 64)]), blocks: whole)
            rest = UnsafeRawBufferPointer(rebasing: rest[(whole * 64)...])
        }
        pending.append(contentsOf: rest)
    }

    mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    mutating func finalize() -> [UInt8] {
        let bitCount = byteCount &* 8
        var tail = pending
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8((bitCount >> UInt64(shift)) & 0xFF)) }
        tail.withUnsafeBytes { compress($0, blocks: tail.count / 64) }
        pending.removeAll()
        return state.flatMap { word in [UInt8(word >> 24), UInt8((word >> 16) & 0xFF), UInt8((word >> 8) & 0xFF), UInt8(word & 0xFF)] }
    }

    private mutating func compress(_ data: UnsafeRawBufferPointer, blocks: Int) {
        for block in 0..<blocks { Self.compressBlock(&state, UnsafeRawBufferPointer(rebasing: data[(block * 64)..<(block * 64 + 64)])) }
    }

    private static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }

    static func compressBlock(_ state: inout [UInt32], _ block: UnsafeRawBufferPointer) {
        var w = [UInt32](repeating: 0, count: 64)
        for t in 0..<16 { w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: t * 4, as: UInt32.self)) }
        for t in 16..<64 {
            let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
            let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
            w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
        }
        var a = state[0], b = state[1], c = state[2], d = state[3]
        var e = state[4], f = state[5], g = state[6], h = state[7]
        for t in 0..<64 {
            let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
            let ch = (e & f) ^ (~e & g)
            let t1 = h &+ s1 &+ ch &+ k[t] &+ w[t]
            let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
            let maj = (a & b) ^ (a & c) ^ (b & c)
            let t2 = s0 &+ maj
            h = g; g = f; f = e; e = d &+ t1
            d = c; c = b; b = a; a = t1 &+ t2
        }
        state[0] &+= a; state[1] &+= b; state[2] &+= c; state[3] &+= d
        state[4] &+= e; state[5] &+= f; state[6] &+= g; state[7] &+= h
    }
}
