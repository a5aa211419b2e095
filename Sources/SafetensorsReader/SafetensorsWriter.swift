#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
#endif

/// Writes a safetensors file deterministically: tensors in the order they were added, data packed
/// back to back from offset 0, compact JSON header (keys as added, `__metadata__` first with sorted
/// keys) padded with spaces to a multiple of 8 bytes like the reference writer, so that data starts
/// 8-byte aligned. Files go to a temporary name next to the target and are renamed into place only
/// when complete.
public struct SafetensorsWriter {
    private struct Entry {
        let name: String
        let dtype: DType
        let shape: [Int]
        let data: ByteSlice
    }

    public var metadata: [String: String]
    private var entries: [Entry] = []
    private var names = Set<String>()

    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    public var tensorCount: Int { entries.count }

    /// Adds a tensor; its bytes are read only when writing. Throws on a duplicate name, a reserved
    /// name or a byte count that does not match shape x dtype.
    public mutating func append(name: String, dtype: DType, shape: [Int], data: ByteSlice) throws(TensorIOError) {
        guard name != "__metadata__" else {
            throw .malformed(path: "safetensors writer", message: "'__metadata__' is reserved and cannot name a tensor")
        }
        guard names.insert(name).inserted else {
            throw .malformed(path: "safetensors writer", message: "tensor '\(name)' added twice")
        }
        guard let needed = CheckedMath.byteCount(shape: shape, dtype: dtype), needed == data.byteCount else {
            names.remove(name)
            throw .malformed(path: "safetensors writer",
                             message: "tensor '\(name)': shape \(shape) x \(dtype.rawValue) does not match the \(data.byteCount) bytes given")
        }
        entries.append(Entry(name: name, dtype: dtype, shape: shape, data: data))
    }

    public mutating func append(name: String, dtype: DType, shape: [Int], bytes: [UInt8]) throws(TensorIOError) {
        try append(name: name, dtype: dtype, shape: shape, data: ByteSlice(bytes: bytes))
    }

    public mutating func append(_ view: TensorView) throws(TensorIOError) {
        try append(name: view.name, dtype: view.dtype, shape: view.shape, data: view.data)
    }

    /// The 8-byte length prefix and the padded JSON header.
    public func headerBytes() -> [UInt8] {
        var root = JSONObject()
        if !metadata.isEmpty {
            root.append("__metadata__", .object(JSONObject(metadata.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) })))
        }
        var offset = 0
        for entry in entries {
            let end = offset + entry.data.byteCount
            root.append(entry.name, .object(JSONObject([
                ("dtype", .string(entry.dtype.rawValue)),
                ("shape", .ints(entry.shape)),
                ("data_offsets", .ints([offset, end])),
            ])))
            offset = end
        }
        var json = Array(JSONValue.object(root).serialized().utf8)
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        var result: [UInt8] = []
        result.reserveCapacity(8 + json.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { result.append(contentsOf: $0) }
        result.append(contentsOf: json)
        return result
    }

    /// The whole file in memory (tests, small files).
    public func serializedBytes() -> [UInt8] {
        var bytes = headerBytes()
        for entry in entries { entry.data.withUnsafeBytes { bytes.append(contentsOf: $0) } }
        return bytes
    }

    /// Writes to `path` through a temporary file in the same folder and an atomic rename; on any
    /// failure the temporary file is removed and `path` is left untouched.
    public func write(to path: String) throws(TensorIOError) {
        let temporary = path + ".partial-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .io(path: temporary, message: "cannot create: \(String(cString: strerror(errno)))")
        }
        var closed = false
        do throws(TensorIOError) {
            try writeAll(fd, headerBytes(), path: temporary)
            for entry in entries {
                var failure: TensorIOError?
                entry.data.withUnsafeBytes { raw in
                    do throws(TensorIOError) { try writeAll(fd, raw, path: temporary) } catch { failure = error }
                }
                if let failure { throw failure }
            }
            closed = true
            guard close(fd) == 0 else {
                throw .io(path: temporary, message: "cannot close: \(String(cString: strerror(errno)))")
            }
            guard rename(temporary, path) == 0 else {
                throw .io(path: path, message: "cannot rename \(temporary) into place: \(String(cString: strerror(errno)))")
            }
        } catch {
            if !closed { close(fd) }
            unlink(temporary)
            throw error
        }
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(TensorIOError) {
        var failure: TensorIOError?
        bytes.withUnsafeBytes { raw in
            do throws(TensorIOError) { try writeAll(fd, raw, path: path) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    private func writeAll(_ fd: Int32, _ raw: UnsafeRawBufferPointer, path: String) throws(TensorIOError) {
        guard let base = raw.baseAddress else { return }
        var written = 0
        while written < raw.count {
            // Bounded chunks: some kernels cap a single write near 2 GiB.
            let chunk = min(raw.count - written, 1 << 30)
            let n = systemWrite(fd, base + written, chunk)
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, message: "write failed after \(written) bytes: \(String(cString: strerror(errno)))")
            }
            written += n
        }
    }
}
