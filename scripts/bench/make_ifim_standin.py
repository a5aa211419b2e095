#!/usr/bin/env python3
"""Writes the benchmark input: an fp16 GGUF of the IF-I-M stand-in UNet (IF-FACTS section 9:
block_out_channels [192, 384, 576, 768], 371,605,830 parameters, ~0.74 GB) with seeded random
weights, built from diffusers on the meta device from unet_bench.CONFIG (the UNet unet.sh times).
Large data: keep it outside the repo.

    /work/main/.venv/bin/python scripts/bench/make_ifim_standin.py /work/bench-data/ifim-standin.f16.gguf
"""

from __future__ import annotations

import math
import pathlib
import sys

import numpy as np
import torch
from diffusers import UNet2DConditionModel
import gguf

# The same UNet scripts/bench/unet.sh times (one definition of the stand-in for both benchmarks).
from unet_bench import CONFIG


def main(out: pathlib.Path) -> None:
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(CONFIG)
    shapes = [(k, tuple(v.shape)) for k, v in unet.state_dict().items()]
    rng = np.random.default_rng(0)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out), "deepfloyd_if")
    writer.add_string("if.component", "unet")
    for name, shape in shapes:
        fan_in = math.prod(shape[1:]) if len(shape) > 1 else 1
        data = (rng.standard_normal(shape, dtype=np.float32) / math.sqrt(fan_in)).astype(np.float16)
        writer.add_tensor(name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"{out}: {len(shapes)} tensors, {sum(math.prod(s) for _, s in shapes)} parameters")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/work/bench-data/ifim-standin.f16.gguf"))
