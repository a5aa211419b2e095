import IFCore

/// The CPU reference runner: kernels (Kernels/), weight access (Weights/), the T5 encoder and its
/// tokenizer (T5/), and `verify` against reference bundles (Verify/).
public enum IFRunner {}
