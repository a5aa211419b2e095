@_exported import MappedTensors
