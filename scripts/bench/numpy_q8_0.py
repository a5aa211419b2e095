#!/usr/bin/env python3
"""Peer side of scripts/bench/quantize.sh: times gguf-py's `gguf.quants.quantize(..., Q8_0)` (numpy)
on the tensors that ifconvert quantized (from its --report JSON), each viewed as [out, in*kh*kw] as
ifconvert does, and checks that the bytes equal ifconvert's output pack.

    numpy_q8_0.py INPUT.gguf REPORT.json OUTPUT.gguf
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader
from gguf.quants import quantize


def main(input_path: str, report_path: str, output_path: str) -> int:
    report = json.load(open(report_path))
    wanted = {t["name"]: t["shape"] for t in report["tensors"] if t["target"] == "q8_0"}
    source = {t.name: t for t in GGUFReader(input_path).tensors}
    ours = {t.name: t for t in GGUFReader(output_path).tensors}
    elapsed = 0.0
    cpu = 0.0
    input_bytes = 0
    mismatches = 0
    for name, shape in wanted.items():
        data = np.asarray(source[name].data)  # memmap, fp16, GGUF shape = reversed ne
        matrix = data.reshape(shape[0], -1)
        start, cpu_start = time.perf_counter(), time.process_time()
        q = quantize(matrix, GGMLQuantizationType.Q8_0)
        elapsed += time.perf_counter() - start
        cpu += time.process_time() - cpu_start
        input_bytes += matrix.nbytes
        if np.asarray(ours[name].data).tobytes() != q.tobytes():
            mismatches += 1
    print(json.dumps({"tensors": len(wanted), "input_bytes": input_bytes, "seconds": elapsed, "cpu_seconds": cpu,
                      "bytes_equal": mismatches == 0, "mismatched_tensors": mismatches}))
    return 0 if mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
