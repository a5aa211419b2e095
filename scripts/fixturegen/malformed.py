"""Safetensors reader fixtures: malformed files (fixtures/malformed/) and one valid file holding
every dtype plus a scalar and zero-size tensors (fixtures/safetensors/all_dtypes.safetensors).

Each case starts from a valid file written by the real `safetensors` package (numpy API) and then
corrupts bytes or rewrites the header. manifest.json lists, per file, the fragment our error
message must contain (`expect`) and what the reference reader (safetensors.safe_open) said
(`reference`), so the two can be compared. Deterministic: fixed data, no randomness.

Run through scripts/make_fixtures.py, or alone: python scripts/fixturegen/malformed.py
"""
from __future__ import annotations

import json
import pathlib
import struct
import tempfile

import numpy as np
import safetensors
from safetensors import safe_open
from safetensors.numpy import save as st_save


def _valid_bytes() -> bytes:
    tensors = {
        "a": np.arange(4, dtype=np.float32).reshape(2, 2),
        "b": np.arange(6, dtype=np.float16).reshape(2, 3),
        "c": np.arange(3, dtype=np.int64),
    }
    return st_save(tensors, metadata={"format": "np"})


def _split(data: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    return header, data[8 + n :]


def _join(header_text: str, body: bytes, pad: bool = True) -> bytes:
    raw = header_text.encode("utf-8")
    if pad:
        raw += b" " * ((8 - len(raw) % 8) % 8)
    return struct.pack("<Q", len(raw)) + raw + body


def _with_header(mutate) -> bytes:
    header, body = _split(_valid_bytes())
    body = mutate(header, body) or body
    return _join(json.dumps(header, separators=(",", ":")), body)


def _cases() -> dict[str, tuple[bytes, str]]:
    valid = _valid_bytes()
    header, body = _split(valid)
    cases: dict[str, tuple[bytes, str]] = {}

    cases["too_short"] = (valid[:5], "too short for the 8-byte header length")
    cases["truncated"] = (valid[:-4], "run past the end of the data section")
    cases["header_past_eof"] = (struct.pack("<Q", len(valid)) + valid[8:], "runs past the end of the file")
    cases["huge_header_claim"] = (struct.pack("<Q", 1 << 62) + valid[8:], "exceeds the limit of 100000000 bytes")
    n = struct.unpack("<Q", valid[:8])[0]
    broken = bytearray(valid)
    broken[valid.rindex(b"}", 8, 8 + n)] = ord(",")  # closing brace -> trailing comma
    cases["invalid_json"] = (bytes(broken), "invalid JSON at byte")
    cases["not_an_object"] = (_join("[1, 2, 3]", b""), "header must be a JSON object, found an array")

    def overlap(h, _):
        h["b"]["data_offsets"] = [h["b"]["data_offsets"][0] - 8, h["b"]["data_offsets"][1] - 8]
    cases["overlapping_offsets"] = (_with_header(overlap), "overlap tensor")

    # Tensors in data order (the numpy writer sorts by dtype alignment, then name).
    order = sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"])
    first, last = order[0], order[-1]

    def out_of_bounds(h, _):
        # The last tensor claims 8 more bytes than the file holds; shape and offsets stay consistent.
        lo, hi = h[last]["data_offsets"]
        size = {"F32": 4, "F16": 2, "I64": 8}[h[last]["dtype"]]
        h[last]["shape"] = [(hi - lo + 8) // size]
        h[last]["data_offsets"] = [lo, hi + 8]
    cases["out_of_bounds_offsets"] = (_with_header(out_of_bounds), "run past the end of the data section")

    def gap(h, b):
        # 8 zero bytes after the first tensor; later offsets shift, so only the gap is wrong.
        for k in order[1:]:
            lo, hi = h[k]["data_offsets"]
            h[k]["data_offsets"] = [lo + 8, hi + 8]
        cut = h[first]["data_offsets"][1]
        return b[:cut] + b"\0" * 8 + b[cut:]
    cases["gapped_offsets"] = (_with_header(gap), f"leave a gap of 8 bytes after tensor '{first}'")

    def gap_at_start(h, b):
        for k in order:
            lo, hi = h[k]["data_offsets"]
            h[k]["data_offsets"] = [lo + 8, hi + 8]
        return b"\0" * 8 + b
    cases["gap_at_start"] = (_with_header(gap_at_start), "at the start of the data section")

    def mismatch(h, _):
        h["a"]["shape"] = [2, 3]
    cases["byte_count_mismatch"] = (_with_header(mismatch), "hold 16 bytes but shape [2, 3] x F32 needs 24 bytes")

    def overflow(h, _):
        h["a"]["shape"] = [1 << 32, 1 << 32, 4]
    cases["shape_overflow"] = (_with_header(overflow), "overflows a 64-bit byte count")

    def negative(h, _):
        h["a"]["shape"] = [-2, -2]
    cases["negative_dimension"] = (_with_header(negative), "shape[0] is -2, expected a non-negative integer")

    def reversed_offsets(h, _):
        h["a"]["data_offsets"] = [16, 0]
    cases["reversed_offsets"] = (_with_header(reversed_offsets), "end before they begin")

    def unknown_dtype(h, _):
        h["a"]["dtype"] = "F12"
    cases["unknown_dtype"] = (_with_header(unknown_dtype), "unknown dtype 'F12'")

    def missing_field(h, _):
        del h["c"]["shape"]
    cases["missing_shape"] = (_with_header(missing_field), "tensor 'c': missing \"shape\"")

    def bad_metadata(h, _):
        h["__metadata__"] = {"format": "np", "count": 3}
    cases["metadata_not_string"] = (_with_header(bad_metadata), "__metadata__ key 'count' must be a string")

    cases["trailing_bytes"] = (valid + b"\0" * 8, "8 trailing bytes")

    # Duplicate names: json.dumps cannot produce them, so splice the text.
    text = json.dumps(header, separators=(",", ":"))
    dup = text[:-1] + ',"a":' + json.dumps(header["a"], separators=(",", ":")) + "}"
    cases["duplicate_keys"] = (_join(dup, body), "duplicate key 'a'")

    bad_utf8 = _join(text, body)
    i = bad_utf8.index(b'"a"')
    bad_utf8 = bad_utf8[: i + 1] + b"\xff" + bad_utf8[i + 2 :]
    cases["invalid_utf8_name"] = (bad_utf8, "not valid UTF-8")

    nested = dict(header)
    nested_text = json.dumps(nested, separators=(",", ":"))[:-1] + ',"x":{"dtype":"F32","shape":[],"data_offsets":[0,0],"deep":' + "[" * 200 + "]" * 200 + "}}"
    cases["deep_nesting"] = (_join(nested_text, body), "nesting deeper than 128 levels")
    return cases


def _reference_verdict(path: pathlib.Path) -> str:
    try:
        with safe_open(str(path), framework="numpy") as f:
            for k in f.keys():
                f.get_tensor(k)
        return "accepted"
    except Exception as e:  # the reference's own wording, recorded for comparison
        return f"{type(e).__name__}: {e}".splitlines()[0][:200]


def _build_all_dtypes(out: pathlib.Path) -> None:
    """Every dtype the torch writer knows that our DType has, written by safetensors.torch, with
    each tensor's bytes (hex) and values (widened to float64) in a manifest."""
    import torch
    from safetensors.torch import save_file, _TYPES

    wanted = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8",
              "BOOL", "F8_E4M3", "F8_E5M2", "F8_E8M0"]
    base = torch.tensor([[0.0, 1.0, -2.0], [0.5, 3.0, 100.0]], dtype=torch.float64)
    tensors = {}
    for name in wanted:
        dtype = _TYPES.get(name)
        if dtype is None:
            continue
        if dtype == torch.bool:
            t = base != 0
        elif not dtype.is_floating_point and dtype.is_signed is False:
            t = base.abs().to(dtype)
        else:
            t = base.to(dtype)
        tensors[f"t_{name.lower()}"] = t
    tensors["scalar_f32"] = torch.tensor(3.25, dtype=torch.float32)
    tensors["empty_f16"] = torch.zeros((0, 3), dtype=torch.float16)
    tensors["empty_i32"] = torch.zeros((4, 0), dtype=torch.int32)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "all_dtypes.safetensors"
    save_file(tensors, str(path), metadata={"purpose": "every dtype"})
    path.chmod(0o644)
    entries = []
    with safe_open(str(path), framework="pt") as f:
        for key in f.keys():
            t = f.get_tensor(key)
            raw = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
            entries.append({
                "name": key,
                "dtype": next(k for k, v in _TYPES.items() if v == t.dtype),
                "shape": list(t.shape),
                "hex": raw.hex(),
                "values": t.to(torch.float64).flatten().tolist(),
            })
    manifest = {
        "generator": f"scripts/fixturegen/malformed.py (torch {torch.__version__}, safetensors {safetensors.__version__})",
        "file": path.name,
        "metadata": {"purpose": "every dtype"},
        "tensors": entries,
    }
    (out / "all_dtypes.json").write_text(json.dumps(manifest, indent=2) + "\n")


def build(repo_root: pathlib.Path) -> None:
    _build_all_dtypes(repo_root / "fixtures" / "safetensors")
    out = repo_root / "fixtures" / "malformed"
    out.mkdir(parents=True, exist_ok=True)
    manifest = {
        "generator": f"scripts/fixturegen/malformed.py (safetensors {safetensors.__version__}, numpy {np.__version__})",
        "valid": "valid.safetensors",
        "cases": [],
    }
    (out / "valid.safetensors").write_bytes(_valid_bytes())
    for name, (data, expect) in sorted(_cases().items()):
        path = out / f"{name}.safetensors"
        path.write_bytes(data)
        manifest["cases"].append({"file": path.name, "expect": expect, "reference": _reference_verdict(path)})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    build(pathlib.Path(__file__).resolve().parents[2])
