import Testing
import SafetensorsReader

@Suite struct ShardedTests {
    /// Two shards written by our writer plus an index in transformers' format.
    static func makeCheckpoint(
        _ dir: TemporaryDirectory, weightMap: [(String, String)]? = nil,
        extraInSecond: Bool = false, indexName: String = "model.safetensors.index.fp16.json"
    ) throws -> String {
        var first = SafetensorsWriter(metadata: ["format": "pt"])
        try first.append(name: "encoder.embed", dtype: .f16, shape: [4, 2], bytes: [UInt8](repeating: 1, count: 16))
        try first.append(name: "encoder.block.0.wo", dtype: .f32, shape: [2, 2], bytes: floatBytes([1, 2, 3, 4]))
        try first.write(to: dir.file("model.fp16-00001-of-00002.safetensors"))
        var second = SafetensorsWriter(metadata: ["format": "pt"])
        try second.append(name: "encoder.final_norm", dtype: .f16, shape: [2], bytes: [0, 60, 0, 60])
        if extraInSecond {
            try second.append(name: "encoder.embed", dtype: .f16, shape: [4, 2], bytes: [UInt8](repeating: 1, count: 16))
        }
        try second.write(to: dir.file("model.fp16-00002-of-00002.safetensors"))
        let map = weightMap ?? [
            ("encoder.block.0.wo", "model.fp16-00001-of-00002.safetensors"),
            ("encoder.embed", "model.fp16-00001-of-00002.safetensors"),
            ("encoder.final_norm", "model.fp16-00002-of-00002.safetensors"),
        ]
        let index = JSONValue.object(JSONObject([
            ("metadata", .object(JSONObject([("total_size", .int(36))]))),
            ("weight_map", .object(JSONObject(map.map { ($0.0, JSONValue.string($0.1)) }))),
        ]))
        try dir.write(indexName, index.serialized(pretty: true))
        return dir.file(indexName)
    }

    @Test func opensAsOneSource() throws {
        let dir = try TemporaryDirectory()
        let source = try ShardedSafetensors(indexAt: try Self.makeCheckpoint(dir))
        #expect(source.shards.count == 2)
        #expect(source.tensorNames == ["encoder.embed", "encoder.block.0.wo", "encoder.final_norm"])
        #expect(source.metadata["total_size"] == "36")
        #expect(try source.tensor(named: "encoder.block.0.wo").floats() == [1, 2, 3, 4])
        #expect(try source.info(named: "encoder.final_norm").dtype == .f16)
        #expect(try source.tensor(named: "encoder.final_norm").floats() == [1, 1])
        #expect(source.filePaths.count == 3)
        #expect(errorDescription { _ = try source.tensor(named: "missing") }?.contains("no tensor named 'missing'") == true)
    }

    @Test func missingShardFile() throws {
        let dir = try TemporaryDirectory()
        let index = try Self.makeCheckpoint(dir, weightMap: [
            ("encoder.embed", "model.fp16-00001-of-00002.safetensors"),
            ("encoder.block.0.wo", "model.fp16-00001-of-00002.safetensors"),
            ("encoder.final_norm", "model.fp16-00003-of-00003.safetensors"),
        ])
        let message = errorDescription { _ = try ShardedSafetensors(indexAt: index) }
        #expect(message?.contains("shard 'model.fp16-00003-of-00003.safetensors' listed in weight_map is missing") == true, "\(message ?? "")")
    }

    @Test func tensorListedButAbsent() throws {
        let dir = try TemporaryDirectory()
        let index = try Self.makeCheckpoint(dir, weightMap: [
            ("encoder.embed", "model.fp16-00001-of-00002.safetensors"),
            ("encoder.block.0.wo", "model.fp16-00001-of-00002.safetensors"),
            ("encoder.final_norm", "model.fp16-00002-of-00002.safetensors"),
            ("encoder.block.1.wo", "model.fp16-00002-of-00002.safetensors"),
        ])
        let message = errorDescription { _ = try ShardedSafetensors(indexAt: index) }
        #expect(message?.contains("tensor 'encoder.block.1.wo' is listed in weight_map for shard 'model.fp16-00002-of-00002.safetensors' but absent") == true, "\(message ?? "")")
    }

    @Test func tensorInTwoShards() throws {
        let dir = try TemporaryDirectory()
        let index = try Self.makeCheckpoint(dir, extraInSecond: true)
        let message = errorDescription { _ = try ShardedSafetensors(indexAt: index) }
        #expect(message?.contains("tensor 'encoder.embed' is stored in two shards") == true, "\(message ?? "")")
    }

    @Test func tensorInTheWrongShard() throws {
        let dir = try TemporaryDirectory()
        let index = try Self.makeCheckpoint(dir, weightMap: [
            ("encoder.embed", "model.fp16-00001-of-00002.safetensors"),
            ("encoder.block.0.wo", "model.fp16-00002-of-00002.safetensors"),
            ("encoder.final_norm", "model.fp16-00002-of-00002.safetensors"),
        ])
        let message = errorDescription { _ = try ShardedSafetensors(indexAt: index) }
        #expect(message?.contains("tensor 'encoder.block.0.wo' is listed in weight_map for shard 'model.fp16-00002-of-00002.safetensors' but stored in shard 'model.fp16-00001-of-00002.safetensors'") == true, "\(message ?? "")")
    }

    @Test func unlistedTensorAndEscapingPaths() throws {
        let dir = try TemporaryDirectory()
        let index = try Self.makeCheckpoint(dir, weightMap: [
            ("encoder.embed", "model.fp16-00001-of-00002.safetensors"),
            ("encoder.final_norm", "model.fp16-00002-of-00002.safetensors"),
        ])
        #expect(errorDescription { _ = try ShardedSafetensors(indexAt: index) }?.contains("tensor 'encoder.block.0.wo' in shard 'model.fp16-00001-of-00002.safetensors' is not listed in weight_map") == true)
        try dir.write("bad.json", #"{"weight_map": {"a": "../etc/passwd"}}"#)
        #expect(errorDescription { _ = try ShardedSafetensors(indexAt: dir.file("bad.json")) }?.contains("expected a file name in the index's folder") == true)
        try dir.write("nomap.json", #"{"metadata": {}}"#)
        #expect(errorDescription { _ = try ShardedSafetensors(indexAt: dir.file("nomap.json")) }?.contains("index has no \"weight_map\"") == true)
    }
}
