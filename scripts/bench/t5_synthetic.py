#!/usr/bin/env python3
"""Synthetic T5-v1.1-XXL-width encoder checkpoints and transformers timings for scripts/bench/t5.sh.

make   FOLDER --layers N : writes FOLDER/{config.json, model.safetensors.index.fp16.json,
                           model.fp16-0000i-of-0000n.safetensors} in IF's published layout (fp16, FFN `wo`
                           kept fp32), random weights with transformers' T5 init scales, one shard per
                           layer so that generation stays within ~1.5 GB of memory.
torch  FOLDER BUNDLE     : loads it in transformers (fp32, as IF's published fp32 weights would be), runs
                           2 x 77 tokens, prints the median compute time (wall and CPU) of RUNS (3) runs
                           after a warm-up and the
                           peak RSS as JSON, and writes a reference bundle (docs/VERIFY.md) for `verify`.
Not a test; data stays outside the repository (default /work/bench-data).
"""
import json, os, resource, statistics, sys, time

import numpy as np

D_MODEL, D_FF, HEADS, D_KV, VOCAB = 4096, 10240, 64, 64, 32128


def config(layers):
    return {"architectures": ["T5EncoderModel"], "d_ff": D_FF, "d_kv": D_KV, "d_model": D_MODEL,
            "dense_act_fn": "gelu_new", "dropout_rate": 0.1, "eos_token_id": 1, "feed_forward_proj": "gated-gelu",
            "initializer_factor": 1.0, "is_encoder_decoder": True, "is_gated_act": True, "layer_norm_epsilon": 1e-06,
            "model_type": "t5", "num_decoder_layers": layers, "num_heads": HEADS, "num_layers": layers,
            "pad_token_id": 0, "relative_attention_max_distance": 128, "relative_attention_num_buckets": 32,
            "tie_word_embeddings": False, "torch_dtype": "float16", "vocab_size": VOCAB}


def make(folder, layers):
    from safetensors.numpy import save_file
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    inner = HEADS * D_KV

    def normal(shape, std, dtype=np.float16):
        out = np.empty(shape, dtype=dtype)
        rows = max(1, (1 << 24) // int(np.prod(shape[1:])))
        for start in range(0, shape[0], rows):
            block = rng.standard_normal((min(rows, shape[0] - start),) + tuple(shape[1:]), dtype=np.float32)
            out[start:start + rows] = block * std
        return out

    shards = layers + 1
    weight_map = {}

    def shard_name(i):
        return f"model.fp16-{i + 1:05d}-of-{shards:05d}.safetensors"

    first = {"shared.weight": normal((VOCAB, D_MODEL), 1.0),
             "encoder.final_layer_norm.weight": np.ones(D_MODEL, np.float16),
             "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight": normal((32, HEADS), D_MODEL ** -0.5)}
    save_file(first, os.path.join(folder, shard_name(0)))
    weight_map.update({name: shard_name(0) for name in first})
    for i in range(layers):
        p = f"encoder.block.{i}."
        tensors = {
            p + "layer.0.SelfAttention.q.weight": normal((inner, D_MODEL), (D_MODEL * D_KV) ** -0.5),
            p + "layer.0.SelfAttention.k.weight": normal((inner, D_MODEL), D_MODEL ** -0.5),
            p + "layer.0.SelfAttention.v.weight": normal((inner, D_MODEL), D_MODEL ** -0.5),
            p + "layer.0.SelfAttention.o.weight": normal((D_MODEL, inner), inner ** -0.5),
            p + "layer.0.layer_norm.weight": np.ones(D_MODEL, np.float16),
            p + "layer.1.DenseReluDense.wi_0.weight": normal((D_FF, D_MODEL), D_MODEL ** -0.5),
            p + "layer.1.DenseReluDense.wi_1.weight": normal((D_FF, D_MODEL), D_MODEL ** -0.5),
            p + "layer.1.DenseReluDense.wo.weight": normal((D_MODEL, D_FF), D_FF ** -0.5, np.float32),
            p + "layer.1.layer_norm.weight": np.ones(D_MODEL, np.float16),
        }
        save_file(tensors, os.path.join(folder, shard_name(i + 1)))
        weight_map.update({name: shard_name(i + 1) for name in tensors})
        del tensors
        print(f"layer {i + 1}/{layers}", file=sys.stderr)
    with open(os.path.join(folder, "model.safetensors.index.fp16.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=1)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config(layers), f, indent=1)


def run_torch(folder, bundle):
    import torch
    from safetensors.torch import save_file
    from transformers import T5EncoderModel
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    start = time.perf_counter()
    model = T5EncoderModel.from_pretrained(folder, variant="fp16", dtype=torch.float32).eval()
    load = time.perf_counter() - start
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(2, 32000, (2, 77), generator=generator)
    mask = torch.ones(2, 77, dtype=torch.int64)
    ids[0, 20] = 1; ids[0, 21:] = 0; mask[0, 21:] = 0  # one padded prompt, one full
    ids[1, 76] = 1
    times, cpu_times = [], []
    with torch.inference_mode():
        out = model(input_ids=ids, attention_mask=mask).last_hidden_state  # warm-up
        for _ in range(int(os.environ.get("RUNS", "3"))):
            start, cpu_start = time.perf_counter(), time.process_time()
            out = model(input_ids=ids, attention_mask=mask).last_hidden_state
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
    save_file({"in.input_ids": ids.contiguous(), "in.attention_mask": mask.contiguous(),
               "out.last_hidden_state": out.float().contiguous()}, bundle, metadata={"kind": "t5"})
    print(json.dumps({"load_seconds": load, "compute_seconds": statistics.median(times), "runs": times,
                      "compute_cpu_seconds": statistics.median(cpu_times),
                      "threads": torch.get_num_threads(), "torch": torch.__version__,
                      "peak_memory_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[sys.argv.index("--layers") + 1]))
    elif sys.argv[1] == "torch":
        run_torch(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
