import ArgumentParser
import Foundation
import IFRunner

/// `ifconvert generate --stage1 PACK --text-encoder PACK [--stage2 PACK] --prompt TEXT -o out.png`:
/// a prompt through IF's stages on the CPU (for looking at what a pack does; slow with real weights).
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate an image from a prompt with IF stage I (and optionally stage II) packs or snapshots.",
        discussion: """
            Runs T5 on the prompt and the empty negative prompt, then the stage I DDPM loop (and stage II's, \
            upscaling stage I's image) as diffusers' IFPipeline does, and writes the final image as PNG. Noise \
            comes from ifconvert's own seeded generator, so the image differs from diffusers' for the same seed.
            """)

    @Option(name: .customLong("stage1"), help: "Stage I UNet: pack, snapshot folder or unet/ folder.")
    var stageI: String

    @Option(name: .customLong("stage2"), help: "Stage II UNet (optional): pack, snapshot folder or unet/ folder.")
    var stageII: String?

    @Option(name: .customLong("text-encoder"), help: "T5 text encoder (with tokenizer): pack or snapshot folder.")
    var textEncoder: String

    @Option(name: .long, help: "The prompt.")
    var prompt: String

    @Option(name: .customLong("negative-prompt"), help: "Negative prompt (default: empty).")
    var negativePrompt = ""

    @Option(name: .long, help: "Stage I steps (leading spacing).")
    var steps = 100

    @Option(name: .customLong("stage2-steps"), help: "Stage II steps.")
    var stageIISteps = 50

    @Option(name: .long, help: "Stage I guidance scale.")
    var guidance: Float = 7

    @Option(name: .customLong("stage2-guidance"), help: "Stage II guidance scale.")
    var stageIIGuidance: Float = 4

    @Option(name: .long, help: "Seed of the noise generator.")
    var seed: UInt64 = 0

    @Option(name: [.short, .long], help: "Output PNG path.")
    var output: String

    @Option(name: .long, help: "Weight-file variant to read from snapshot folders (e.g. fp16).")
    var variant: String?

    func validate() throws {
        guard steps > 0, stageIISteps > 0 else { throw ValidationError("step counts must be positive") }
    }

    func run() throws {
        try Console.exitingOnError("generate") {
            func model(_ path: String) throws -> StageModel { try StageModel(path: path, variant: variant, fallbackToAnyVariant: variant == nil) }
            var options = TextToImage.Options(prompt: prompt)
            options.negativePrompt = negativePrompt
            options.stageISteps = steps
            options.stageIISteps = stageIISteps
            options.stageIGuidance = guidance
            options.stageIIGuidance = stageIIGuidance
            options.seed = seed
            let result = try TextToImage.generate(textEncoder: try model(textEncoder), stageI: try model(stageI),
                                                  stageII: try stageII.map(model), options: options) { message in
                Console.error("\(message)\n")
            }
            try TextToImage.writePNG(result.image, size: result.size, to: output)
            print(output)
        }
    }
}
