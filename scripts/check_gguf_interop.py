#!/usr/bin/env python3
"""GGUF interop check: do standard GGUF readers see what ifconvert says a pack holds?

Reads packs with the `gguf` PyPI package (gguf-py, the llama.cpp project's reader; pinned 0.19.0
in /work/main/.venv) and compares, for every tensor, against `ifconvert inspect --json` and the
pack's own records:
  - the GGUF names, ggml types and `ne` (reversed = our PyTorch-order storage shape),
  - the original names / dtypes / shapes inspect prints (records `if.tensor.*`),
  - the tensor bytes gguf-py maps == the bytes of the source checkpoint (provenance files),
  - CRC32C of the bytes gguf-py returns == `if.checksum.crc32c` (tensors up to 64 KiB),
  - general.alignment, data offsets aligned, spiece model bytes == tokenizer/spiece.model.
Also runs `gguf-dump` (gguf-py's dump tool, the counterpart of llama.cpp's dump) and checks it
lists every tensor, and (default mode) exports the IF-I-tiny fp16 packs with
`export --layout diffusers` and loads them with diffusers / transformers `from_pretrained`: every
parameter must equal the one loaded from the original fixture folder.

Usage: scripts/check_gguf_interop.py [--ifconvert BIN] [PACK ...]
Without packs it converts fixtures/IF-I-tiny and fixtures/IF-II-tiny (default, fp16 variant,
--type bf16 and --type f32) into a temp folder and checks those. Exit status 0 when all agree.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
from gguf import GGUFReader
from safetensors import safe_open

ROOT = pathlib.Path(__file__).resolve().parent.parent

GGML_TO_DTYPE = {"F32": "F32", "F16": "F16", "BF16": "BF16", "F64": "F64", "I8": "I8", "I16": "I16", "I32": "I32", "I64": "I64"}
BYTE_WIDTH = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I8": 1, "I16": 2, "I32": 4, "I64": 8}

_CRC_TABLE = None
CRC_LIMIT = 64 << 10


def crc32c(data: bytes) -> int:
    """Table-driven CRC-32C (Castagnoli), the definition ifconvert's hardware path must match."""
    global _CRC_TABLE
    if _CRC_TABLE is None:
        table = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
            table.append(c)
        _CRC_TABLE = np.array(table, dtype=np.uint32)
    crc = 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        crc = int(t[(crc ^ b) & 0xFF]) ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def field_value(reader, key):
    field = reader.fields.get(key)
    if field is None:
        return None
    return field.contents()


def check_pack(path: str, ifconvert: str, source_root: pathlib.Path | None) -> list[str]:
    problems = []
    reader = GGUFReader(path)
    inspect = json.loads(subprocess.run([ifconvert, "inspect", path, "--json"], check=True, capture_output=True, text=True).stdout)
    by_name = {t["name"]: t for t in inspect["tensors"]}

    alignment = field_value(reader, "general.alignment") or 32
    names = field_value(reader, "if.tensor.names")
    gguf_names = field_value(reader, "if.tensor.gguf_names")
    shapes = [json.loads(s) for s in field_value(reader, "if.tensor.shapes")]
    dtypes = field_value(reader, "if.tensor.dtypes")
    encodings = field_value(reader, "if.tensor.encodings")
    crcs = field_value(reader, "if.checksum.crc32c")
    if len(reader.tensors) != len(crcs):
        problems.append(f"{len(reader.tensors)} tensors but {len(crcs)} checksums")
    record_of = {g: i for i, g in enumerate(gguf_names)}

    # Source tensors for a byte comparison (safetensors provenance files only).
    sources = {}
    if source_root is not None:
        for rel in field_value(reader, "if.provenance.source_files"):
            if rel.endswith(".safetensors"):
                handle = safe_open(str(source_root / rel), framework="numpy")
                for key in handle.keys():
                    sources[key] = (handle, key)

    if set(by_name) != set(names):
        problems.append("inspect --json and if.tensor.names list different tensors")
    for index, tensor in enumerate(reader.tensors):
        name = tensor.name
        if len(name.encode()) > 63:
            problems.append(f"{name}: GGUF name longer than 63 bytes")
        if tensor.data_offset % alignment:
            problems.append(f"{name}: data offset {tensor.data_offset} not aligned to {alignment}")
        raw = bytes(np.ascontiguousarray(tensor.data).view(np.uint8).reshape(-1))
        # Pure-Python CRC is slow: recompute it for tensors up to 64 KiB (most of them); the large
        # ones are covered by the byte comparison with the source and by `ifconvert check`.
        if raw and len(raw) <= CRC_LIMIT and crc32c(raw) != crcs[index]:
            problems.append(f"{name}: CRC32C of gguf-py's bytes {crc32c(raw):08x} != recorded {crcs[index]:08x}")
        i = record_of.get(name)
        if i is None:
            continue  # a companion (scale) tensor
        original = names[i]
        storage = [int(x) for x in reversed(tensor.shape.tolist())]
        ggml = tensor.tensor_type.name
        if encodings[i] == "plain":
            width = BYTE_WIDTH.get(ggml)
            dtype = dtypes[i]
            logical = shapes[i]
            if int(np.prod(logical)) != int(np.prod(storage)):
                problems.append(f"{original}: record shape {logical} vs gguf-py ne-reversed {storage}")
            if width is None or len(raw) != int(np.prod(storage)) * width:
                problems.append(f"{original}: gguf-py gives {len(raw)} bytes for {ggml} {storage}")
            entry = by_name.get(original)
            if entry is None or entry["dtype"] != dtype or entry["shape"] != logical:
                problems.append(f"{original}: inspect says {entry and (entry['dtype'], entry['shape'])}, records say {(dtype, logical)}")
            if GGML_TO_DTYPE.get(ggml) != dtype and ggml != "I8":
                # Only 1-byte dtypes (BOOL/U8/F8) are carried in a differently named GGUF type.
                if not (dtype in ("U16", "U32", "U64") and ggml in ("I16", "I32", "I64")):
                    problems.append(f"{original}: dtype {dtype} stored as {ggml}")
            if original in sources:
                handle, key = sources[original]
                src = handle.get_tensor(key)
                if (src.dtype.name == "bfloat16") or dtype == "BF16":
                    pass  # numpy lacks bf16; checked through CRC and export tests instead
                elif src.dtype.itemsize == width and list(src.shape) == logical and src.tobytes() != raw:
                    problems.append(f"{original}: bytes differ from the source checkpoint")
    spiece = field_value(reader, "if.tokenizer.spiece_model")
    if spiece is not None and source_root is not None:
        expected = (source_root / "tokenizer" / "spiece.model").read_bytes()
        if bytes(bytearray(spiece)) != expected:
            problems.append("if.tokenizer.spiece_model differs from tokenizer/spiece.model")
    dump = subprocess.run([sys.executable, "-m", "gguf.scripts.gguf_dump", path], capture_output=True, text=True)
    if dump.returncode != 0:
        problems.append(f"gguf-dump failed: {dump.stderr.strip()[-200:]}")
    else:
        for tensor in reader.tensors:
            if tensor.name not in dump.stdout:
                problems.append(f"gguf-dump does not list {tensor.name}")
    return problems


