"""PyTorch reader fixtures (fixtures/torch/), written by the real torch.

Run through scripts/make_fixtures.py, or alone:
    /work/main/.venv/bin/python scripts/fixturegen/torch_files.py <repo root>

Every readable fixture is written by torch.save and read back by torch.load; manifest.json records,
for each tensor torch returns, its dtype, shape and the SHA-256 of its contiguous little-endian
bytes. Hostile files are built byte by byte (raw pickles, hand-written zips) and the manifest says
what the reader must do with each: report a skip or fail with a message containing a phrase.
Deterministic: fixed seeds, fixed zip timestamps.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import io
import json
import pathlib
import struct
import sys
import tarfile
import zipfile
import zlib

import numpy as np
import torch

DTYPE_NAMES = {
    torch.float16: "F16", torch.bfloat16: "BF16", torch.float32: "F32", torch.float64: "F64",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL", torch.uint16: "U16", torch.float8_e4m3fn: "F8_E4M3",
}


def tensor_record(t: torch.Tensor) -> dict:
    raw = t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
    assert sys.byteorder == "little"
    return {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape), "sha256": hashlib.sha256(raw).hexdigest()}


def flatten(obj, prefix="") -> dict:
    """State-dict style names for the tensors torch returns (dicts and lists joined with dots)."""
    out = {}
    if isinstance(obj, torch.Tensor):
        out[prefix or "<root>"] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out.update(flatten(v, f"{prefix}.{i}" if prefix else str(i)))
    return out


# ---------------------------------------------------------------------------------------------
# A small zip writer (APPNOTE 6.3) for ZIP64, deflated and hostile archives.

def write_zip(entries, *, zip64=False, deflate=(), align=64) -> bytes:
    """entries: [(name: str, data: bytes)]; names are written verbatim (hostile names allowed)."""
    out = io.BytesIO()
    central = []
    for name, data in entries:
        raw_name = name.encode()
        method = 8 if name in deflate else 0
        payload = data
        if method == 8:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            payload = c.compress(data) + c.flush()
        crc = zlib.crc32(data) & 0xFFFFFFFF
        offset = out.tell()
        extra = b""
        if zip64:
            extra = struct.pack("<HHQQ", 1, 16, len(data), len(payload))
        # Pad the local extra field so stored data starts on an `align` boundary, as torch does.
        base = offset + 30 + len(raw_name) + len(extra)
        pad = (-(base + 4)) % align if method == 0 else 0
        if method == 0:
            extra += struct.pack("<HH", 0x4246, pad) + b"Z" * pad
        size_c = 0xFFFFFFFF if zip64 else len(payload)
        size_u = 0xFFFFFFFF if zip64 else len(data)
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, 0, method, 0, 0x21,
                              crc, size_c, size_u, len(raw_name), len(extra)))
        out.write(raw_name + extra + payload)
        central.append((raw_name, method, crc, len(payload), len(data), offset))
    cd_start = out.tell()
    for raw_name, method, crc, size_c, size_u, offset in central:
        extra = struct.pack("<HHQQQ", 1, 24, size_u, size_c, offset) if zip64 else b""
        out.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45 if zip64 else 20, 45 if zip64 else 20, 0,
                              method, 0, 0x21, crc,
                              0xFFFFFFFF if zip64 else size_c, 0xFFFFFFFF if zip64 else size_u,
                              len(raw_name), len(extra), 0, 0, 0, 0, 0xFFFFFFFF if zip64 else offset))
        out.write(raw_name + extra)
    cd_size = out.tell() - cd_start
    if zip64:
        record = out.tell()
        out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(central), len(central),
                              cd_size, cd_start))
        out.write(struct.pack("<IIQI", 0x07064B50, 0, record, 1))
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    else:
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), cd_size, cd_start, 0))
    return out.getvalue()


def torch_zip_entries(path: pathlib.Path):
    with zipfile.ZipFile(path) as z:
        return [(info.filename, z.read(info.filename)) for info in z.infolist()]


# ---------------------------------------------------------------------------------------------
# Raw pickle pieces for hostile files.

def pk_str(s: str) -> bytes:
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def pk_global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def pk_int(n: int) -> bytes:
    return b"J" + struct.pack("<i", n) if n < 2**31 else b"\x8a\x08" + struct.pack("<q", n)


def pk_tuple(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"


def pk_tensor(key: str, storage: str, numel: int, size, stride, offset=0) -> bytes:
    """_rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict())."""
    pid = pk_tuple(pk_str("storage"), pk_global("torch", storage), pk_str(key), pk_str("cpu"), pk_int(numel))
    return (pk_global("torch._utils", "_rebuild_tensor_v2") +
            pk_tuple(pid + b"Q", pk_int(offset), pk_tuple(*map(pk_int, size)), pk_tuple(*map(pk_int, stride)),
                     b"\x89", pk_global("collections", "OrderedDict") + b")R") + b"R")


def pk_dict(items) -> bytes:
    return b"\x80\x02}(" + b"".join(pk_str(k) + v for k, v in items) + b"u."


def torch_archive(pickle: bytes, storages: dict, folder="archive", extra=()) -> list:
    entries = [(f"{folder}/data.pkl", pickle), (f"{folder}/byteorder", b"little")]
    entries += [(f"{folder}/data/{k}", v) for k, v in storages.items()]
    entries += [(f"{folder}/version", b"3\n")] + list(extra)
    return entries


# ---------------------------------------------------------------------------------------------

def build(repo_root: pathlib.Path) -> None:
    out = repo_root / "fixtures" / "torch"
    out.mkdir(parents=True, exist_ok=True)
    (out / "hostile").mkdir(exist_ok=True)
    (out / "sharded").mkdir(exist_ok=True)
    torch.manual_seed(20260526)
    manifest = {"generator": f"torch {torch.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}",
                "files": {}, "hostile": {}}

    def record(name, *, prefix=None, skipped=(), fmt="pytorch-zip", expected=None, load_kwargs=None):
        path = out / name
        loaded = torch.load(path, weights_only=False, **(load_kwargs or {}))
        if expected is None:
            node = loaded
            for part in (prefix.split(".") if prefix else []):
                node = node[part]
            expected = flatten(node)
        manifest["files"][name] = {
            "format": fmt, "prefix": prefix, "skipped": [list(s) for s in skipped],
            "tensors": {k: tensor_record(v) for k, v in expected.items()},
        }

    # 1. Every dtype, contiguous.
    dtypes = {
        "f16": torch.randn(4, 5).half(), "bf16": torch.randn(3, 7).bfloat16(), "f32": torch.randn(2, 3, 4),
        "f64": torch.randn(5).double(), "i64": torch.randint(-2**40, 2**40, (6,)), "i32": torch.randint(-1000, 1000, (2, 2), dtype=torch.int32),
        "i16": torch.randint(-300, 300, (7,), dtype=torch.int16), "i8": torch.randint(-128, 127, (9,), dtype=torch.int8),
        "u8": torch.randint(0, 255, (3, 3), dtype=torch.uint8), "bool": torch.rand(11) > 0.5,
        "u16": torch.tensor([1, 2, 65535], dtype=torch.int32).to(torch.uint16),
        "f8": torch.tensor([0.5, 1.0, -2.0, 448.0]).to(torch.float8_e4m3fn),
    }
    torch.save(dtypes, out / "dtypes.pt")
    record("dtypes.pt")

    # 2. Views: shared storage, transposed, storage offset, strided slices, expand (stride 0),
    #    0-dim, empty, Parameter.
    base = torch.arange(48, dtype=torch.float32).reshape(6, 8)
    views = collections.OrderedDict()
    views["base"] = base
    views["transposed"] = base.t()
    views["row_slice"] = base[2:4]                # contiguous, storage offset 16
    views["column_step"] = base[:, 1::3]          # non-contiguous, offset 1
    views["offset_1d"] = base.view(-1)[5:17]
    views["expanded"] = torch.tensor([1.5, -2.0, 3.25]).expand(4, 3)
    views["permuted"] = torch.randn(2, 3, 4).half().permute(2, 0, 1)
    views["scalar"] = torch.tensor(3.5)
    views["scalar_i64"] = torch.tensor(-7)
    views["empty"] = torch.zeros(0, 5)
    views["param"] = torch.nn.Parameter(torch.randn(3, 2))
    views["param_frozen"] = torch.nn.Parameter(torch.randn(2).bfloat16(), requires_grad=False)
    torch.save(views, out / "views.pt")
    record("views.pt")

    # 3. Nested checkpoint (Lightning-like): state dict under "state_dict", plus globals outside
    #    the allowlist that must be reported, not built.
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3), torch.nn.Linear(3, 2).half())
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model[1](model[0](torch.randn(2, 4))).sum().backward()
    opt.step()
    opt.zero_grad()
    nested = {
        "epoch": 7,
        "global_step": 1234,
        "state_dict": model.state_dict(),
        "ema": {k: v.clone() for k, v in model.state_dict().items()},
        "optimizer_states": [opt.state_dict()],
        "hyper_parameters": argparse.Namespace(lr=0.1, name="tiny"),
        "best_score": np.float64(0.25),
    }
    torch.save(nested, out / "nested.ckpt")
    record("nested.ckpt", prefix="state_dict", skipped=[("hyper_parameters", "argparse.Namespace"),
                                                          ("best_score", "numpy._core.multiarray.scalar")])

    # 4. State dict under "model.module" (DataParallel inside a trainer dict).
    torch.save({"model": {"module": model.state_dict()}, "step": 3}, out / "model_module.pt")
    record("model_module.pt", prefix="model.module")

    # 5. A whole module pickled (torch.save(model)): classes are skipped, parameters still load.
    torch.save(model, out / "whole_module.pt")
    record("whole_module.pt", expected=model.state_dict(),
           skipped=[("<root>", "torch.nn.modules.container.Sequential"),
                    ("0", "torch.nn.modules.linear.Linear"), ("1", "torch.nn.modules.normalization.LayerNorm"),
                    ("2", "torch.nn.modules.linear.Linear")])

    # 6. Legacy (non-zip) format with shared storage, views and a Parameter.
    legacy = collections.OrderedDict(
        a=base, b=base.t(), c=base[1:3], p=torch.nn.Parameter(torch.randn(4).half()), s=torch.tensor(2), e=torch.zeros(0))
    torch.save(legacy, out / "legacy.pt", _use_new_zipfile_serialization=False)
    make_legacy_keys_deterministic(out / "legacy.pt")
    record("legacy.pt", fmt="pytorch-legacy")
    # Protocol 1 (text LONG magic number, no PROTO): torch 2.13's own weights_only loader refuses it.
    torch.save(legacy, out / "legacy_protocol1.pt", _use_new_zipfile_serialization=False, pickle_protocol=1)
    make_legacy_keys_deterministic(out / "legacy_protocol1.pt", protocol=1)
    record("legacy_protocol1.pt", fmt="pytorch-legacy")

    # 7. The same archive re-written as ZIP64 and with deflated entries; torch itself must load both.
    entries = torch_zip_entries(out / "dtypes.pt")
    (out / "zip64.pt").write_bytes(write_zip(entries, zip64=True))
    record("zip64.pt", expected=flatten(dtypes))
    (out / "deflated.pt").write_bytes(write_zip(entries, deflate={n for n, _ in entries}))
    record("deflated.pt", expected=flatten(dtypes))

    # 8. Sharded .bin with an index, as transformers writes it.
    sd = {f"layer.{i}.weight": torch.randn(4, 4).half() for i in range(4)}
    shard_names = ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"]
    weight_map = {}
    for s, keys in enumerate([list(sd)[:2], list(sd)[2:]]):
        torch.save({k: sd[k] for k in keys}, out / "sharded" / shard_names[s])
        weight_map.update({k: shard_names[s] for k in keys})
    (out / "sharded" / "pytorch_model.bin.index.json").write_text(json.dumps(
        {"metadata": {"total_size": sum(v.numel() * 2 for v in sd.values())}, "weight_map": weight_map}, indent=2) + "\n")
    manifest["files"]["sharded/pytorch_model.bin.index.json"] = {
        "format": "sharded", "prefix": None, "skipped": [], "tensors": {k: tensor_record(v) for k, v in sd.items()}}

    # An empty state dict: tests that need a valid but tensor-less PyTorch file (IFCore snapshots).
    torch.save({}, out / "empty_state_dict.bin")
    record("empty_state_dict.bin")

    # 9. Pickle protocols other than torch's default 2 (1 has no PROTO/TUPLE2/NEWTRUE; 4 and 5 add
    #    FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL).
    small = collections.OrderedDict(w=torch.randn(3, 2).half(), t=base.t(), n=torch.tensor([True, False]))
    for protocol in (1, 4, 5):
        torch.save(small, out / f"protocol{protocol}.pt", pickle_protocol=protocol)
        record(f"protocol{protocol}.pt")

    # 10. Plain CPython pickles of every opcode family (protocols 0-5), decoded by the unit tests.
    (out / "pickles").mkdir(exist_ok=True)
    value = {"ints": [0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31 - 1, 2**31, 2**63 - 1, -2**63],
             "big": 2**80, "neg_big": -(2**70), "float": -1.25, "text": "h\u00e9llo \u2603", "bytes": b"\x00\xffab",
             "none": None, "bools": (True, False), "tuple3": (1, 2, 3), "nested": [[1], {"k": "v"}], "set": {7},
             "shared": None}
    shared = ["same"]
    value["shared"] = [shared, shared]
    for protocol in range(6):
        (out / "pickles" / f"protocol{protocol}.pkl").write_bytes(__import__("pickle").dumps(value, protocol=protocol))
    (out / "pickles" / "expected.txt").write_text(canonical(value) + "\n")

    build_unet_bin(repo_root, out, manifest, record)
    build_hostile(out, manifest)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def build_unet_bin(repo_root: pathlib.Path, out: pathlib.Path, manifest: dict, record) -> None:
    """The fixture UNet as diffusers writes `.bin` weights (save_pretrained(safe_serialization=False)
    ends in torch.save(state_dict, path)), plus a snapshot folder that has only `.bin` weights."""
    unet = repo_root / "fixtures" / "IF-I-tiny" / "unet"
    source = unet / "diffusion_pytorch_model.fp16.safetensors"
    if not source.exists():
        print("torch_files: fixtures/IF-I-tiny/unet not generated yet; UNet .bin skipped", file=sys.stderr)
        return
    from diffusers import UNet2DConditionModel
    import shutil
    model = UNet2DConditionModel.from_pretrained(unet, variant="fp16", torch_dtype=torch.float16, low_cpu_mem_usage=False)
    target = unet / "diffusion_pytorch_model.fp16.bin"
    model.save_pretrained(out / "_unet_tmp", safe_serialization=False, variant="fp16")
    shutil.move(out / "_unet_tmp" / "diffusion_pytorch_model.fp16.bin", target)
    shutil.rmtree(out / "_unet_tmp")
    record("../IF-I-tiny/unet/diffusion_pytorch_model.fp16.bin")

    snapshot = out / "bin_only_snapshot"
    (snapshot / "unet").mkdir(parents=True, exist_ok=True)
    (snapshot / "scheduler").mkdir(exist_ok=True)
    index = json.loads((repo_root / "fixtures" / "IF-I-tiny" / "model_index.json").read_text())
    for key in ("text_encoder", "tokenizer", "safety_checker", "watermarker", "feature_extractor"):
        index[key] = [None, None]
    (snapshot / "model_index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    shutil.copy(unet / "config.json", snapshot / "unet" / "config.json")
    shutil.copy(repo_root / "fixtures" / "IF-I-tiny" / "scheduler" / "scheduler_config.json",
                snapshot / "scheduler" / "scheduler_config.json")
    shutil.copy(target, snapshot / "unet" / "diffusion_pytorch_model.bin")
    record("bin_only_snapshot/unet/diffusion_pytorch_model.bin")


def build_hostile(out: pathlib.Path, manifest: dict) -> None:
    h = out / "hostile"
    good = pk_tensor("0", "FloatStorage", 4, (2, 2), (2, 1))
    storage0 = {"0": struct.pack("<4f", 1, 2, 3, 4)}

    def hostile(name, data, **expect):
        (h / name).write_bytes(data)
        manifest["hostile"][name] = expect

    def archive(pickle, storages=storage0, **kw):
        return write_zip(torch_archive(pickle, storages, **kw))

    # Code execution attempts: reported as skipped objects, never called; the tensor beside loads.
    hostile("os_system.pt", archive(pk_dict([
        ("weight", good), ("payload", pk_global("os", "system") + pk_tuple(pk_str("echo pwned > /tmp/pwned")) + b"R")])),
        outcome="skip", tensors=["weight"], skipped=[["payload", "os.system"]])
    hostile("builtins_eval.pt", archive(pk_dict([
        ("weight", good), ("x", pk_global("builtins", "eval") + pk_tuple(pk_str("__import__('os').system('id')")) + b"R")])),
        outcome="skip", tensors=["weight"], skipped=[["x", "builtins.eval"]])
    # STACK_GLOBAL spelling + BUILD on the result: still only a name.
    hostile("stack_global.pt", archive(
        b"\x80\x04}(" + pk_str("weight") + good + pk_str("obj") + pk_str("subprocess") + pk_str("Popen") + b"\x93" +
        pk_tuple(pk_str("id")) + b"R}b" + b"u."),
        outcome="skip", tensors=["weight"], skipped=[["obj", "subprocess.Popen"]])
    # Zip structure attacks.
    hostile("path_traversal.pt", write_zip(torch_archive(pk_dict([("weight", good)]), storage0,
                                                         extra=[("../../etc/passwd", b"root:x:0:0\n")])),
            outcome="error", message="path traversal")
    hostile("missing_storage.pt", archive(pk_dict([("weight", pk_tensor("7", "FloatStorage", 4, (2, 2), (2, 1)))])),
            outcome="error", message="has no entry 'archive/data/7'")
    hostile("storage_too_small.pt", archive(pk_dict([("weight", pk_tensor("0", "FloatStorage", 4, (10, 10), (10, 1)))])),
            outcome="error", message="needs 400 bytes of storage '0', which has 16")
    hostile("view_past_storage.pt", archive(pk_dict([("weight", pk_tensor("0", "FloatStorage", 4, (2, 2), (1, 2), offset=1))])),
            outcome="error", message="needs 20 bytes of storage '0', which has 16")
    hostile("absurd_shape.pt", archive(pk_dict([("weight", pk_tensor("0", "FloatStorage", 4, (2**62, 2**62), (1, 1)))])),
            outcome="error", message="overflows")
    plain = write_zip(torch_archive(pk_dict([("weight", good)]), storage0))
    hostile("unsupported_method.pt", patch_method(plain, "archive/data/0", 12), outcome="error",
            message="uses compression method 12", read_tensors=True)
    hostile("encrypted_entry.pt", patch_flags(plain, "archive/data/0", 1), outcome="error",
            message="is encrypted", read_tensors=True)
    hostile("local_name_mismatch.pt", rename_local(plain, "archive/data/0", "archive/data/9"),
            outcome="error", message="local header names it 'archive/data/9'", read_tensors=True)
    hostile("stack_underflow.pt", archive(b"\x80\x02R."), outcome="error", message="stack underflow")
    hostile("absurd_string.pt", archive(b"\x80\x02X\xff\xff\xff\xff."), outcome="error", message="truncated or absurd size")
    hostile("no_stop.pt", archive(b"\x80\x02}q\x00"), outcome="error", message="without a STOP opcode")
    hostile("bad_memo.pt", archive(b"\x80\x02h\x09."), outcome="error", message="memo key 9 was never stored")
    # Deflate bombs: 64 MiB of zeros (64 KiB compressed) declared as 4 KiB, and a declared size
    # deflate cannot reach.
    bomb = write_zip(torch_archive(pk_dict([("weight", pk_tensor("0", "ByteStorage", 4096, (4096,), (1,)))]),
                                   {"0": bytes(64 << 20)}), deflate={"archive/data/0"})
    bomb = patch_uncompressed_size(bomb, "archive/data/0", 4096)
    hostile("deflate_bomb.pt", bomb, outcome="error", message="inflates to more than the declared 4096 bytes", read_tensors=True)
    ratio = write_zip(torch_archive(pk_dict([("weight", pk_tensor("0", "ByteStorage", 4096, (4096,), (1,)))]),
                                    {"0": bytes(4096)}), deflate={"archive/data/0"})
    ratio = patch_uncompressed_size(ratio, "archive/data/0", 0xFFFFFFF0)
    hostile("deflate_ratio.pt", ratio, outcome="error", message="beyond what deflate can encode", read_tensors=True)
    # Truncations of a real torch file and of a legacy file.
    real = (out / "dtypes.pt").read_bytes()
    hostile("truncated_half.pt", real[: len(real) // 2], outcome="error", message="no zip end-of-central-directory record")
    hostile("truncated_tail.pt", real[:-30], outcome="error", message="end-of-central-directory")
    legacy = (out / "legacy.pt").read_bytes()
    hostile("truncated_legacy.pt", legacy[: len(legacy) - 40], outcome="error", message="truncated")
    hostile("truncated_legacy_pickle.pt", legacy[:300], outcome="error", message="truncated")
    # Other formats.
    hostile("not_torch.pkl", b"\x80\x02}q\x00X\x01\x00\x00\x00aK\x01s.", outcome="error", message="magic number")
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in ["sys_info", "pickle", "tensors", "storages"]:
            info = tarfile.TarInfo(entry)
            info.size, info.mtime = 4, 0
            tar.addfile(info, io.BytesIO(b"\x80\x02N."))
    hostile("old_tar_format.pt", tar_bytes.getvalue(), outcome="error", message="tar-based checkpoint format")


def canonical(v) -> str:
    """A rendering the Swift tests reproduce from the unpickled tree (strings as code points, ints
    beyond 64 bits as <bigint>)."""
    if v is None or isinstance(v, bool):
        return repr(v)
    if isinstance(v, int):
        return str(v) if -2**63 <= v < 2**63 else "<bigint>"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return "s'" + ".".join(f"{ord(c):x}" for c in v) + "'"
    if isinstance(v, bytes):
        return "b'" + v.hex() + "'"
    if isinstance(v, list):
        return "[" + ", ".join(map(canonical, v)) + "]"
    if isinstance(v, tuple):
        return "(" + ", ".join(map(canonical, v)) + ")"
    if isinstance(v, (set, frozenset)):
        return "{" + ", ".join(map(canonical, sorted(v))) + "}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{canonical(k)}: {canonical(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


ELEMENT_SIZES = {"HalfStorage": 2, "BFloat16Storage": 2, "FloatStorage": 4, "DoubleStorage": 8, "LongStorage": 8,
                 "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1}


def make_legacy_keys_deterministic(path: pathlib.Path, protocol: int = 2) -> None:
    """The legacy format keys storages by memory address and writes them sorted by that key, so two
    runs differ. Renumber the keys by first use in the object pickle (a protocol-2 pickle holds no
    byte offsets, so string lengths may change) and put the key list and storage blocks in that order."""
    import pickle
    import pickletools
    data = path.read_bytes()
    stream = io.BytesIO(data)
    ops = [op for _ in range(5) for op in pickletools.genops(stream)]
    stops = [pos for op, _, pos in ops if op.name == "STOP"]
    keys_start, keys_end = stops[3] + 1, stops[4] + 1
    keys = pickle.loads(data[keys_start:keys_end])
    # Element size per key: the storage class is the value pushed just before the key in its pid.
    memo, last, order, sizes = {}, None, [], {}
    for op, arg, pos in ops:
        if pos >= keys_start:
            break
        if op.name == "GLOBAL":
            last = arg
        elif op.name in ("BINPUT", "LONG_BINPUT"):
            memo[arg] = last
        elif op.name in ("BINGET", "LONG_BINGET"):
            last = memo.get(arg)
        elif op.name in ("BINUNICODE", "SHORT_BINUNICODE"):
            if arg in keys and arg not in sizes:
                order.append(arg)
                sizes[arg] = ELEMENT_SIZES[last.split(" ")[1]]
            last = arg
        else:
            last = None
    blocks, offset = {}, keys_end
    for key in keys:
        (count,) = struct.unpack_from("<q", data, offset)
        length = 8 + count * sizes[key]
        blocks[key], offset = data[offset:offset + length], offset + length
    head = data[:keys_start]
    renamed = {key: str(i) for i, key in enumerate(order)}
    for key, new in renamed.items():
        head = head.replace(b"X" + struct.pack("<I", len(key)) + key.encode(),
                            b"X" + struct.pack("<I", len(new)) + new.encode())
    key_list = pickle.dumps([renamed[k] for k in order], protocol=protocol)
    path.write_bytes(head + key_list + b"".join(blocks[k] for k in order) + data[offset:])


def _patch_headers(data: bytes, name: str, local_field: int, central_field: int, fmt: str, value: int) -> bytes:
    buf = bytearray(data)
    raw = name.encode()
    for sig, field, name_len_at, name_start_at in ((b"PK\x03\x04", local_field, 26, 30), (b"PK\x01\x02", central_field, 28, 46)):
        pos = 0
        while (pos := buf.find(sig, pos)) >= 0:
            (n,) = struct.unpack_from("<H", buf, pos + name_len_at)
            if bytes(buf[pos + name_start_at:pos + name_start_at + n]) == raw:
                struct.pack_into(fmt, buf, pos + field, value)
            pos += 4
    return bytes(buf)


def patch_method(data: bytes, name: str, method: int) -> bytes:
    return _patch_headers(data, name, 8, 10, "<H", method)


def patch_flags(data: bytes, name: str, flags: int) -> bytes:
    return _patch_headers(data, name, 6, 8, "<H", flags)


def rename_local(data: bytes, name: str, new: str) -> bytes:
    """Changes the name in the entry's local header only (same length)."""
    assert len(name) == len(new)
    buf = bytearray(data)
    pos = 0
    while (pos := buf.find(b"PK\x03\x04", pos)) >= 0:
        (n,) = struct.unpack_from("<H", buf, pos + 26)
        if bytes(buf[pos + 30:pos + 30 + n]) == name.encode():
            buf[pos + 30:pos + 30 + n] = new.encode()
            break
        pos += 4
    return bytes(buf)


def patch_uncompressed_size(data: bytes, name: str, size: int) -> bytes:
    """Rewrites an entry's declared uncompressed size in its local and central headers."""
    buf = bytearray(data)
    raw = name.encode()
    for sig, field in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        pos = 0
        while (pos := buf.find(sig, pos)) >= 0:
            name_len_at = 26 if sig == b"PK\x03\x04" else 28
            name_start = pos + (30 if sig == b"PK\x03\x04" else 46)
            (n,) = struct.unpack_from("<H", buf, pos + name_len_at)
            if bytes(buf[name_start:name_start + n]) == raw:
                struct.pack_into("<I", buf, pos + field, size)
            pos += 4
    return bytes(buf)


if __name__ == "__main__":
    build(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2]))
