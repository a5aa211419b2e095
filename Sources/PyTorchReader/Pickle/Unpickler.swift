/// A pickle stack machine (protocols 0 to 5) that never executes or imports anything.
///
/// Globals are names; REDUCE/NEWOBJ/INST/OBJ on an allowlisted name are evaluated by
/// `TorchGlobals` (tensor rebuilding, OrderedDict, ...), anything else becomes an `OpaqueObject`.
/// Every read is bounds-checked, every count is capped, and memory stays proportional to the
/// pickle's size (each opcode creates at most one arena object).
struct Unpickler {
    struct Limits: Sendable {
        /// Arena objects (containers, tensors, skipped objects) one pickle may create.
        var maximumObjectCount = 4_000_000
        /// Values on the stack at once.
        var maximumStackDepth = 8_000_000
        /// Memo entries.
        var maximumMemoCount = 4_000_000
    }

    /// How BINPERSID ids are turned into storages (zip and legacy formats differ).
    enum PersistentIDStyle { case zip, legacy }

    /// Valid only inside `load`, which runs the whole machine within the storage's access scope.
    private let bytes: UnsafeRawBufferPointer
    let name: String
    let path: String
    let limits: Limits
    let persistentIDStyle: PersistentIDStyle
    private(set) var position: Int
    private var opcodeStart = 0
    private var opcode: UInt8 = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private(set) var objects: [PickleObject] = []

    private init(bytes: UnsafeRawBufferPointer, startingAt offset: Int, name: String, path: String,
                 persistentIDStyle: PersistentIDStyle, limits: Limits) {
        self.bytes = bytes
        self.position = offset
        self.name = name
        self.path = path
        self.persistentIDStyle = persistentIDStyle
        self.limits = limits
    }

    /// Runs to STOP and returns the arena and the value left on top.
    static func load(
        _ slice: ByteSlice, startingAt offset: Int = 0, name: String, path: String,
        persistentIDStyle: PersistentIDStyle = .zip, limits: Limits = Limits()
    ) throws(TensorIOError) -> PickleDocument {
        try slice.withBytes { raw throws(TensorIOError) in
            var machine = Unpickler(bytes: raw, startingAt: min(max(offset, 0), raw.count), name: name, path: path,
                                    persistentIDStyle: persistentIDStyle, limits: limits)
            return try machine.run()
        }
    }

    // MARK: Errors and raw reads

    func failure(_ message: String) -> TensorIOError {
        .malformed(path: path, message: "\(name): pickle opcode \(PickleOpcode.name(opcode)) at byte \(opcodeStart): \(message)")
    }

