import Foundation

/// A checkpoint split over several `.bin` files by `pytorch_model.bin.index.json` (or
/// `*.bin.index.fp16.json`): `{"metadata": {...}, "weight_map": {"name": "shard file"}}`.
/// Every shard is opened as a `PyTorchCheckpoint`; the index must agree with the shards.
public struct ShardedPyTorchCheckpoint: TensorSource {
    public let indexPath: String
    public let shards: [PyTorchCheckpoint]
    public let tensorNames: [String]
    public let metadata: [String: String]
    private let shardByName: [String: Int]

    public var formatName: String { "pytorch-sharded" }
    public var filePaths: [String] { [indexPath] + shards.map(\.path) }
    /// Skipped objects of every shard, paths prefixed with the shard's file name.
    public var skippedObjects: [(path: String, global: String)] {
        shards.flatMap { shard in
            shard.skippedObjects.map { (path: "\((shard.path as NSString).lastPathComponent):\($0.path)", global: $0.global) }
        }
    }
    public var stateDictPrefix: String? { shards.lazy.compactMap(\.stateDictPrefix).first }

    private struct Index: Decodable {
        let metadata: [String: JSONScalar]?
        let weight_map: [String: String]
    }

    /// Metadata values are numbers or strings (`total_size`); kept as text.
    private struct JSONScalar: Decodable {
        let text: String
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Int.self) { text = String(number) }
            else if let string = try? container.decode(String.self) { text = string }
            else if let double = try? container.decode(Double.self) { text = String(double) }
            else { text = "" }
        }
    }

    public init(indexAt indexPath: String, options: PyTorchCheckpoint.Options = .init()) throws(TensorIOError) {
        self.indexPath = indexPath
        let index: Index
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: indexPath))
            index = try JSONDecoder().decode(Index.self, from: data)
        } catch {
            throw .malformed(path: indexPath, message: "cannot read the shard index: \(error)")
        }
        let folder = (indexPath as NSString).deletingLastPathComponent
        var shardFiles: [String] = []
        for file in index.weight_map.values where !shardFiles.contains(file) {
            guard !file.isEmpty, !file.contains("/"), !file.contains("\\"), file != "..", file != "." else {
                throw .malformed(path: indexPath, message: "shard file name '\(file.debugDescriptionTrimmed)' is not a plain file name in the index's folder")
            }
            shardFiles.append(file)
        }
        shardFiles.sort()
        var shards: [PyTorchCheckpoint] = []
        var shardByName: [String: Int] = [:]
        var names: [String] = []
        for file in shardFiles {
            let shard = try PyTorchCheckpoint(readingAt: (folder as NSString).appendingPathComponent(file), options: options)
            for name in shard.tensorNames where index.weight_map[name] == file {
                guard shardByName.updateValue(shards.count, forKey: name) == nil else {
                    throw .malformed(path: indexPath, message: "tensor '\(name)' appears in two shards")
                }
                names.append(name)
            }
            shards.append(shard)
        }
        for (name, file) in index.weight_map.sorted(by: { $0.key < $1.key }) where shardByName[name] == nil {
            throw .malformed(path: indexPath, message: "index maps tensor '\(name)' to '\(file)', which does not hold it")
        }
        self.shards = shards
        self.shardByName = shardByName
        tensorNames = names
        var metadata = (index.metadata ?? [:]).mapValues(\.text)
        metadata["format"] = "pytorch-sharded"
        self.metadata = metadata
    }

    /// The shard holding `name`.
    public func shard(for name: String) throws(TensorIOError) -> PyTorchCheckpoint {
        guard let shard = shardByName[name] else { throw .missingTensor(path: indexPath, name: name) }
        return shards[shard]
    }

    public func info(named name: String) throws(TensorIOError) -> TensorInfo {
        guard let shard = shardByName[name] else { throw .missingTensor(path: indexPath, name: name) }
        return try shards[shard].info(named: name)
    }

    public func tensor(named name: String) throws(TensorIOError) -> TensorView {
        guard let shard = shardByName[name] else { throw .missingTensor(path: indexPath, name: name) }
        return try shards[shard].tensor(named: name)
    }
}
