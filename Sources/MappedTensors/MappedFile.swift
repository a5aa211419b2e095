#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A read-only memory mapping of a whole file. The one owner of `mmap`/`munmap` in the package:
/// tensor views keep a reference to it (through `ByteStorage`), so the mapping outlives every view.
public final class MappedFile: ByteStorage, @unchecked Sendable {
    // SAFETY: the mapping is read-only and never remapped, so sharing it across threads is safe.
    public let path: String
    public let byteCount: Int
    private let base: UnsafeRawPointer?

    /// Maps `path` read-only. A zero-length file maps to an empty buffer.
    public init(readingAt path: String) throws(TensorIOError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw .io(path: path, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw .io(path: path, message: "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw .io(path: path, message: "not a regular file")
        }
        byteCount = Int(info.st_size)
        if byteCount == 0 {
            base = nil
            return
        }
        let mapped = mmap(nil, byteCount, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw .io(path: path, message: "cannot mmap \(byteCount) bytes: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapped)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), byteCount) }
    }

    public var storageDescription: String { path }

    public func withUnsafeBytes<R>(
        in range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> R
    ) rethrows -> R {
        precondition(range.lowerBound >= 0 && range.upperBound <= byteCount, "range outside mapping")
        guard let base else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try body(UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count))
    }

    /// Tells the kernel the pages of `range` will not be needed again soon (bounded-RSS streaming).
    public func releasePages(in range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (range.lowerBound / page) * page
        let end = min(byteCount, range.upperBound)
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, Int32(MADV_DONTNEED))
    }

    /// Maps the pages of `range` now, in `madvise(MADV_POPULATE_READ)` calls of at most 64 MiB
    /// (Linux 5.14+), instead of one page fault per 64 KiB later; a no-op where unsupported.
    public func populate(in range: Range<Int>) {
        #if os(Linux)
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var start = (range.lowerBound / page) * page
        let end = min(byteCount, range.upperBound)
        while start < end {
            let length = min(64 << 20, end - start)
            _ = madvise(UnsafeMutableRawPointer(mutating: base + start), length, 22 /* MADV_POPULATE_READ */)
            start += length
        }
        #endif
    }

    /// Asks the kernel to read `range` ahead (sequential scans).
    public func adviseSequential(in range: Range<Int>) {
        guard let base, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (range.lowerBound / page) * page
        let end = min(byteCount, range.upperBound)
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, Int32(MADV_WILLNEED))
    }
}
