/// A tensor the writer will emit: its GGUF name, storage type and row-major shape (outermost
/// first; the writer reverses it into `ne`).
public struct GGUFTensorDeclaration: Sendable, Equatable {
    public let name: String
    public let type: GGMLType
    public let shape: [Int]

    public init(name: String, type: GGMLType, shape: [Int]) {
        self.name = name
        self.type = type
        self.shape = shape
    }
}

/// Encodes metadata values the GGUF way (little-endian, u64 lengths).
struct GGUFEncoder {
    var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(string: String) {
        append(UInt64(string.utf8.count))
        bytes.append(contentsOf: string.utf8)
    }

    mutating func append(value: GGUFValue) {
        switch value {
        case let .uint8(v): append(v)
        case let .int8(v): append(v)
        case let .uint16(v): append(v)
        case let .int16(v): append(v)
        case let .uint32(v): append(v)
        case let .int32(v): append(v)
        case let .uint64(v): append(v)
        case let .int64(v): append(v)
        case let .float32(v): append(v.bitPattern)
        case let .float64(v): append(v.bitPattern)
        case let .bool(v): append(UInt8(v ? 1 : 0))
        case let .string(v): append(string: v)
        case let .array(v): append(array: v)
        }
    }

    mutating func append(array: GGUFArray) {
        append(array.elementType.rawValue)
        append(UInt64(array.count))
        switch array {
        case let .uint8(a): bytes.append(contentsOf: a)
        case let .int8(a): for v in a { append(v) }
        case let .uint16(a): for v in a { append(v) }
        case let .int16(a): for v in a { append(v) }
        case let .uint32(a): for v in a { append(v) }
        case let .int32(a): for v in a { append(v) }
        case let .uint64(a): for v in a { append(v) }
        case let .int64(a): for v in a { append(v) }
        case let .float32(a): for v in a { append(v.bitPattern) }
        case let .float64(a): for v in a { append(v.bitPattern) }
        case let .bool(a): for v in a { append(UInt8(v ? 1 : 0)) }
        case let .string(a): for v in a { append(string: v) }
        case let .nested(a): for v in a { append(array: v) }
        }
    }
}

/// Streams a GGUF file into an `AtomicFileWriter`: the header (metadata and tensor infos, with
/// offsets computed from the declared shapes) first, then each tensor's bytes in declaration order,
/// padded to the alignment. Metadata values whose final content is known only after the data
/// (checksums, source hashes) are written as same-size placeholders and patched in place by
/// `patch(_:_:)`.
public final class GGUFStreamWriter {
    public let output: AtomicFileWriter
    public let tensors: [GGUFTensorDeclaration]
    public let alignment: Int
    /// Byte count of each tensor, in declaration order.
    public let byteCounts: [Int]
    /// Total file size once finished.
    public let fileByteCount: Int
    /// Bytes before the data section.
    public let headerByteCount: Int
    private var valueRanges: [String: Range<Int>] = [:]
    private var tensorIndex = 0
    private var tensorBytesWritten = 0
    private var path: String { output.temporaryPath }

    /// Declares the whole file and writes its header. `general.alignment` is written when
    /// `alignment` is not the default or the metadata already has the key.
    public init(
        output: AtomicFileWriter, metadata: GGUFMetadata, tensors: [GGUFTensorDeclaration],
        alignment: Int = GGUFLimits.defaultAlignment
    ) throws(TensorIOError) {
        let layout = try GGUFLayout(metadata: metadata, tensors: tensors, alignment: alignment, path: output.destination)
        self.output = output
        self.tensors = tensors
        self.alignment = alignment
        byteCounts = layout.byteCounts
        fileByteCount = layout.fileByteCount
        headerByteCount = layout.header.count
        valueRanges = layout.valueRanges
        precondition(output.bytesWritten == 0, "GGUF header must start the file")
        try output.write(layout.header)
        try skipEmptyTensors()
    }

    /// The tensor the next `append` continues, or nil when all are complete.
    public var currentTensor: Int? { tensorIndex < tensors.count ? tensorIndex : nil }

    /// Appends bytes of the current tensor. Bytes may span several tensors; padding is inserted
    /// automatically when one completes.
    public func append(_ bytes: UnsafeRawBufferPointer) throws(TensorIOError) {
        var rest = bytes
        while !rest.isEmpty {
            guard tensorIndex < tensors.count else {
                throw .malformed(path: path, message: "\(rest.count) bytes written past the last tensor")
            }
            let take = min(byteCounts[tensorIndex] - tensorBytesWritten, rest.count)
            try output.write(UnsafeRawBufferPointer(rebasing: rest[0..<take]))
            tensorBytesWritten += take
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            if tensorBytesWritten == byteCounts[tensorIndex] {
                try output.writeZeros(GGUFParser.align(byteCounts[tensorIndex], to: alignment)! - byteCounts[tensorIndex])
                tensorIndex += 1
                tensorBytesWritten = 0
                try skipEmptyTensors()
            }
        }
    }

