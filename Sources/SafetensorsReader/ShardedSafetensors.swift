#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A sharded checkpoint: an index file (`model.safetensors.index.json`,
/// `model.safetensors.index.fp16.json`, ...) whose `weight_map` names, for each tensor, the shard
/// file (next to the index) that holds it. Opens every shard and presents them as one source.
///
/// The index and the shards must agree exactly: a missing shard file, a tensor listed but absent
/// from its shard, a tensor stored in a shard other than the listed one (or in two shards), and a
/// shard tensor the index does not list are all errors.
public struct ShardedSafetensors: TensorSource {
    public let indexPath: String
    /// Shards in file-name order (`-00001-of-00002` before `-00002-of-00002`).
    public let shards: [SafetensorsFile]
    /// Index `metadata` (e.g. `total_size`), values as their JSON spelling when not strings.
    public let metadata: [String: String]
    public let tensorNames: [String]
    /// Tensor name -> index into `shards`.
    private let shardByName: [String: Int]

    public init(indexAt indexPath: String) throws(TensorIOError) {
        func fail(_ message: String) -> TensorIOError { .malformed(path: indexPath, message: message) }
        let json = try JSONParser.parse(contentsOf: indexPath)
        guard case let .object(root) = json else { throw fail("index must be a JSON object, found \(json.kindName)") }
        guard let weightMapValue = root["weight_map"] else { throw fail("index has no \"weight_map\"") }
        guard case let .object(weightMap) = weightMapValue else {
            throw fail("\"weight_map\" must be an object, found \(weightMapValue.kindName)")
        }
        var metadata: [String: String] = [:]
        if let metadataValue = root["metadata"] {
            guard case let .object(object) = metadataValue else {
                throw fail("\"metadata\" must be an object, found \(metadataValue.kindName)")
            }
            for (key, value) in object.members { metadata[key] = value.stringValue ?? value.serialized() }
        }

        var listed: [String: String] = [:]
        var shardNames = Set<String>()
        for (tensor, value) in weightMap.members {
            guard let shard = value.stringValue else {
                throw fail("weight_map['\(tensor)'] must be a file name string, found \(value.kindName)")
            }
            // Shards live next to the index: no directories, no escaping with "..".
            guard !shard.isEmpty, !shard.utf8.contains(UInt8(ascii: "/")), shard != ".", shard != ".." else {
                throw fail("weight_map['\(tensor)'] names '\(shard)', expected a file name in the index's folder")
            }
            listed[tensor] = shard
            shardNames.insert(shard)
        }

        let directory = ShardedSafetensors.directory(of: indexPath)
        var shards: [SafetensorsFile] = []
        var shardByName: [String: Int] = [:]
        var names: [String] = []
        for shardName in shardNames.sorted() {
            let shardPath = directory + shardName
            guard access(shardPath, F_OK) == 0 else {
                throw .io(path: indexPath, message: "shard '\(shardName)' listed in weight_map is missing (looked for \(shardPath))")
            }
            let shard = try SafetensorsFile(readingAt: shardPath)
            let shardIndex = shards.count
            for name in shard.tensorNames {
                if let other = shardByName[name] {
                    throw fail("tensor '\(name)' is stored in two shards: '\(ShardedSafetensors.fileName(shards[other].path))' and '\(shardName)'")
                }
                guard let expected = listed[name] else {
                    throw fail("tensor '\(name)' in shard '\(shardName)' is not listed in weight_map")
                }
                guard expected == shardName else {
                    throw fail("tensor '\(name)' is listed in weight_map for shard '\(expected)' but stored in shard '\(shardName)'")
                }
                shardByName[name] = shardIndex
                names.append(name)
            }
            shards.append(shard)
        }
        // Every listed tensor must have been found in its shard.
        for (tensor, shardName) in zip(weightMap.keys, weightMap.values.map { $0.stringValue ?? "" }) where shardByName[tensor] == nil {
            throw fail("tensor '\(tensor)' is listed in weight_map for shard '\(shardName)' but absent from that shard")
        }

        self.indexPath = indexPath
        self.shards = shards
        self.metadata = metadata
        self.tensorNames = names
        self.shardByName = shardByName
    }

    // MARK: TensorSource

    public var formatName: String { "safetensors-sharded" }
    public var filePaths: [String] { [indexPath] + shards.map(\.path) }

    public func info(named name: String) throws(TensorIOError) -> TensorInfo {
        try shard(for: name).info(named: name)
    }

    public func tensor(named name: String) throws(TensorIOError) -> TensorView {
        try shard(for: name).tensor(named: name)
    }

    /// The shard holding `name`.
    public func shard(for name: String) throws(TensorIOError) -> SafetensorsFile {
        guard let index = shardByName[name] else { throw .missingTensor(path: indexPath, name: name) }
        return shards[index]
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[...slash])
    }

    static func fileName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}
