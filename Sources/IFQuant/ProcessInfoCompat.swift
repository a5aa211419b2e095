import Foundation

enum ProcessInfoCompat {
    static var activeProcessorCount: Int { ProcessInfo.processInfo.activeProcessorCount }
}
