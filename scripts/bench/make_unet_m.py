#!/usr/bin/env python3
"""Writes a synthetic IF-I-M-sized stage I UNet (random fp16 weights, the real IF structure) as
diffusers safetensors, for benchmarks only. Shapes come from diffusers' own UNet2DConditionModel built
on the meta device with the IF-FACTS §9 stand-in config (block_out_channels [192, 384, 576, 768]):
371,605,830 parameters, ~0.74 GB in fp16. Output goes outside the repo (default /work/bench-data).
"""
import argparse
import json
import pathlib

import numpy as np
import torch
from diffusers import UNet2DConditionModel
from safetensors.numpy import save_file

CONFIG = dict(
    sample_size=64, in_channels=3, out_channels=6, layers_per_block=3,
    block_out_channels=[192, 384, 576, 768],
    down_block_types=["ResnetDownsampleBlock2D"] + ["SimpleCrossAttnDownBlock2D"] * 3,
    up_block_types=["SimpleCrossAttnUpBlock2D"] * 3 + ["ResnetUpsampleBlock2D"],
    mid_block_type="UNetMidBlock2DSimpleCrossAttn", attention_head_dim=64, cross_attention_dim=768,
    encoder_hid_dim=4096, encoder_hid_dim_type="text_proj", addition_embed_type="text",
    addition_embed_type_num_heads=64, resnet_time_scale_shift="scale_shift", act_fn="gelu",
    cross_attention_norm="group_norm", norm_num_groups=32,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="/work/bench-data/unet-m")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    target = out / "unet" / "diffusion_pytorch_model.fp16.safetensors"
    if target.exists():
        print(target)
        return
    with torch.device("meta"):
        model = UNet2DConditionModel(**CONFIG)
    rng = np.random.default_rng(0)
    tensors = {}
    for name, parameter in model.state_dict().items():
        shape = tuple(parameter.shape)
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        scale = 1.0 / np.sqrt(max(fan_in, 1)) if len(shape) > 1 else 0.1
        tensors[name] = (rng.standard_normal(shape, dtype=np.float32) * scale).astype(np.float16)
    (out / "unet").mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(target))
    (out / "unet" / "config.json").write_text(json.dumps({"_class_name": "UNet2DConditionModel", **CONFIG}, indent=2))
    print(target)


if __name__ == "__main__":
    main()
