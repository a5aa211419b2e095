"""Helpers shared by the fixture generators: deterministic init and deterministic file writing."""

from __future__ import annotations

import json
import math
import os
import pathlib
import shutil
import tempfile
import zlib

import torch


def seed_for(name: str, base_seed: int) -> int:
    """A per-tensor seed from its name, so adding a tensor never shifts the values of the others."""
    return (base_seed * 1_000_003 + zlib.crc32(name.encode("utf-8"))) % (2**63)


@torch.no_grad()
def reinit_parameters(module: torch.nn.Module, base_seed: int) -> None:
    """Overwrite every parameter with seeded, non-trivial values of a sensible scale.

    diffusers zero-initialises some layers (conv_out, attention to_out, ...) and torch's default init
    depends on the global RNG; neither is acceptable for fixtures that must exercise every tensor.
    - matrices / conv kernels: N(0, 1/fan_in) so activations keep an O(1) scale through the network;
    - 1-D `weight` (GroupNorm / LayerNorm / RMSNorm scales): 1 + N(0, 0.1^2);
    - biases: N(0, 0.05^2);
    - embedding tables and the T5 relative-position bias: N(0, 1) and N(0, 0.5^2).
    """
    for name, param in sorted(module.named_parameters(), key=lambda kv: kv[0]):
        gen = torch.Generator().manual_seed(seed_for(name, base_seed))
        noise = torch.randn(param.shape, generator=gen, dtype=torch.float32)
        if name.endswith("relative_attention_bias.weight"):
            value = 0.5 * noise
        elif name in ("shared.weight", "encoder.embed_tokens.weight"):
            value = noise
        elif name.endswith("positional_embedding"):
            value = noise / math.sqrt(param.shape[-1])
        elif param.ndim >= 2:
            fan_in = param[0].numel()
            value = noise / math.sqrt(fan_in)
        elif name.endswith("bias"):
            value = 0.05 * noise
        else:
            value = 1.0 + 0.1 * noise
        param.copy_(value.to(param.dtype))


def write_json(path: pathlib.Path, obj) -> None:
    """Stable JSON: sorted keys, 2-space indent, trailing newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def fresh_dir(path: pathlib.Path, keep: tuple[str, ...] = ()) -> None:
    """Empty `path` except for the named children (owned by other generators), creating it if needed."""
    path.mkdir(parents=True, exist_ok=True)
    for child in path.iterdir():
        if child.name in keep:
            continue
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def scratch_dir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="ifconvert-fixtures-")


def offline_env() -> None:
    """Never touch the Hugging Face hub while building fixtures."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


_ST_DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL",
}


def write_safetensors(path: pathlib.Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """A safetensors file with a byte-stable layout (the safetensors package orders `__metadata__` keys
    by hash, so its bytes change from run to run): header keys `__metadata__` first, then tensors in name
    order, data laid out in that order, header padded with spaces to a multiple of 8. Written to a
    temporary file and renamed into place.
    """
    import struct

    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = {k: str(metadata[k]) for k in sorted(metadata)}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        tensor = tensors[name].detach().contiguous().cpu()
        raw = tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
        header[name] = {"dtype": _ST_DTYPES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(struct.pack("<Q", len(text)))
        handle.write(text)
        for raw in chunks:
            handle.write(raw)
    os.replace(tmp, path)
