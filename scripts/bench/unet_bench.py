"""Benchmark peer for scripts/bench/unet.sh (not a test).

make DIR   build a ~372M-parameter IF-I-M-sized stand-in UNet (IF-FACTS §9: IF-I-XL structure with
           block_out_channels [192, 384, 576, 768]), random weights, saved as DIR/unet/{config.json,
           diffusion_pytorch_model.fp16.safetensors}, plus DIR/bundle.safetensors: one CFG-sized forward
           (batch 2, 64x64, 77 tokens of width 4096) computed by diffusers in fp32 from the fp16 values.
time DIR   time diffusers' fp32 forward of that bundle (same weights, AttnAddedKVProcessor) with the
           thread count of OMP_NUM_THREADS; print JSON {median_seconds, runs, peak_rss_bytes}.
sgemm      the system OpenBLAS (the library ifconvert links) on a large square sgemm, through ctypes,
           with OPENBLAS_NUM_THREADS threads: print JSON {gflops} (the peak to compare against).
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
    # As a user loads it: the fp16 variant, upcast to float32 for CPU inference.
    unet = UNet2DConditionModel.from_pretrained(str(directory / "unet"), variant="fp16", torch_dtype=torch.float32)
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
    seconds, cpu = [], []
    with torch.no_grad():
        for _ in range(runs):
            start, cpu_start = time.perf_counter(), time.process_time()
            out = unet(bundle["in.sample"], bundle["in.timestep"], encoder_hidden_states=bundle["in.encoder_hidden_states"]).sample
            seconds.append(time.perf_counter() - start)
            cpu.append(time.process_time() - cpu_start)
    error = float((out - bundle["out.sample"]).norm() / bundle["out.sample"].norm())
    print(json.dumps({"median_seconds": statistics.median(seconds), "seconds": seconds, "runs": runs,
                      "median_cpu_seconds": statistics.median(cpu), "cpu_seconds": cpu,
                      "threads": torch.get_num_threads(), "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "rerun_relative_l2": error}))


def sgemm_peak(n=3072, runs=5):
    import ctypes
    import numpy as np
    blas = ctypes.CDLL("libopenblas.so.0")
    a = np.random.rand(n, n).astype(np.float32)
    b = np.random.rand(n, n).astype(np.float32)
    c = np.zeros((n, n), dtype=np.float32)
    p = lambda x: x.ctypes.data_as(ctypes.c_void_p)
    blas.cblas_sgemm.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                                      ctypes.c_float, ctypes.c_void_p, ctypes.c_int]
    blas.openblas_get_corename.restype = ctypes.c_char_p
    if blas.openblas_get_corename() == b"Prescott" and "OPENBLAS_CORETYPE" not in os.environ:
        print("OpenBLAS fell back to Prescott kernels; rerun with OPENBLAS_CORETYPE=SkylakeX (ifconvert does this itself)", file=sys.stderr)
    best, cpu = [], []
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), time.process_time()
        blas.cblas_sgemm(101, 111, 111, n, n, n, 1.0, p(a), n, p(b), n, 0.0, p(c), n)  # row-major, no transposes
        best.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    print(json.dumps({"n": n, "gflops": 2 * n ** 3 / min(best) / 1e9, "median_gflops": 2 * n ** 3 / statistics.median(best) / 1e9,
                      "cpu_gflops": 2 * n ** 3 / min(cpu) / 1e9, "core": blas.openblas_get_corename().decode(),
                      "threads": blas.openblas_get_num_threads()}))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "sgemm":
        sgemm_peak()
        sys.exit(0)
    directory = pathlib.Path(sys.argv[2])
    if mode == "make":
        make(directory)
    else:
        time_forward(directory, int(sys.argv[3]) if len(sys.argv) > 3 else 3)
