/// The allowlist: what REDUCE/NEWOBJ on a global name means to this reader. Torch's own
/// `weights_only` unpickler is the model (torch/_weights_only_unpickler.py); we go further and
/// turn every other global into a recorded skip instead of an error, so the tensors around it load.
enum TorchGlobals {
    /// Storage classes torch pickles (`torch.<X>Storage`) and their element types.
    static let storageDTypes: [String: DType] = [
        "torch.HalfStorage": .f16, "torch.BFloat16Storage": .bf16, "torch.FloatStorage": .f32,
        "torch.DoubleStorage": .f64, "torch.LongStorage": .i64, "torch.IntStorage": .i32,
        "torch.ShortStorage": .i16, "torch.CharStorage": .i8, "torch.ByteStorage": .u8,
        "torch.BoolStorage": .bool, "torch.UntypedStorage": .u8, "torch.storage.UntypedStorage": .u8,
    ]

    /// Storage classes we cannot represent, with their element sizes (the legacy format needs
    /// them to step over their bytes).
    static let unsupportedStorageSizes: [String: Int] = [
        "torch.ComplexHalfStorage": 4, "torch.ComplexFloatStorage": 8, "torch.ComplexDoubleStorage": 16,
        "torch.QInt8Storage": 1, "torch.QUInt8Storage": 1, "torch.QInt32Storage": 4,
        "torch.QUInt4x2Storage": 1, "torch.QUInt2x4Storage": 1,
    ]

    /// `torch.<dtype>` globals, as `_rebuild_tensor_v3` receives them.
    static let dtypeGlobals: [String: DType] = [
        "torch.float16": .f16, "torch.half": .f16, "torch.bfloat16": .bf16, "torch.float32": .f32,
        "torch.float": .f32, "torch.float64": .f64, "torch.double": .f64, "torch.int64": .i64,
        "torch.long": .i64, "torch.int32": .i32, "torch.int": .i32, "torch.int16": .i16,
        "torch.short": .i16, "torch.int8": .i8, "torch.uint8": .u8, "torch.bool": .bool,
        "torch.uint16": .u16, "torch.uint32": .u32, "torch.uint64": .u64,
        "torch.float8_e4m3fn": .f8e4m3, "torch.float8_e5m2": .f8e5m2, "torch.float8_e8m0fnu": .f8e8m0,
    ]

    private static let rebuildTensor = "torch._utils._rebuild_tensor"
    private static let rebuildTensorV2 = "torch._utils._rebuild_tensor_v2"
    private static let rebuildTensorV3 = "torch._utils._rebuild_tensor_v3"
    private static let rebuildParameter = "torch._utils._rebuild_parameter"
    private static let rebuildParameterWithState = "torch._utils._rebuild_parameter_with_state"
    private static let orderedDict = "collections.OrderedDict"

    /// Storage class names as pickled; `torch.cuda.FloatStorage` (old CUDA checkpoints) has the
    /// same bytes as `torch.FloatStorage`.
    static func normalizedStorageName(_ name: String) -> String {
        name.hasPrefix("torch.cuda.") ? "torch." + name.dropFirst("torch.cuda.".count) : name
    }

    // MARK: REDUCE

