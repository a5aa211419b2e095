#!/usr/bin/env python3
"""Interop check (not a test; needs Python + a built ifconvert): quantizes a float pack with
`ifconvert quantize` to every scheme and has gguf-py read the result.

- q8_0 / q4_0: gguf-py quantizes the same float tensors ([out, in*kh*kw] rows); bytes must be equal.
- every scheme (q4_k and int8_rowwise included): gguf-py dequantizes our tensors (int8_rowwise:
  I8 x its F32 `:scale` companion), and the relative RMS error against the float source must equal
  the one ifconvert reported from its own dequantization (same values -> same sums).

    /work/main/.venv/bin/python scripts/check_quant_interop.py [FLOAT_PACK] [--ifconvert PATH]

Without FLOAT_PACK, one is written from fixtures/IF-I-tiny/unet (fp16) with gguf-py's writer.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize
from safetensors.numpy import load_file

REPO = pathlib.Path(__file__).resolve().parent.parent


def float_pack_from_fixture(path: pathlib.Path) -> None:
    tensors = load_file(str(REPO / "fixtures/IF-I-tiny/unet/diffusion_pytorch_model.fp16.safetensors"))
    writer = gguf.GGUFWriter(str(path), "deepfloyd_if")
    writer.add_string("if.component", "unet")
    for name, value in tensors.items():
        writer.add_tensor(name, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pack", nargs="?")
    parser.add_argument("--ifconvert", default=None)
    args = parser.parse_args()
    binary = args.ifconvert or subprocess.run(["swift", "build", "--show-bin-path"], cwd=REPO, check=True,
                                              capture_output=True, text=True).stdout.strip() + "/ifconvert"
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = pathlib.Path(tmp)
        source_path = pathlib.Path(args.pack) if args.pack else tmpdir / "float.gguf"
        if not args.pack:
            float_pack_from_fixture(source_path)
        source = {t.name: np.asarray(t.data) for t in gguf.GGUFReader(str(source_path)).tensors}
        for scheme in ("q8_0", "q4_0", "q4_k", "int8"):
            out = tmpdir / f"{scheme}.gguf"
            report_path = tmpdir / f"{scheme}.json"
            subprocess.run([binary, "quantize", str(source_path), "-o", str(out), "--type", scheme, "--force",
                            "--report", str(report_path)], check=True, stdout=subprocess.DEVNULL)
            report = json.loads(report_path.read_text())
            ours = {t.name: t for t in gguf.GGUFReader(str(out)).tensors}
            checked = 0
            for entry in report["tensors"]:
                target = entry["target"]
                if target not in ("q8_0", "q4_0", "q4_k", "int8"):
                    continue
                name, rows = entry["name"], entry["shape"][0]
                original = source[name].astype(np.float32).reshape(rows, -1)
                stored = ours[name]
                if target == "int8":
                    scale = np.asarray(ours[name + ":scale"].data, dtype=np.float32).reshape(rows, 1)
                    values = np.asarray(stored.data, dtype=np.int8).reshape(rows, -1).astype(np.float32) * scale
                else:
                    qtype = {"q8_0": T.Q8_0, "q4_0": T.Q4_0, "q4_k": T.Q4_K}[target]
                    raw = np.asarray(stored.data)
                    values = dequantize(raw, qtype).reshape(rows, -1)
                    if target in ("q8_0", "q4_0"):
                        theirs = quantize(original, qtype).reshape(-1, 34 if target == "q8_0" else 18)
                        mine = raw.reshape(theirs.shape)
                        differ = (theirs != mine).any(axis=1)
                        # Known, documented divergence: a q4_0 block of only zeros that starts with
                        # -0.0 gets d = +0 from gguf-py (argmax picks the -0.0) and d = -0 from
                        # ggml's C and ifconvert. Same values; only the sign of d's zero differs.
                        all_zero = (original.reshape(len(differ), -1) == 0).all(axis=1)
                        if (differ & ~all_zero).any():
                            print(f"{scheme}: {name}: {int((differ & ~all_zero).sum())} blocks differ from gguf.quants.quantize", file=sys.stderr)
                            failures += 1
                x = original.astype(np.float64)
                err = float(np.sum((x - values.astype(np.float64)) ** 2))
                sig = float(np.sum(x * x))
                rel = (err / sig) ** 0.5 if sig > 0 else 0.0
                if abs(rel - entry["relativeRMSError"]) > 1e-9 * max(1.0, rel):
                    print(f"{scheme}: {name}: gguf-py dequantization gives relative RMS {rel:.12e}, ifconvert reported {entry['relativeRMSError']:.12e}", file=sys.stderr)
                    failures += 1
                checked += 1
            print(f"{scheme}: {checked} quantized tensors read back by gguf-py, "
                  f"overall relative RMS {report['summary']['overallRelativeRMSError']:.3e}")
    print("OK" if failures == 0 else f"{failures} mismatches")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
