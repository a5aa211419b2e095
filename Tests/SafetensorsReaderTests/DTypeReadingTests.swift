import Testing
import SafetensorsReader

/// fixtures/safetensors/all_dtypes.safetensors was written by safetensors.torch with every dtype
/// torch can store, a scalar and zero-size tensors; all_dtypes.json holds torch's own bytes and values.
@Suite struct DTypeReadingTests {
    struct Expected: Sendable, CustomTestStringConvertible {
        let name: String
        let dtype: String
        let shape: [Int]
        let hex: String
        let values: [Double]
        var testDescription: String { "\(name) \(dtype) \(shape)" }
    }

    static let expected: [Expected] = {
        guard let manifest = try? Repo.json("safetensors/all_dtypes.json"),
              let list = manifest.objectValue?["tensors"]?.arrayValue else { return [] }
        return list.compactMap { item in
            guard let o = item.objectValue, let name = o["name"]?.stringValue, let dtype = o["dtype"]?.stringValue,
                  let shape = o["shape"]?.arrayValue?.compactMap(\.nonNegativeIntValue),
                  let hex = o["hex"]?.stringValue,
                  let values = o["values"]?.arrayValue?.compactMap(\.doubleValue) else { return nil }
            return Expected(name: name, dtype: dtype, shape: shape, hex: hex, values: values)
        }
    }()

    static let file = Result { try SafetensorsFile(readingAt: Repo.fixture("safetensors/all_dtypes.safetensors")) }

    @Test func coversEveryDTypeTorchWrites() throws {
        let dtypes = Set(Self.expected.map(\.dtype))
        for name in ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL", "F8_E4M3", "F8_E5M2"] {
            #expect(dtypes.contains(name), "fixture lacks \(name)")
        }
        let file = try Self.file.get()
        #expect(file.tensorNames.count == Self.expected.count)
        #expect(file.metadata == ["purpose": "every dtype"])
    }

    @Test(arguments: expected)
    func readsDTypeShapeAndBytes(_ tensor: Expected) throws {
        let file = try Self.file.get()
        let view = try file.tensor(named: tensor.name)
        #expect(view.dtype.rawValue == tensor.dtype)
        #expect(view.shape == tensor.shape)
        #expect(view.elementCount == tensor.values.count)
        let hex = view.data.copyBytes().map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        #expect(hex == tensor.hex)
        let info = try file.info(named: tensor.name)
        #expect(info.byteCount == view.byteCount && info.shape == view.shape && info.dtype == view.dtype)
        if ![DType.f8e4m3, .f8e5m2, .f8e8m0].contains(view.dtype) {
            // Every value in the fixture is exactly representable, so widening must be exact.
            #expect(try view.floats().map(Double.init) == tensor.values)
        }
    }

    @Test func viewsAreZeroCopyIntoTheMapping() throws {
        let file = try Self.file.get()
        let view = try file.tensor(named: "t_f32")
        #expect(view.data.storage is MappedFile)
        #expect(file.dataRange.contains(view.data.range.lowerBound))
    }

    @Test func unknownTensorIsAClearError() throws {
        let file = try Self.file.get()
        let message = errorDescription { _ = try file.tensor(named: "nope") }
        #expect(message?.contains("no tensor named 'nope'") == true)
    }
}