    static func call(_ callable: PickleValue, arguments: [PickleValue], machine: inout Unpickler) throws(TensorIOError) -> PickleValue {
        guard case .global(let name) = callable else {
            // Calling the result of another call (getattr chains etc.): keep it opaque. The name does
            // not nest, so a chain of a million calls cannot build quadratic strings.
            let inner = describe(callable, machine)
            let name = inner.hasPrefix("<call of ") ? inner : "<call of \(inner)>"
            return try machine.allocate(.opaque(OpaqueObject(global: name, arguments: arguments)))
        }
        switch name {
        case rebuildTensor, rebuildTensorV2:
            return try tensor(arguments, explicitDType: nil, function: name, machine: &machine)
        case rebuildTensorV3:
            guard arguments.count >= 7 else { throw machine.failure("\(name) needs at least 7 arguments, got \(arguments.count)") }
            guard case .global(let dtypeName) = arguments[6] else {
                throw machine.failure("\(name): dtype argument is \(arguments[6].shortDescription), not a torch dtype")
            }
            guard let dtype = dtypeGlobals[dtypeName] else {
                return try machine.allocate(.opaque(OpaqueObject(global: dtypeName, arguments: [])))
            }
            return try tensor(arguments, explicitDType: dtype, function: name, machine: &machine)
        case rebuildParameter, rebuildParameterWithState:
            guard let data = arguments.first else { throw machine.failure("\(name) without arguments") }
            if case .object(let index) = data, case .tensor(var record) = machine.objects[index] {
                record.isParameter = true
                return try machine.allocate(.tensor(record))
            }
            return data
        case orderedDict, "builtins.dict":
            var dict = PickleDict()
            if let source = arguments.first, let pairs = itemsOf(source, machine) {
                for pair in pairs {
                    guard let kv = itemsOf(pair, machine), kv.count == 2 else { throw machine.failure("\(name) item is not a pair") }
                    dict.set(kv[0], kv[1])
                }
            }
            return try machine.allocate(.dict(dict))
        case "torch.Size", "builtins.tuple":
            return try machine.allocate(.tuple(arguments.first.flatMap { itemsOf($0, machine) } ?? []))
        case "builtins.list":
            return try machine.allocate(.list(arguments.first.flatMap { itemsOf($0, machine) } ?? []))
        case "builtins.set", "builtins.frozenset":
            return try machine.allocate(.set(arguments.first.flatMap { itemsOf($0, machine) } ?? []))
        case "_codecs.encode":
            // Protocol 2 spells `bytes` as _codecs.encode(text, 'latin1').
            if arguments.count == 2, case .string(let text) = arguments[0], case .string(let encoding) = arguments[1],
               encoding == "latin1" || encoding == "latin-1", text.unicodeScalars.allSatisfy({ $0.value < 256 }) {
                return .bytes(text.unicodeScalars.map { UInt8($0.value) })
            }
            return try machine.allocate(.opaque(OpaqueObject(global: name, arguments: arguments)))
        case "copyreg._reconstructor":
            // (cls, base, state): name the skipped object after the class it would build.
            let cls = arguments.first.map { describe($0, machine) } ?? name
            return try machine.allocate(.opaque(OpaqueObject(global: cls, arguments: Array(arguments.dropFirst()))))
        default:
            return try machine.allocate(.opaque(OpaqueObject(global: name, arguments: arguments)))
        }
    }

    // MARK: NEWOBJ, INST, OBJ

    static func instantiate(_ cls: PickleValue, arguments: [PickleValue], machine: inout Unpickler) throws(TensorIOError) -> PickleValue {
        if case .global(let name) = cls {
            switch name {
            case orderedDict, "builtins.dict": return try machine.allocate(.dict(PickleDict()))
            case "builtins.list": return try machine.allocate(.list([]))
            case "builtins.set": return try machine.allocate(.set([]))
            default: break
            }
        }
        return try machine.allocate(.opaque(OpaqueObject(global: describe(cls, machine), arguments: arguments)))
    }

    // MARK: Persistent ids (storages)