def check_from_pretrained(ifconvert: str, folder: str) -> bool:
    """export --layout diffusers of the fp16 packs loads in diffusers/transformers, weights equal."""
    import torch
    from diffusers import UNet2DConditionModel
    from transformers import T5EncoderModel
    ok = True
    for component, cls in (("unet", UNet2DConditionModel), ("text_encoder", T5EncoderModel)):
        out = os.path.join(folder, "export-" + component)
        pack = os.path.join(folder, "IF-I-tiny-fp16", component + ".gguf")
        subprocess.run([ifconvert, "export", pack, "-o", out, "--layout", "diffusers"], check=True, capture_output=True)
        loaded = cls.from_pretrained(out).state_dict()
        reference = cls.from_pretrained(str(ROOT / "fixtures/IF-I-tiny" / component), variant="fp16").state_dict()
        same = set(loaded) == set(reference) and all(torch.equal(loaded[k], reference[k]) for k in loaded)
        print(f"{'OK' if same else 'FAIL'} export --layout diffusers {component}: {cls.__name__}.from_pretrained loads {len(loaded)} tensors"
              + (", all equal to the original folder's" if same else ", DIFFERENT from the original folder's"))
        ok &= same
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("packs", nargs="*")
    parser.add_argument("--ifconvert", default=str(ROOT / ".build/debug/ifconvert"))
    parser.add_argument("--source-root", help="snapshot folder the packs were converted from (byte comparison)")
    args = parser.parse_args()
    jobs = []
    temp = None
    if args.packs:
        root = pathlib.Path(args.source_root) if args.source_root else None
        jobs = [(p, root) for p in args.packs]
    else:
        temp = tempfile.TemporaryDirectory(prefix="ifconvert-interop-")
        for snapshot in ("IF-I-tiny", "IF-II-tiny"):
            for label, extra in (("source", []), ("fp16", ["--variant", "fp16"]), ("bf16", ["--type", "bf16"]), ("f32", ["--variant", "fp16", "--type", "f32"])):
                out = os.path.join(temp.name, f"{snapshot}-{label}")
                subprocess.run([args.ifconvert, "convert", str(ROOT / "fixtures" / snapshot), "-o", out] + extra, check=True, capture_output=True)
                for name in sorted(os.listdir(out)):
                    jobs.append((os.path.join(out, name), ROOT / "fixtures" / snapshot if label in ("source", "fp16") else None))
    failed = 0
    for path, root in jobs:
        problems = check_pack(path, args.ifconvert, root)
        label = os.path.relpath(path, temp.name) if temp else path
        reader = GGUFReader(path)
        status = "OK" if not problems else "FAIL"
        print(f"{status} {label}: {len(reader.tensors)} tensors, {len(reader.fields)} fields" + (" (bytes compared with source)" if root else ""))
        for problem in problems[:20]:
            print(f"    {problem}")
        failed += bool(problems)
    print(f"{len(jobs) - failed}/{len(jobs)} packs agree with gguf-py {__import__('gguf').__name__} reader")
    if temp:
        failed += not check_from_pretrained(args.ifconvert, temp.name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
