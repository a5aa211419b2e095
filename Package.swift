// swift-tools-version: 6.0
// ifconvert: DeepFloyd IF checkpoints -> GGUF packs (fp16 / int8 / 4-bit), with a CPU reference runner.
//
// Dependency direction (never the other way round):
//   IFConvert -> {IFQuant, IFRunner} -> IFCore -> {SafetensorsReader, PyTorchReader} -> MappedTensors
// C libraries are wrapped by `C`-prefixed modules, each imported by one Swift folder only.
import PackageDescription

let package = Package(
    name: "ifconvert",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ifconvert", targets: ["IFConvert"]),
        .library(name: "IFCore", targets: ["IFCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // MARK: C libraries (found with pkg-config; apt names in `providers`)
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSentencePieceLib", pkgConfig: "sentencepiece",
                       providers: [.apt(["libsentencepiece-dev"])]),
        // extern "C" shim over sentencepiece's C++ API: one exception boundary, thread-local last error.
        .target(name: "CSentencePiece", dependencies: ["CSentencePieceLib"]),
        // fp16/bf16 <-> fp32 bulk conversion with F16C/AVX2 (runtime-dispatched, no unsafeFlags).
        .target(name: "CHalfConvert"),
        // CRC32C (SSE4.2) hardware path for the pack's per-tensor checksums.
        .target(name: "CChecksum"),
        // q8_0 / int8-rowwise quantizing kernels with AVX2/F16C (runtime-dispatched), bit-exact with IFQuant's reference.
        .target(name: "CQuantKernels"),
        // Y = X Wᵀ from fp16/bf16 weight rows with AVX-512 or AVX2 micro-kernels (runtime-dispatched).
        .target(name: "CWeightGemm"),

        // MARK: Swift modules
        // Memory mapping, byte views, dtypes, checked little-endian decoding: what every reader shares.
        .target(name: "MappedTensors", dependencies: ["CHalfConvert"]),
        .target(name: "SafetensorsReader", dependencies: ["MappedTensors"]),
        .target(name: "PyTorchReader", dependencies: ["MappedTensors", "CZlib"]),
        // Snapshot discovery, the GGUF pack (write/read/check), tensor types and their dequantization.
        .target(name: "IFCore", dependencies: ["MappedTensors", "SafetensorsReader", "PyTorchReader", "CZstd", "CChecksum", "CCrypto"]),
        // CPU reference runner: kernels (OpenBLAS), T5 encoder + tokenizer, IF UNets, DDPM loops, verify.
        .target(name: "IFRunner", dependencies: ["IFCore", "SafetensorsReader", "COpenBLAS", "CSentencePiece", "CWeightGemm"]),
        // Producing quantized tensors: schemes, policy, error reports.
        .target(name: "IFQuant", dependencies: ["IFCore", "CQuantKernels"]),
        .executableTarget(
            name: "IFConvert",
            dependencies: [
                "IFCore", "IFQuant", "IFRunner",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Tests (one target per module; tests read committed fixtures through `#filePath`)
        .testTarget(name: "MappedTensorsTests", dependencies: ["MappedTensors"]),
        .testTarget(name: "SafetensorsReaderTests", dependencies: ["SafetensorsReader"]),
        .testTarget(name: "PyTorchReaderTests", dependencies: ["PyTorchReader"]),
        .testTarget(name: "IFCoreTests", dependencies: ["IFCore"]),
        .testTarget(name: "IFRunnerTests", dependencies: ["IFRunner"]),
        .testTarget(name: "IFQuantTests", dependencies: ["IFQuant"]),
        .testTarget(name: "IFConvertTests", dependencies: ["IFConvert", "IFCore", "IFQuant", "IFRunner"]),
    ],
    swiftLanguageModes: [.v6]
)
