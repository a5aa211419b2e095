import Foundation
import Testing
@testable import IFRunner

@Suite("PNG writer")
struct PNGWriterTests {
    @Test func checksumsMatchKnownAnswers() {
        #expect(PNGWriter.crc32(Array("123456789".utf8)) == 0xCBF4_3926)  // CRC-32 check value
        #expect(PNGWriter.adler32(Array("Wikipedia".utf8)) == 0x11E6_0398)  // RFC 1950 example value
        #expect(PNGWriter.adler32([UInt8](repeating: 255, count: 100_000)) == Self.slowAdler([UInt8](repeating: 255, count: 100_000)))
    }

    static func slowAdler(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt64 = 1, b: UInt64 = 0
        for x in bytes { a = (a + UInt64(x)) % 65521; b = (b + a) % 65521 }
        return UInt32(b << 16 | a)
    }

    @Test(arguments: [(1, 1), (3, 2), (200, 150)])
    func storedBlocksCarryTheScanlines(width: Int, height: Int) {
        let rgb = (0..<(width * height * 3)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let png = PNGWriter.encode(rgb: rgb, width: width, height: height)
        #expect(Array(png[12..<16]) == Array("IHDR".utf8))
        // Walk the chunks, check each CRC, and undo the stored deflate blocks.
        var offset = 8
        var idat: [UInt8] = []
        var types: [String] = []
        while offset < png.count {
            let length = Int(png[offset]) << 24 | Int(png[offset + 1]) << 16 | Int(png[offset + 2]) << 8 | Int(png[offset + 3])
            let typeAndBody = Array(png[(offset + 4)..<(offset + 8 + length)])
            let crc = png[(offset + 8 + length)..<(offset + 12 + length)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            #expect(crc == PNGWriter.crc32(typeAndBody))
            let type = String(decoding: typeAndBody.prefix(4), as: UTF8.self)
            types.append(type)
            if type == "IDAT" { idat += typeAndBody.dropFirst(4) }
            offset += 12 + length
        }
        #expect(types == ["IHDR", "IDAT", "IEND"])
        #expect((UInt16(idat[0]) << 8 | UInt16(idat[1])) % 31 == 0)
        var raw: [UInt8] = []
        var p = 2
        while true {
            let final = idat[p] & 1
            let len = Int(idat[p + 1]) | Int(idat[p + 2]) << 8
            #expect(len == Int(~(UInt16(idat[p + 3]) | UInt16(idat[p + 4]) << 8)))
            raw += idat[(p + 5)..<(p + 5 + len)]
            p += 5 + len
            if final == 1 { break }
        }
        #expect(Array(idat[p..<(p + 4)]) == PNGWriter.bigEndian(PNGWriter.adler32(raw)))
        var expected: [UInt8] = []
        for y in 0..<height { expected.append(0); expected += rgb[(y * width * 3)..<((y + 1) * width * 3)] }
        #expect(raw == expected)
    }

    @Test func comparisonImageMarksTheDifference() throws {
        let shape = [1, 3, 4, 4]
        let reference = [Float](repeating: 0, count: 48)
        var ours = reference
        ours[5] = 0.5  // one pixel of channel 0 differs by 0.25 in [0, 1] units
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ifconvert-png-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let c = try ImageComparison(name: "out.image", shape: shape, reference: reference, ours: ours, directory: directory, file: "t")
        #expect(abs(c.maxAbsPixelError - 0.25) < 1e-9)
        #expect(abs(c.psnr! - 10 * log10(1 / (0.0625 / 48))) < 1e-9)
        #expect(FileManager.default.fileExists(atPath: c.pngPath!))
        let same = try ImageComparison(name: "x", shape: shape, reference: reference, ours: reference, directory: nil, file: "t")
        #expect(same.psnr == nil && same.pngPath == nil)
    }
}
