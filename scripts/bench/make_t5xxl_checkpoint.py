"""Writes a synthetic T5-v1.1-XXL-encoder-shaped sharded checkpoint for the reader benchmark:
the tensor names, shapes and dtypes of text_encoder/model.fp16-0000{1,2}-of-00002.safetensors in
the DeepFloyd IF snapshots (fp16, FFN `wo` in fp32; 11.54 GB, see docs/IF-FACTS), with
model.safetensors.index.fp16.json. Values are a cheap repeating pattern (the benchmark measures
I/O, not numerics). Streams to disk: memory use stays small.

Usage: python scripts/bench/make_t5xxl_checkpoint.py [OUT_DIR=/work/bench-data/t5xxl]
Never commit the output (11.5 GB).
"""
from __future__ import annotations

import json
import os
import struct
import sys

D_MODEL, D_FF, HEADS, D_KV, LAYERS, VOCAB, BUCKETS = 4096, 10240, 64, 64, 24, 32128, 32
MAX_SHARD = 10 * 1000**3  # transformers' "10GB" max_shard_size
SIZES = {"F16": 2, "F32": 4}


def tensors() -> list[tuple[str, str, list[int]]]:
    out = [("shared.weight", "F16", [VOCAB, D_MODEL])]
    inner = HEADS * D_KV
    for i in range(LAYERS):
        p = f"encoder.block.{i}.layer"
        for m in "qkvo":
            shape = [inner, D_MODEL] if m != "o" else [D_MODEL, inner]
            out.append((f"{p}.0.SelfAttention.{m}.weight", "F16", shape))
        if i == 0:
            out.append((f"{p}.0.SelfAttention.relative_attention_bias.weight", "F16", [BUCKETS, HEADS]))
        out.append((f"{p}.0.layer_norm.weight", "F16", [D_MODEL]))
        out.append((f"{p}.1.DenseReluDense.wi_0.weight", "F16", [D_FF, D_MODEL]))
        out.append((f"{p}.1.DenseReluDense.wi_1.weight", "F16", [D_FF, D_MODEL]))
        out.append((f"{p}.1.DenseReluDense.wo.weight", "F32", [D_MODEL, D_FF]))
        out.append((f"{p}.1.layer_norm.weight", "F16", [D_MODEL]))
    out.append(("encoder.final_layer_norm.weight", "F16", [D_MODEL]))
    return out


def nbytes(dtype: str, shape: list[int]) -> int:
    n = SIZES[dtype]
    for d in shape:
        n *= d
    return n


def write_shard(path: str, items: list[tuple[str, str, list[int]]]) -> None:
    # Reference writer order: larger dtype alignment first, then name.
    items = sorted(items, key=lambda t: (-SIZES[t[1]], t[0]))
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, dtype, shape in items:
        size = nbytes(dtype, shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    block = bytes((i * 37 + 11) & 0xFF for i in range(1 << 20)) * 16  # 16 MiB pattern
    with open(path + ".partial", "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        left = offset
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
    os.replace(path + ".partial", path)


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "/work/bench-data/t5xxl"
    os.makedirs(out, exist_ok=True)
    shards, current, size = [], [], 0
    for t in tensors():
        n = nbytes(t[1], t[2])
        if current and size + n > MAX_SHARD:
            shards.append(current)
            current, size = [], 0
        current.append(t)
        size += n
    shards.append(current)
    weight_map, total = {}, 0
    for i, items in enumerate(shards, 1):
        name = f"model.fp16-{i:05d}-of-{len(shards):05d}.safetensors"
        print(f"writing {name} ({sum(nbytes(t[1], t[2]) for t in items) / 1e9:.2f} GB)", file=sys.stderr)
        write_shard(os.path.join(out, name), items)
        for t in items:
            weight_map[t[0]] = name
            total += nbytes(t[1], t[2])
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(out, "model.safetensors.index.fp16.json"), "w") as f:
        json.dump(index, f, indent=2)
    print(f"total {total / 1e9:.3f} GB in {len(shards)} shards", file=sys.stderr)


if __name__ == "__main__":
    main()
