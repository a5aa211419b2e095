import Testing
@testable import PyTorchReader