    private mutating func readBytes(_ count: Int) throws(TensorIOError) -> Slice<UnsafeRawBufferPointer> {
        guard count >= 0, count <= bytes.count - position else {
            throw failure("needs \(count) bytes, only \(bytes.count - position) left (truncated pickle)")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    private mutating func readUnsigned(byteCount: Int) throws(TensorIOError) -> UInt64 {
        var value: UInt64 = 0
        for (shift, byte) in try readBytes(byteCount).enumerated() { value |= UInt64(byte) << (8 * UInt64(shift)) }
        return value
    }

    /// A length field: checked against what is left so no allocation can exceed the input.
    private mutating func readLength(byteCount: Int) throws(TensorIOError) -> Int {
        let raw = try readUnsigned(byteCount: byteCount)
        guard raw <= UInt64(bytes.count - position) else {
            throw failure("length \(raw) but only \(bytes.count - position) bytes left (truncated or absurd size)")
        }
        return Int(raw)
    }

    private mutating func readLineBytes() throws(TensorIOError) -> Slice<UnsafeRawBufferPointer> {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else {
            throw failure("no newline before the end of the pickle")
        }
        defer { position = end + 1 }
        return bytes[position..<end]
    }

    private mutating func readLine() throws(TensorIOError) -> String {
        String(decoding: try readLineBytes(), as: UTF8.self)
    }

    // MARK: Stack

    private mutating func push(_ value: PickleValue) throws(TensorIOError) {
        guard stack.count < limits.maximumStackDepth else { throw failure("stack deeper than \(limits.maximumStackDepth)") }
        stack.append(value)
    }

    private mutating func pop() throws(TensorIOError) -> PickleValue {
        guard stack.count > (marks.last ?? 0) else { throw failure("stack underflow") }
        return stack.removeLast()
    }

    private func top() throws(TensorIOError) -> PickleValue {
        guard let value = stack.last, stack.count > (marks.last ?? 0) else { throw failure("stack underflow") }
        return value
    }

    /// Pops everything above the newest MARK, and the mark.
    private mutating func popMark() throws(TensorIOError) -> [PickleValue] {
        guard let mark = marks.popLast() else { throw failure("no MARK on the stack") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    mutating func allocate(_ object: PickleObject) throws(TensorIOError) -> PickleValue {
        guard objects.count < limits.maximumObjectCount else {
            throw failure("more than \(limits.maximumObjectCount) objects")
        }
        objects.append(object)
        return .object(objects.count - 1)
    }

    private mutating func memoize(_ index: Int, _ value: PickleValue) throws(TensorIOError) {
        guard memo.count < limits.maximumMemoCount || memo[index] != nil else {
            throw failure("more than \(limits.maximumMemoCount) memo entries")
        }
        memo[index] = value
    }

    private func memoized(_ index: Int) throws(TensorIOError) -> PickleValue {
        guard let value = memo[index] else { throw failure("memo key \(index) was never stored") }
        return value
    }

    // MARK: The loop

    private mutating func run() throws(TensorIOError) -> PickleDocument {
        while true {
            opcodeStart = position
            guard position < bytes.count else {
                throw .malformed(path: path, message: "\(name): pickle ends at byte \(position) without a STOP opcode (truncated)")
            }
            opcode = bytes[position]
            position += 1
            if opcode == PickleOpcode.stop {
                guard let root = stack.last else { throw failure("STOP with an empty stack") }
                return PickleDocument(objects: objects, root: root, endOffset: position)
            }
            try step()
        }
    }

    private mutating func step() throws(TensorIOError) {
        typealias O = PickleOpcode
        switch opcode {
        // Framing and protocol
        case O.proto:
            let version = try readUnsigned(byteCount: 1)
            guard version <= 5 else { throw failure("protocol \(version); this reader knows 0 to 5") }
        case O.frame:
            _ = try readLength(byteCount: 8)
        // Scalars
        case O.none: try push(.none)
        case O.newTrue: try push(.bool(true))
        case O.newFalse: try push(.bool(false))
        case O.binInt: try push(.int(Int(Int32(truncatingIfNeeded: try readUnsigned(byteCount: 4)))))
        case O.binInt1: try push(.int(Int(try readUnsigned(byteCount: 1))))
        case O.binInt2: try push(.int(Int(try readUnsigned(byteCount: 2))))
        case O.long1: try push(try littleEndianInteger(try readBytes(try readLength(byteCount: 1))))
        case O.long4: try push(try littleEndianInteger(try readBytes(try readLength(byteCount: 4))))
        case O.int: try push(try textInteger(try readLine(), allowBool: true))
        case O.long: try push(try textInteger(try readLine(), allowBool: false))
        case O.float:
            let text = try readLine()
            guard let value = Double(text) else { throw failure("'\(text.debugDescriptionTrimmed)' is not a float") }
            try push(.float(value))
        case O.binFloat: try push(.float(Double(bitPattern: UInt64(bigEndian: UInt64(littleEndian: try readUnsigned(byteCount: 8))))))
        // Strings and bytes
        case O.shortBinUnicode: try push(.string(try utf8(try readBytes(try readLength(byteCount: 1)))))
        case O.binUnicode: try push(.string(try utf8(try readBytes(try readLength(byteCount: 4)))))
        case O.binUnicode8: try push(.string(try utf8(try readBytes(try readLength(byteCount: 8)))))
        case O.unicode: try push(.string(rawUnicodeEscapeDecoded(try readLineBytes())))
        case O.shortBinString: try push(.string(String(decoding: try readBytes(try readLength(byteCount: 1)), as: UTF8.self)))
        case O.binString: try push(.string(String(decoding: try readBytes(try readLength(byteCount: 4)), as: UTF8.self)))
        case O.string: try push(.string(try quotedString(try readLine())))
        case O.shortBinBytes: try push(.bytes(Array(try readBytes(try readLength(byteCount: 1)))))
        case O.binBytes: try push(.bytes(Array(try readBytes(try readLength(byteCount: 4)))))
        case O.binBytes8, O.byteArray8: try push(.bytes(Array(try readBytes(try readLength(byteCount: 8)))))
        // Containers
        case O.mark: marks.append(stack.count)
        case O.emptyTuple: try push(try allocate(.tuple([])))
        case O.tuple: try push(try allocate(.tuple(try popMark())))
        case O.tuple1:
            let a = try pop()
            try push(try allocate(.tuple([a])))
        case O.tuple2:
            let b = try pop(), a = try pop()
            try push(try allocate(.tuple([a, b])))
        case O.tuple3:
            let c = try pop(), b = try pop(), a = try pop()
            try push(try allocate(.tuple([a, b, c])))
        case O.emptyList: try push(try allocate(.list([])))
        case O.list: try push(try allocate(.list(try popMark())))
        case O.emptyDict: try push(try allocate(.dict(PickleDict())))
        case O.dict:
            let items = try popMark()
            try push(try allocate(.dict(try pairs(items))))
        case O.emptySet: try push(try allocate(.set([])))
        case O.frozenSet: try push(try allocate(.set(try popMark())))
        case O.append:
            let value = try pop()
            try append([value], to: try top())
        case O.appends:
            let values = try popMark()
            try append(values, to: try top())
        case O.addItems:
            let values = try popMark()
            try append(values, to: try top())
        case O.setItem:
            let value = try pop(), key = try pop()
            try setItems([(key, value)], on: try top())
        case O.setItems:
            let items = try popMark()
            guard items.count % 2 == 0 else { throw failure("odd number of items (\(items.count)) for SETITEMS") }
            try setItems(stride(from: 0, to: items.count, by: 2).map { (items[$0], items[$0 + 1]) }, on: try top())
        // Stack manipulation and memo
        case O.pop: _ = try popAny()
        case O.popMark: _ = try popMark()
        case O.dup: try push(try top())
        case O.put: try memoize(try textIndex(try readLine()), try top())
        case O.binPut: try memoize(Int(try readUnsigned(byteCount: 1)), try top())
        case O.longBinPut: try memoize(Int(try readUnsigned(byteCount: 4)), try top())
        case O.memoize: try memoize(memo.count, try top())
        case O.get: try push(try memoized(try textIndex(try readLine())))
        case O.binGet: try push(try memoized(Int(try readUnsigned(byteCount: 1))))
        case O.longBinGet: try push(try memoized(Int(try readUnsigned(byteCount: 4))))
        // Globals and object construction: names only, evaluated through the allowlist
        case O.global:
            let module = try readLine(), qualifiedName = try readLine()
            try push(.global(Self.globalName(module: module, name: qualifiedName)))
        case O.stackGlobal:
            let nameValue = try pop(), moduleValue = try pop()
            guard case .string(let qualifiedName) = nameValue, case .string(let module) = moduleValue else {
                throw failure("STACK_GLOBAL needs two strings, got \(moduleValue.shortDescription) and \(nameValue.shortDescription)")
            }
            try push(.global(Self.globalName(module: module, name: qualifiedName)))
        case O.reduce:
            let arguments = try pop(), callable = try pop()
            guard case .tuple(let items)? = object(arguments) else {
                throw failure("REDUCE arguments must be a tuple, got \(arguments.shortDescription)")
            }
            try push(try TorchGlobals.call(callable, arguments: items, machine: &self))
        case O.newObj:
            let arguments = try pop(), cls = try pop()
            try push(try TorchGlobals.instantiate(cls, arguments: items(of: arguments), machine: &self))
        case O.newObjEx:
            _ = try pop()
            let arguments = try pop(), cls = try pop()
            try push(try TorchGlobals.instantiate(cls, arguments: items(of: arguments), machine: &self))
        case O.inst:
            let module = try readLine(), qualifiedName = try readLine()
            let arguments = try popMark()
            try push(try TorchGlobals.instantiate(.global(Self.globalName(module: module, name: qualifiedName)), arguments: arguments, machine: &self))
        case O.obj:
            var arguments = try popMark()
            guard !arguments.isEmpty else { throw failure("OBJ without a class") }
            let cls = arguments.removeFirst()
            try push(try TorchGlobals.instantiate(cls, arguments: arguments, machine: &self))
        case O.build:
            let state = try pop()
            try build(try top(), state: state)
        case O.binPersID:
            let id = try pop()
            try push(try TorchGlobals.persistentLoad(id, style: persistentIDStyle, machine: &self))
        case O.persID:
            throw failure("text persistent ids are not used by torch.save")
        case O.ext1, O.ext2, O.ext4:
            throw failure("the copyreg extension registry is not supported")
        case O.nextBuffer:
            throw failure("out-of-band buffers (protocol 5) are not available in a file")
        case O.readonlyBuffer:
            _ = try top()
        default:
            throw failure("unknown opcode 0x\(String(opcode, radix: 16))")
        }
    }

    /// POP: Python pops the top of the stack, or a whole MARK frame when the top is a mark.
    private mutating func popAny() throws(TensorIOError) -> PickleValue? {
        if let mark = marks.last, mark == stack.count {
            marks.removeLast()
            return nil
        }
        return try pop()
    }

    // MARK: Container mutation

    func object(_ value: PickleValue) -> PickleObject? {
        if case .object(let index) = value { return objects[index] }
        return nil
    }

    private func items(of value: PickleValue) throws(TensorIOError) -> [PickleValue] {
        guard case .tuple(let items)? = object(value) else {
            throw failure("constructor arguments must be a tuple, got \(value.shortDescription)")
        }
        return items
    }

    private func pairs(_ items: [PickleValue]) throws(TensorIOError) -> PickleDict {
        guard items.count % 2 == 0 else { throw failure("odd number of items (\(items.count)) for a dict") }
        var dict = PickleDict()
        for index in stride(from: 0, to: items.count, by: 2) { dict.set(items[index], items[index + 1]) }
        return dict
    }

    /// In-place update that keeps the arena's copy uniquely referenced (no quadratic copies).
    mutating func update(_ index: Int, _ body: (inout PickleObject) throws(TensorIOError) -> Void) throws(TensorIOError) {
        var object = objects[index]
        objects[index] = .tuple([])
        defer { objects[index] = object }
        try body(&object)
    }

    private mutating func append(_ values: [PickleValue], to target: PickleValue) throws(TensorIOError) {
        guard case .object(let index) = target else { throw failure("cannot append to \(target.shortDescription)") }
        let failure = self.failure("cannot append to this object")
        try update(index) { (object: inout PickleObject) throws(TensorIOError) in
            switch object {
            case .list(var items): items.append(contentsOf: values); object = .list(items)
            case .set(var items): items.append(contentsOf: values); object = .set(items)
            case .opaque(var opaque): opaque.listItems.append(contentsOf: values); object = .opaque(opaque)
            default: throw failure
            }
        }
    }

    private mutating func setItems(_ items: [(PickleValue, PickleValue)], on target: PickleValue) throws(TensorIOError) {
        guard case .object(let index) = target else { throw failure("cannot set items on \(target.shortDescription)") }
        let failure = self.failure("cannot set items on this object")
        try update(index) { (object: inout PickleObject) throws(TensorIOError) in
            switch object {
            case .dict(var dict):
                for (key, value) in items { dict.set(key, value) }
                object = .dict(dict)
            case .opaque(var opaque): opaque.dictItems.append(contentsOf: items); object = .opaque(opaque)
            default: throw failure
            }
        }
    }

    /// BUILD: only skipped objects keep their state (it may hold tensors); the `_metadata` state of
    /// an OrderedDict state dict and anything else is dropped.
    private mutating func build(_ target: PickleValue, state: PickleValue) throws(TensorIOError) {
        guard case .object(let index) = target, case .opaque(var opaque) = objects[index] else { return }
        opaque.state = state
        objects[index] = .opaque(opaque)
    }

    static func globalName(module: String, name: String) -> String {
        // Python 2 module names that Python 3's unpickler maps (fix_imports).
        let fixed = switch module {
        case "__builtin__": "builtins"
        case "copy_reg": "copyreg"
        default: module
        }
        return "\(fixed).\(name)"
    }
}
