"""Benchmark peer for scripts/bench/unet.sh (not a test).

make DIR   build a ~372M-parameter IF-I-M-sized stand-in UNet (IF-FACTS §9: IF-I-XL structure with
           block_out_channels [192, 384, 576, 768]), random weights, saved as DIR/unet/{config.json,
           diffusion_pytorch_model.fp16.safetensors}, plus DIR/bundle.safetensors: one CFG-sized forward
           (batch 2, 64x64, 77 tokens of width 4096) computed by diffusers in fp32 from the fp16 values.
time DIR   time diffusers' fp32 forward of that bundle (same weights, AttnAddedKVProcessor) with the
           thread count of OMP_NUM_THREADS; print JSON {median_seconds, runs, peak_rss_bytes}.
"""
import json, os, pathlib, resource, statistics, sys, time

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import AttnAddedKVProcessor
from safetensors.torch import load_file, save_file

CONFIG = {
    "_class_name": "UNet2DConditionModel", "sample_size": 64, "in_channels": 3, "out_channels": 6,
    "block_out_channels": [192, 384, 576, 768], "layers_per_block": 3, "attention_head_dim": 64,
    "down_block_types": ["ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D", "SimpleCrossAttnDownBlock2D", "SimpleCrossAttnDownBlock2D"],
    "up_block_types": ["SimpleCrossAttnUpBlock2D", "SimpleCrossAttnUpBlock2D", "SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"],
    "mid_block_type": "UNetMidBlock2DSimpleCrossAttn", "act_fn": "gelu", "norm_num_groups": 32, "norm_eps": 1e-5,
    "cross_attention_dim": 768, "cross_attention_norm": "group_norm", "encoder_hid_dim": 4096, "encoder_hid_dim_type": "text_proj",
    "addition_embed_type": "text", "addition_embed_type_num_heads": 64, "resnet_time_scale_shift": "scale_shift",
    "time_embedding_dim": 768, "flip_sin_to_cos": True, "freq_shift": 0,
}


def load(directory):
    unet = UNet2DConditionModel.from_config(CONFIG)
    state = load_file(str(directory / "unet" / "diffusion_pytorch_model.fp16.safetensors"))
    unet.load_state_dict({k: v.float() for k, v in state.items()})
    del state
    unet.set_attn_processor(AttnAddedKVProcessor())
    return unet.eval()


def make(directory):
    torch.manual_seed(0)
    (directory / "unet").mkdir(parents=True, exist_ok=True)
    unet = UNet2DConditionModel.from_config(CONFIG)
    print(f"{sum(p.numel() for p in unet.parameters()):,} parameters", file=sys.stderr)
    (directory / "unet" / "config.json").write_text(json.dumps(CONFIG, indent=1))
    save_file({k: v.half().contiguous() for k, v in unet.state_dict().items()},
              str(directory / "unet" / "diffusion_pytorch_model.fp16.safetensors"))
    del unet
    unet = load(directory)
    sample = torch.randn(2, 3, 64, 64)
    timestep = torch.tensor([981, 981])
    text = torch.randn(2, 77, 4096)
    with torch.no_grad():
        out = unet(sample, timestep, encoder_hidden_states=text).sample
    save_file({"in.sample": sample, "in.timestep": timestep, "in.encoder_hidden_states": text, "out.sample": out.contiguous()},
              str(directory / "bundle.safetensors"), metadata={"kind": "unet"})


def time_forward(directory, runs):
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    unet = load(directory)
    bundle = load_file(str(directory / "bundle.safetensors"))
    seconds = []
    with torch.no_grad():
        for _ in range(runs):
            start = time.perf_counter()
            out = unet(bundle["in.sample"], bundle["in.timestep"], encoder_hidden_states=bundle["in.encoder_hidden_states"]).sample
            seconds.append(time.perf_counter() - start)
    error = float((out - bundle["out.sample"]).norm() / bundle["out.sample"].norm())
    print(json.dumps({"median_seconds": statistics.median(seconds), "seconds": seconds, "runs": runs,
                      "threads": torch.get_num_threads(), "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "rerun_relative_l2": error}))


if __name__ == "__main__":
    mode, directory = sys.argv[1], pathlib.Path(sys.argv[2])
    if mode == "make":
        make(directory)
    else:
        time_forward(directory, int(sys.argv[3]) if len(sys.argv) > 3 else 3)
