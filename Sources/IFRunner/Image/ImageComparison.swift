import Foundation

/// Pictures of an image output: reference | ours | amplified |difference| heat map, side by side,
/// one row per sample, plus PSNR. Images are `[batch, 3, height, width]` in [-1, 1] (IF's sample
/// space) and map to pixels as diffusers does: `round(clamp(x / 2 + 0.5, 0, 1) * 255)`.
public struct ImageComparison: Sendable, Codable {
    public let name: String
    /// PSNR in dB of ours vs the reference over the [0, 1] images (before 8-bit rounding); nil when identical.
    public let psnr: Double?
    /// PSNR in dB over the 8-bit pixels a user would see; nil when identical.
    public let psnr8Bit: Double?
    /// Largest |ours - reference| in [0, 1] pixel units.
    public let maxAbsPixelError: Double
    /// Factor the heat map multiplies |difference| by (full scale = the largest difference).
    public let heatMapGain: Double
    /// The PNG written, if any.
    public let pngPath: String?

    enum CodingKeys: String, CodingKey {
        case name, psnr = "psnr_db", psnr8Bit = "psnr_8bit_db", maxAbsPixelError = "max_abs_pixel_error"
        case heatMapGain = "heat_map_gain", pngPath = "png"
    }

    /// Whether a tensor of this shape is an image output (`[B, 3, H, W]`).
    /// diffusers' mapping of an image value in [-1, 1] to [0, 1]: `clamp(x / 2 + 0.5, 0, 1)`.
    static func unitInterval(_ v: Float) -> Double { min(max(Double(v) / 2 + 0.5, 0), 1) }
    /// ... and to an 8-bit pixel: `round(unitInterval(x) * 255)`.
    static func pixelByte(_ v: Float) -> UInt8 { UInt8((unitInterval(v) * 255).rounded()) }

    public static func isImage(shape: [Int]) -> Bool { shape.count == 4 && shape[1] == 3 && shape[2] > 0 && shape[3] > 0 }

    /// Compares and, when `directory` is given, writes `<directory>/<file>.png`.
    public init(name: String, shape: [Int], reference: [Float], ours: [Float], directory: String?, file: String) throws {
        precondition(Self.isImage(shape: shape) && reference.count == ours.count && ours.count == shape.reduce(1, *))
        let (batch, height, width) = (shape[0], shape[2], shape[3])
        let unit = Self.unitInterval, byte = Self.pixelByte
        var squares = 0.0, squares8 = 0.0, maxDiff = 0.0
        for i in reference.indices {
            let d = unit(ours[i]) - unit(reference[i])
            squares += d * d
            maxDiff = max(maxDiff, abs(d))
            let d8 = Double(byte(ours[i])) - Double(byte(reference[i]))
            squares8 += d8 * d8
        }
        let n = Double(reference.count)
        self.name = name
        psnr = squares > 0 ? 10 * log10(1 / (squares / n)) : nil
        psnr8Bit = squares8 > 0 ? 10 * log10(255 * 255 / (squares8 / n)) : nil
        maxAbsPixelError = maxDiff
        heatMapGain = maxDiff > 0 ? 1 / maxDiff : 1
        guard let directory else { pngPath = nil; return }

        // Canvas: 3 panels per row with a 2-pixel gap; rows = samples. Small images are enlarged
        // (nearest neighbour) to at least 128 pixels so single pixels stay visible.
        let zoom = max(1, 128 / max(height, width))
        let gap = 2, panelWidth = width * zoom, panelHeight = height * zoom, canvasWidth = 3 * panelWidth + 2 * gap
        let canvasHeight = batch * panelHeight + (batch - 1) * gap
        var rgb = [UInt8](repeating: 40, count: canvasWidth * canvasHeight * 3)
        let plane = height * width
        for b in 0..<batch {
            for py in 0..<panelHeight {
                let y = py / zoom, top = b * (panelHeight + gap) + py
                for px in 0..<panelWidth {
                    let x = px / zoom
                    var diff = 0.0
                    for c in 0..<3 {
                        let i = (b * 3 + c) * plane + y * width + x
                        rgb[(top * canvasWidth + px) * 3 + c] = byte(reference[i])
                        rgb[(top * canvasWidth + panelWidth + gap + px) * 3 + c] = byte(ours[i])
                        diff = max(diff, abs(unit(ours[i]) - unit(reference[i])))
                    }
                    let heat = Self.heatColor(min(1, diff * heatMapGain))
                    let p = (top * canvasWidth + 2 * (panelWidth + gap) + px) * 3
                    rgb[p] = heat.0; rgb[p + 1] = heat.1; rgb[p + 2] = heat.2
                }
            }
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw RunnerError.io(.io(path: directory, message: "cannot create the image folder: \(error.localizedDescription)"))
        }
        let path = (directory as NSString).appendingPathComponent(file + ".png")
        try PNGWriter.write(rgb: rgb, width: canvasWidth, height: canvasHeight, to: path)
        pngPath = path
    }

    /// Black -> red -> yellow -> white as `t` goes 0 -> 1.
    static func heatColor(_ t: Double) -> (UInt8, UInt8, UInt8) {
        let r = min(1, 3 * t), g = min(1, max(0, 3 * t - 1)), b = min(1, max(0, 3 * t - 2))
        return (UInt8((r * 255).rounded()), UInt8((g * 255).rounded()), UInt8((b * 255).rounded()))
    }
}
