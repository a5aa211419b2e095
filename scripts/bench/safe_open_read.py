"""Peer measurement for scripts/bench/open_sharded.sh: Python safetensors on the same shards.
Prints JSON: open_seconds (safe_open of every shard + listing keys, per repeat) and read_seconds
(get_tensor of every tensor, numpy framework: mmap + copy into arrays, per repeat)."""
import json
import os
import sys
import time

from safetensors import safe_open

index_path = sys.argv[1]
open_repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 20
read_repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 1
folder = os.path.dirname(index_path)


def open_all():
    with open(index_path) as f:
        weight_map = json.load(f)["weight_map"]
    handles = [safe_open(os.path.join(folder, s), framework="numpy") for s in sorted(set(weight_map.values()))]
    names = [(h, k) for h in handles for k in h.keys()]
    return handles, names


opens = []
for _ in range(open_repeats):
    t = time.perf_counter()
    handles, names = open_all()
    opens.append(time.perf_counter() - t)
reads, total = [], 0
for _ in range(read_repeats):
    t = time.perf_counter()
    total = 0
    for h, k in names:
        total += h.get_tensor(k).nbytes  # each array is dropped right away: bounded memory
    reads.append(time.perf_counter() - t)
print(json.dumps({"tensor_count": len(names), "byte_count": total, "open_seconds": opens, "read_seconds": reads}))