    public func append(bytes: [UInt8]) throws(TensorIOError) {
        var failure: TensorIOError?
        bytes.withUnsafeBytes { raw in
            do throws(TensorIOError) { try append(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Overwrites the value of `key` (written in the header) with `value` of the same type and
    /// encoded size, e.g. a placeholder checksum array with the real checksums.
    public func patch(_ key: String, _ value: GGUFValue) throws(TensorIOError) {
        guard let range = valueRanges[key] else { throw .malformed(path: path, message: "cannot patch '\(key)': not in the header") }
        var encoder = GGUFEncoder()
        encoder.append(value: value)
        guard encoder.bytes.count == range.count else {
            throw .malformed(path: path, message: "cannot patch '\(key)': new value is \(encoder.bytes.count) bytes, placeholder \(range.count)")
        }
        try output.overwrite(at: range.lowerBound, with: encoder.bytes)
    }

    /// Checks that every declared tensor was written in full.
    public func finish() throws(TensorIOError) {
        guard tensorIndex == tensors.count else {
            throw .malformed(path: path, message: "tensor '\(tensors[tensorIndex].name)' incomplete: \(tensorBytesWritten) of \(byteCounts[tensorIndex]) bytes written")
        }
        guard output.bytesWritten == fileByteCount else {
            throw .malformed(path: path, message: "wrote \(output.bytesWritten) bytes, expected \(fileByteCount)")
        }
    }

    private func skipEmptyTensors() throws(TensorIOError) {
        while tensorIndex < tensors.count, byteCounts[tensorIndex] == 0 {
            tensorIndex += 1
        }
    }
}

/// The header bytes and sizes of a GGUF file, computed from its declaration alone (the writer
/// and dry runs share it).
public struct GGUFLayout {
    public let header: [UInt8]
    public let byteCounts: [Int]
    public let fileByteCount: Int
    let valueRanges: [String: Range<Int>]

    public init(metadata: GGUFMetadata, tensors: [GGUFTensorDeclaration], alignment: Int = GGUFLimits.defaultAlignment, path: String) throws(TensorIOError) {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "alignment must be a power of two")
        var metadata = metadata
        if alignment != GGUFLimits.defaultAlignment || metadata.contains("general.alignment") {
            metadata.set("general.alignment", .uint32(UInt32(alignment)))
        }
        var names = Set<String>()
        var counts: [Int] = []
        for tensor in tensors {
            guard !tensor.name.isEmpty, tensor.name.utf8.count <= GGUFLimits.maxNameByteCount else {
                throw .unsupported(path: path, message: "tensor name '\(tensor.name)' is \(tensor.name.utf8.count) bytes (GGUF allows 1...\(GGUFLimits.maxNameByteCount)); shorten it with PackNaming")
            }
            guard names.insert(tensor.name).inserted else { throw .malformed(path: path, message: "duplicate GGUF tensor name '\(tensor.name)'") }
            guard tensor.shape.count <= GGUFLimits.maxDimensions else {
                throw .unsupported(path: path, message: "tensor '\(tensor.name)' has \(tensor.shape.count) dimensions (GGUF readers take at most \(GGUFLimits.maxDimensions))")
            }
            guard let elements = CheckedMath.product(tensor.shape), (tensor.shape.last ?? 1) % tensor.type.blockSize == 0,
                  let count = tensor.type.byteCount(elementCount: elements) else {
                throw .unsupported(path: path, message: "tensor '\(tensor.name)' shape \(tensor.shape) does not fit \(tensor.type.name) blocks of \(tensor.type.blockSize) along the last dimension")
            }
            counts.append(count)
        }
        var header = GGUFEncoder()
        header.bytes.append(contentsOf: GGUFLimits.magic)
        header.append(UInt32(3))
        header.append(UInt64(tensors.count))
        header.append(UInt64(metadata.count))
        var ranges: [String: Range<Int>] = [:]
        for (key, value) in metadata.entries {
            header.append(string: key)
            header.append(value.type.rawValue)
            let start = header.bytes.count
            header.append(value: value)
            ranges[key] = start..<header.bytes.count
        }
        var offset = 0
        for (tensor, count) in zip(tensors, counts) {
            header.append(string: tensor.name)
            // ggml stores at least one dimension; a scalar is written as [1].
            let ne = tensor.shape.isEmpty ? [1] : Array(tensor.shape.reversed())
            header.append(UInt32(ne.count))
            for extent in ne { header.append(UInt64(extent)) }
            header.append(tensor.type.rawValue)
            header.append(UInt64(offset))
            offset += GGUFParser.align(count, to: alignment)!
        }
        let dataStart = GGUFParser.align(header.bytes.count, to: alignment)!
        header.bytes.append(contentsOf: [UInt8](repeating: 0, count: dataStart - header.bytes.count))
        self.header = header.bytes
        byteCounts = counts
        fileByteCount = dataStart + offset
        valueRanges = ranges
    }
}
