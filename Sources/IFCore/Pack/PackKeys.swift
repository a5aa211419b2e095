/// Metadata keys of a pack (documented in docs/FORMAT.md). Per-tensor arrays under `if.tensor.*`
/// are parallel: element i of each describes record i.
public enum PackKeys {
    public static let architecture = "general.architecture"
    public static let architectureValue = "deepfloyd_if"
    public static let name = "general.name"
    public static let alignment = "general.alignment"

    public static let packVersion = "if.pack.version"
    public static let currentPackVersion: UInt32 = 1
    public static let component = "if.component"
    public static let configJSON = "if.config_json"
    public static let modelIndexJSON = "if.model_index_json"
    public static let schedulerNames = "if.scheduler.names"
    public static let schedulerConfigJSONs = "if.scheduler.config_jsons"
    public static let spieceModel = "if.tokenizer.spiece_model"
    public static let tokenizerConfigJSON = "if.tokenizer.config_json"
    public static let specialTokensMapJSON = "if.tokenizer.special_tokens_map_json"

    public static let tool = "if.provenance.tool"
    public static let sourceFiles = "if.provenance.source_files"
    public static let sourceSHA256 = "if.provenance.source_sha256"
    public static let sourceSHA256Origins = "if.provenance.source_sha256_origin"
    public static let sourceByteCounts = "if.provenance.source_byte_counts"
    public static let requestedType = "if.provenance.requested_type"

    public static let tensorNames = "if.tensor.names"
    public static let tensorGGUFNames = "if.tensor.gguf_names"
    public static let tensorShapes = "if.tensor.shapes"
    public static let tensorDTypes = "if.tensor.dtypes"
    public static let tensorSourceDTypes = "if.tensor.source_dtypes"
    public static let tensorEncodings = "if.tensor.encodings"
    public static let tensorRules = "if.tensor.rules"
    public static let tensorScaleGGUFNames = "if.tensor.scale_gguf_names"

    public static let checksumAlgorithm = "if.checksum.algorithm"
    public static let checksumAlgorithmValue = "crc32c"
    /// One CRC32C per GGUF tensor, in tensor-info order.
    public static let checksums = "if.checksum.crc32c"
}
