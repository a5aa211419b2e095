"""GGUF interop fixture for IFQuant: gguf-py's own q8_0 / q4_0 quantization of a seeded matrix, and
gguf-py's dequantization of those bytes and of random q8_0 / q4_0 / q4_k blocks.

Swift tests (Tests/IFQuantTests/GGUFInteropTests.swift) check that our quantizers produce the same
bytes and that our dequantizers produce the same floats, bit for bit. gguf-py has no q4_k quantizer,
so for q4_k only dequantization is compared (on random but valid blocks).

Outputs, all under fixtures/quant/ (little-endian raw arrays; shapes in manifest.json):
  matrix.f32                       float32 [rows, cols], the quantizer input
  q8_0.bin / q4_0.bin              gguf.quants.quantize(matrix, Q8_0 / Q4_0)
  q8_0.dequant.f32 / q4_0...       gguf.quants.dequantize of those bytes
  random_<type>.bin / .dequant.f32 random blocks (finite fp16 scales) and gguf-py's dequantization

The matrix has no subnormals: where 1/d overflows gguf-py casts inf/NaN to int8 (platform-defined),
while ifconvert defines those quants as 0 (docs/QUANTIZATION.md).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

ROWS, COLS = 12, 512
SEED = 20240606


def _matrix(rng: np.random.Generator) -> np.ndarray:
    m = (rng.standard_normal((ROWS, COLS)) * 0.02).astype(np.float32)
    m[1] *= 50                                      # a large-scale row
    m[2] = 0                                        # an all-zero row
    m[3] = (rng.integers(-100, 100, COLS) + 0.5).astype(np.float32)
    m[3, ::32] = 127                                # absmax 127: d = 1, x * id lands on .5 exactly
    m[4] *= 1e-4                                    # d underflows fp16, 1/d is finite
    m[5, 5::32] = -0.5                              # +-max ties: q4_0 takes the first
    m[5, 9::32] = 0.5
    m[6, 7::32] = 3.0                               # one outlier per block
    m[7] = rng.standard_normal(COLS).astype(np.float16).astype(np.float32)   # fp16-representable
    return m


def _random_blocks(rng: np.random.Generator, block_bytes: int, scale_fields: int, count: int) -> np.ndarray:
    blocks = rng.integers(0, 256, (count, block_bytes), dtype=np.uint8)
    scales = (rng.standard_normal((count, scale_fields)) * 0.01).astype(np.float16)
    blocks[:, : 2 * scale_fields] = scales.view(np.uint8).reshape(count, 2 * scale_fields)
    return blocks


def build(repo_root: pathlib.Path) -> None:
    import gguf
    from gguf import GGMLQuantizationType as T
    from gguf.quants import dequantize, quantize

    out = repo_root / "fixtures" / "quant"
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    matrix = _matrix(rng)
    files: dict[str, dict] = {}

    def write(name: str, array: np.ndarray, shape: list[int], dtype: str) -> None:
        (out / name).write_bytes(np.ascontiguousarray(array).tobytes())
        files[name] = {"shape": shape, "dtype": dtype}

    write("matrix.f32", matrix, [ROWS, COLS], "F32")
    for name, qtype in (("q8_0", T.Q8_0), ("q4_0", T.Q4_0)):
        q = quantize(matrix, qtype)
        write(f"{name}.bin", q, [ROWS, COLS], name)
        write(f"{name}.dequant.f32", dequantize(q, qtype).astype(np.float32), [ROWS, COLS], "F32")

    for name, qtype, block_bytes, scale_fields, block_len in (
        ("q8_0", T.Q8_0, 34, 1, 32), ("q4_0", T.Q4_0, 18, 1, 32), ("q4_k", T.Q4_K, 144, 2, 256)
    ):
        count = 16
        blocks = _random_blocks(rng, block_bytes, scale_fields, count)
        values = dequantize(blocks.reshape(1, -1), qtype).astype(np.float32)
        write(f"random_{name}.bin", blocks, [1, count * block_len], name)
        write(f"random_{name}.dequant.f32", values, [1, count * block_len], "F32")

    manifest = {
        "generator": "scripts/fixturegen/quant_reference.py",
        "gguf": gguf.__version__ if hasattr(gguf, "__version__") else _version("gguf"),
        "numpy": np.__version__,
        "seed": SEED,
        "files": files,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _version(name: str) -> str:
    import importlib.metadata

    return importlib.metadata.version(name)


if __name__ == "__main__":
    build(pathlib.Path(__file__).resolve().parents[2])
