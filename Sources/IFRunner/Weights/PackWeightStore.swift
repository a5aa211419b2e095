import IFCore

/// A `WeightStore` over a GGUF pack: plain float tensors are widened from the mapped bytes, quantized
/// ones (q8_0, q4_0, q4_k, int8_rowwise) dequantized one tile of rows at a time by IFCore's
/// `Dequantizer`, so no full fp32 copy of a weight ever exists.
public struct PackWeightStore: WeightStore {
    public let pack: Pack

    public init(pack: Pack) {
        self.pack = pack
    }

    public init(readingAt path: String) throws(RunnerError) {
        do { pack = try Pack(readingAt: path) } catch { throw .io(error) }
    }

    public var sourceDescription: String { pack.path }
    public var metadata: [String: String] { pack.metadata }
    public var tensorNames: [String] { pack.tensorNames }
    public var attachments: PackAttachments { PackAttachments(metadata: pack.ggufMetadata) }

    public func info(named name: String) throws -> TensorInfo {
        do { return try pack.info(named: name) } catch { throw TensorSourceWeightStore.wrap(error, name: name, source: pack.path) }
    }

    public func has(_ name: String) -> Bool { pack.record(named: name) != nil }

    func packTensor(_ name: String) throws -> PackTensor {
        do { return try pack.packTensor(named: name) } catch { throw TensorSourceWeightStore.wrap(error, name: name, source: pack.path) }
    }

    public func floats(named name: String) throws -> [Float] {
        let tensor = try packTensor(name)
        if let view = tensor.view {
            do { return try view.floats() } catch { throw RunnerError.io(error) }
        }
        let decoder = try Self.decoder(for: tensor, path: pack.path)
        return LinearWeight(name: name, decoder: decoder, bias: nil).decodedWeights()
    }

    public func linear(weight: String, bias: String?) throws -> LinearWeight {
        let tensor = try packTensor(weight)
        let decoder: any WeightRowDecoder = try tensor.view.map { try DenseRowDecoder(view: $0) } ?? Self.decoder(for: tensor, path: pack.path)
        let biasValues = try bias.map { try floats(named: $0, count: decoder.rowCount) }
        return LinearWeight(name: weight, decoder: decoder, bias: biasValues)
    }

    public func storageLabel(of name: String) -> String {
        guard let record = pack.record(named: name) else { return "?" }
        switch record.encoding {
        case .plain: return record.dtype.rawValue
        case .int8Rowwise: return "int8_rowwise"
        case .q8_0: return "Q8_0"
        case .q4_0: return "Q4_0"
        case .q4_k: return "Q4_K"
        }
    }

    static func decoder(for tensor: PackTensor, path: String) throws -> any WeightRowDecoder {
        let (rows, rowLength) = tensor.rowView
        switch tensor.encoding {
        case .plain:
            throw RunnerError.badTensor(name: tensor.originalName, message: "plain \(tensor.record.dtype.rawValue) tensor is not a float weight")
        case .int8Rowwise:
            guard let scales = tensor.scaleTensor else {
                throw RunnerError.badTensor(name: tensor.originalName, message: "int8_rowwise without its scale tensor in \(path)")
            }
            return try QuantizedRowDecoder(name: tensor.originalName, data: tensor.data, scales: scales.data, type: .i8,
                                           rows: rows, rowLength: rowLength, label: "int8_rowwise")
        case .q8_0, .q4_0, .q4_k:
            return try QuantizedRowDecoder(name: tensor.originalName, data: tensor.data, scales: nil, type: tensor.type,
                                           rows: rows, rowLength: rowLength, label: tensor.type.name.uppercased())
        }
    }
}

/// Rows of a quantized pack tensor (ggml blocks along each row, or int8 with per-row scales),
/// dequantized through IFCore's `Dequantizer` (SIMD path), split over two threads for big tiles.
public struct QuantizedRowDecoder: WeightRowDecoder {
    public let name: String
    let data: ByteSlice
    let scales: ByteSlice?
    let type: GGMLType
    public let rowCount: Int
    public let columnCount: Int
    public let storageLabel: String

    /// Checks up front that the bytes hold every row, so decoding cannot fail later.
    public init(name: String, data: ByteSlice, scales: ByteSlice?, type: GGMLType, rows: Int, rowLength: Int, label: String) throws(RunnerError) {
        guard let rowBytes = Dequantizer.rowByteCount(of: type, rowLength: rowLength),
              let needed = CheckedMath.multiply(rowBytes, rows), needed <= data.byteCount else {
            throw .badTensor(name: name, message: "\(type.name) bytes (\(data.byteCount)) do not hold \(rows) rows of \(rowLength)")
        }
        if let scales, scales.byteCount < rows * 4 {
            throw .badTensor(name: name, message: "int8_rowwise scales hold \(scales.byteCount / 4) rows, expected \(rows)")
        }
        self.name = name
        self.data = data
        self.scales = scales
        self.type = type
        self.rowCount = rows
        self.columnCount = rowLength
        self.storageLabel = label
    }

    public func prefault() {
        prefaultPages(of: data)
        if let scales { prefaultPages(of: scales) }
    }

    public func decodeRows(_ rows: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= rowCount)
        let width = columnCount
        let chunks = rows.count * width >= 1 << 16 ? 2 : 1
        data.withUnsafeBytes { bytes in
            let destinationBase = UncheckedSendable(destination)
            Parallel.forEachRange(rows.count, chunks: chunks) { part in
                let sub = (rows.lowerBound + part.lowerBound)..<(rows.lowerBound + part.upperBound)
                let out = UnsafeMutableBufferPointer(start: destinationBase.value + part.lowerBound * width, count: part.count * width)
                do throws(TensorIOError) {
                    if let scales {
                        var failure: TensorIOError?
                        scales.withUnsafeBytes { scaleBytes in
                            do throws(TensorIOError) {
                                try Dequantizer.dequantizeInt8RowwiseRows(weights: bytes, scales: scaleBytes, rowLength: width, rows: sub,
                                                                          into: out, tensorName: name)
                            } catch { failure = error }
                        }
                        if let failure { throw failure }
                    } else {
                        try Dequantizer.dequantizeRows(of: bytes, type: type, rowLength: width, rows: sub, into: out, tensorName: name)
                    }
                } catch {
                    // init checked every size this call depends on.
                    preconditionFailure("dequantizing validated rows failed: \(error)")
                }
            }
        }
    }
}
