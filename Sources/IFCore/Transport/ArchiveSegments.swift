import SafetensorsReader

/// Where a file's tensors start and end, so compressed frames never straddle two tensors.
public enum ArchiveSegments {
    /// Segments for a pack (GGUF) or safetensors file; any other file is one opaque segment,
    /// which the planner still splits into bounded frames.
    public static func forFile(at path: String, storage: any ByteStorage) throws(TensorIOError) -> [ArchiveSegment] {
        if path.hasSuffix(".safetensors") {
            return try forSafetensors(SafetensorsFile(storage: storage, path: path))
        }
        if path.hasSuffix(".gguf"), let mapped = storage as? MappedFile {
            return forGGUF(try GGUFFile(file: mapped))
        }
        return [ArchiveSegment(range: 0..<storage.byteCount, label: "bytes")]
    }

    /// The tensors inside an archive, read lazily: a pack's (GGUF magic) or a safetensors file's.
    /// The inner format is recognized from its first bytes, so the archive's name does not matter.
    public static func openArchivedSource(_ archive: SeekableArchive) throws(TensorIOError) -> any TensorSource {
        let magic = try archive.materialize(0..<min(4, archive.byteCount)).copyBytes()
        if magic == Array("GGUF".utf8) {
            return try Pack(gguf: GGUFFile(storage: archive, path: archive.path))
        }
        return try SafetensorsFile(storage: archive, path: archive.path)
    }

    /// Header (with metadata and tensor infos) up to the data section, then one segment per tensor;
    /// alignment padding joins the tensor before it.
    static func forGGUF(_ file: GGUFFile) -> [ArchiveSegment] {
        var segments = [ArchiveSegment(range: 0..<file.dataSectionOffset, label: "header")]
        let sorted = file.tensors.sorted { $0.dataOffset < $1.dataOffset }
        var cursor = file.dataSectionOffset
        for (index, info) in sorted.enumerated() {
            let start = file.dataSectionOffset + info.dataOffset
            if start > cursor, var previous = segments.popLast() {
                previous.range = previous.range.lowerBound..<start
                segments.append(previous)
            }
            let end = index + 1 < sorted.count ? file.dataSectionOffset + sorted[index + 1].dataOffset : file.file.byteCount
            let width = [GGMLType.f16, .bf16, .i16].contains(info.type) ? 2 : 0
            segments.append(ArchiveSegment(range: start..<max(end, start + info.byteCount), label: "tensor '\(info.name)'", shuffleWidth: width))
            cursor = segments.last!.range.upperBound
        }
        if cursor < file.file.byteCount, var last = segments.popLast() {
            last.range = last.range.lowerBound..<file.file.byteCount
            segments.append(last)
        }
        return segments
    }

    static func forSafetensors(_ file: SafetensorsFile) -> [ArchiveSegment] {
        var segments = [ArchiveSegment(range: 0..<file.header.dataStart, label: "header")]
        let base = file.header.dataStart
        for entry in file.entries.sorted(by: { $0.dataOffsets.lowerBound < $1.dataOffsets.lowerBound }) {
            let range = (base + entry.dataOffsets.lowerBound)..<(base + entry.dataOffsets.upperBound)
            segments.append(ArchiveSegment(range: range, label: "tensor '\(entry.name)'",
                                           shuffleWidth: entry.dtype.byteSize == 2 ? 2 : 0))
        }
        return segments
    }
}
