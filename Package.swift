// swift-tools-version: 6.0
// ifconvert: DeepFloyd IF checkpoints -> GGUF packs (fp16 / int8 / 4-bit), with a CPU reference runner.
//
// Dependency direction (never the other way round):
//   IFConvert -> IFQuant -> IFRunner -> IFCore -> {SafetensorsReader, PyTorchReader} -> MappedTensors
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
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CSentencePieceLib", pkgConfig: "sentencepiece",
                       providers: [.apt(["libsentencepiece-dev"])]),
        // extern "C" shim over sentencepiece's C++ API: one exception boundary, thread-local last error.
        .target(name: "CSentencePiece", dependencies: ["CSentencePieceLib"]),
        // fp16/bf16 <-> fp32 bulk conversion with F16C/AVX2 (runtime-dispatched, no unsafeFlags).
        .target(name: "CHalfConvert"),

        // MARK: Swift modules
        // Memory mapping, byte views, dtypes, checked little-endian decoding: what every reader shares.
        .target(name: "MappedTensors", dependencies: ["CHalfConvert"]),
        .target(name: "SafetensorsReader", dependencies: ["MappedTensors"]),
        .target(name: "PyTorchReader", dependencies: ["MappedTensors"]),
        // Snapshot discovery, the GGUF pack (write/read/check), tensor types and their dequantization.
        .target(name: "IFCore", dependencies: ["MappedTensors", "SafetensorsReader", "PyTorchReader", "CZstd"]),
        // CPU reference runner: kernels (OpenBLAS), T5 encoder + tokenizer, IF UNets, DDPM loops, verify.
        .target(name: "IFRunner", dependencies: ["IFCore", "COpenBLAS", "CSentencePiece"]),
        // Producing quantized tensors: schemes, policy, error reports.
        .target(name: "IFQuant", dependencies: ["IFCore"]),
        .executableTarget(
            name: "IFConvert",
            dependencies: [
                "IFCore", "IFQuant", "IFRunner",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Tests
        .testTarget(name: "MappedTensorsTests", dependencies: ["MappedTensors"]),
        .testTarget(name: "SafetensorsReaderTests", dependencies: ["SafetensorsReader"]),
        .testTarget(name: "IFCoreTests", dependencies: ["IFCore"]),
        .testTarget(name: "IFConvertTests", dependencies: ["IFConvert"]),

    ],
    swiftLanguageModes: [.v6]
)
