import IFCore

/// Producing quantized tensors: schemes, policy and error reports (see docs/FORMAT.md).
public enum IFQuant {}
