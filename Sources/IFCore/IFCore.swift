@_exported import MappedTensors

/// Version string written into pack provenance and printed by `ifconvert --version`.
public enum IFConvertVersion {
    public static let string = "0.1.0"
}