    /// `('storage', storage_type, key, location, numel)` in zip files; the legacy format adds a
    /// sixth element, `view_metadata` = None or (view_key, offset, size).
    static func persistentLoad(_ id: PickleValue, style: Unpickler.PersistentIDStyle, machine: inout Unpickler) throws(TensorIOError) -> PickleValue {
        guard let fields = itemsOf(id, machine), let first = fields.first else {
            throw machine.failure("persistent id \(id.shortDescription) is not a tuple")
        }
        guard case .string(let kind) = first else { throw machine.failure("persistent id kind \(first.shortDescription) is not a string") }
        guard kind == "storage" else {
            // Legacy files may pickle whole modules as ('module', type, source_file, source).
            return try machine.allocate(.opaque(OpaqueObject(global: "<persistent \(kind)>", arguments: [])))
        }
        let expected = style == .zip ? 5 : 6
        guard fields.count == expected else {
            throw machine.failure("storage persistent id has \(fields.count) fields, expected \(expected)")
        }
        guard case .global(let rawType) = fields[1] else {
            throw machine.failure("storage type \(fields[1].shortDescription) is not a class name")
        }
        guard case .string(let key) = fields[2], case .string(let location) = fields[3], case .int(let count) = fields[4] else {
            throw machine.failure("storage persistent id fields are not (str key, str location, int numel)")
        }
        guard count >= 0 else { throw machine.failure("storage '\(key)' has negative size \(count)") }
        let typeName = normalizedStorageName(rawType)
        var view: LegacyStorageView?
        if style == .legacy, fields[5] != .none {
            guard let parts = itemsOf(fields[5], machine), parts.count == 3,
                  case .string(let viewKey) = parts[0], case .int(let offset) = parts[1], case .int(let size) = parts[2],
                  offset >= 0, size >= 0 else {
                throw machine.failure("legacy storage view metadata is not (str, int >= 0, int >= 0)")
            }
            view = LegacyStorageView(viewKey: viewKey, elementOffset: offset, elementCount: size)
        }
        let dtype = storageDTypes[typeName]
        let record = StorageRecord(
            key: key, typeName: typeName, dtype: dtype,
            elementSize: dtype?.byteSize ?? unsupportedStorageSizes[typeName],
            declaredElementCount: count, location: location, legacyView: view)
        return try machine.allocate(.storage(record))
    }

    // MARK: Tensors

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`
    /// (v3 adds a dtype at index 6; `_rebuild_tensor` stops after stride).
    private static func tensor(_ arguments: [PickleValue], explicitDType: DType?, function: String,
                               machine: inout Unpickler) throws(TensorIOError) -> PickleValue {
        guard arguments.count >= 4 else { throw machine.failure("\(function) needs at least 4 arguments, got \(arguments.count)") }
        guard case .object(let storageIndex) = arguments[0], case .storage(let storage) = machine.objects[storageIndex] else {
            throw machine.failure("\(function): first argument is \(arguments[0].shortDescription), not a storage")
        }
        guard case .int(let offset) = arguments[1], offset >= 0 else {
            throw machine.failure("\(function): storage offset \(arguments[1].shortDescription) is not an integer >= 0")
        }
        let shape = try integers(arguments[2], what: "size", function: function, machine: machine)
        let strides = try integers(arguments[3], what: "stride", function: function, machine: machine)
        guard shape.count == strides.count else {
            throw machine.failure("\(function): size has \(shape.count) dimensions but stride has \(strides.count)")
        }
        guard let dtype = explicitDType ?? storage.dtype else {
            return try machine.allocate(.opaque(OpaqueObject(global: storage.typeName, arguments: [])))
        }
        return try machine.allocate(.tensor(TensorRecord(
            storage: storage, dtype: dtype, storageOffset: offset, shape: shape, strides: strides, isParameter: false)))
    }

    private static func integers(_ value: PickleValue, what: String, function: String, machine: Unpickler) throws(TensorIOError) -> [Int] {
        guard let items = itemsOf(value, machine) else {
            throw machine.failure("\(function): \(what) is \(value.shortDescription), not a tuple")
        }
        guard items.count <= 64 else { throw machine.failure("\(function): \(what) has \(items.count) dimensions (at most 64)") }
        var result: [Int] = []
        for item in items {
            guard case .int(let number) = item, number >= 0 else {
                throw machine.failure("\(function): \(what) entry \(item.shortDescription) is not an integer >= 0")
            }
            result.append(number)
        }
        return result
    }

    private static func itemsOf(_ value: PickleValue, _ machine: Unpickler) -> [PickleValue]? {
        switch machine.object(value) {
        case .tuple(let items)?, .list(let items)?: items
        default: nil
        }
    }

    private static func describe(_ value: PickleValue, _ machine: Unpickler) -> String {
        if case .global(let name) = value { return name }
        if case .opaque(let opaque)? = machine.object(value) { return opaque.global }
        return value.shortDescription
    }
}
