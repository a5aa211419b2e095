import IFCore

/// The CPU reference runner: kernels, T5 encoder, IF UNets, sampling loops and `verify`.
public enum IFRunner {}
