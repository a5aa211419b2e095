"""The peer for scripts/bench/convert_t5.sh: the same safetensors -> GGUF conversion (dtypes kept)
with the `gguf` PyPI package's GGUFWriter (gguf-py, llama.cpp's Python writer), fed zero-copy
numpy memmaps of the shards so that it never loads the checkpoint up front. Names longer than 63
bytes are shortened like ifconvert does (gguf-py itself would write them; ggml would refuse them).

Usage: python scripts/bench/gguf_py_convert.py INDEX.json OUT.gguf
"""
import hashlib
import json
import os
import struct
import sys

import numpy as np
from gguf import GGUFWriter

DTYPES = {"F16": np.float16, "F32": np.float32, "BF16": np.uint16, "I64": np.int64}


def short(name: str) -> str:
    raw = name.encode()
    if len(raw) <= 63:
        return name
    return raw[:54].decode(errors="ignore") + "~" + hashlib.sha256(raw).hexdigest()[:8]


def main() -> None:
    index_path, out = sys.argv[1], sys.argv[2]
    folder = os.path.dirname(index_path)
    index = json.load(open(index_path))
    writer = GGUFWriter(out, "deepfloyd_if")
    for shard in sorted(set(index["weight_map"].values())):
        path = os.path.join(folder, shard)
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
        start = 8 + n
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            begin, end = entry["data_offsets"]
            array = np.memmap(path, dtype=DTYPES[entry["dtype"]], mode="r", offset=start + begin, shape=tuple(entry["shape"]))
            writer.add_tensor(short(name), array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main()
