#!/usr/bin/env bash
# Benchmark (not a test): read every tensor of an ~0.8 GB fp16 PyTorch .bin with our reader vs
# torch.load(mmap=True, weights_only=True), touching every byte on both sides (wrapping int64 sum;
# the checksums must agree). Warm page cache, runs alternate, medians and ratio printed.
#   scripts/bench/torch_read.sh [reps, default 5]
# Data: /work/bench-data/torch_read/unet.fp16.bin (generated once, outside the repo).
set -euo pipefail
cd "$(dirname "$0")/../.."
reps="${1:-5}"
python="${PYTHON:-/work/main/.venv/bin/python}"
data=/work/bench-data/torch_read
file="$data/unet.fp16.bin"
work=.build-bench
mkdir -p "$data" "$work/chalf"

if [ ! -f "$file" ]; then
    echo "torch_read: generating $file" >&2
    "$python" - "$file" <<'PY'
import sys, torch
torch.manual_seed(0)
sd = {}
for i in range(200):  # 200 x [1024, 2048] fp16 + biases: ~0.84 GB, like a large UNet's conv/linear weights
    sd[f"blocks.{i}.weight"] = torch.randn(1024, 2048).half()
    sd[f"blocks.{i}.bias"] = torch.randn(1024).half()
torch.save(sd, sys.argv[1])
PY
fi

cat > "$work/chalf/module.modulemap" <<MAP
module CHalfConvert {
    header "$PWD/Sources/CHalfConvert/include/chalfconvert.h"
    export *
}
MAP
sources=$(ls Sources/MappedTensors/*.swift; find Sources/PyTorchReader -name '*.swift' ! -name Exports.swift)
if [ ! -x "$work/torch-read" ] || [ -n "$(find $sources scripts/bench/TorchReadBench.swift -newer "$work/torch-read" | head -1)" ]; then
    echo "torch_read: building (swiftc -O) ..." >&2
    clang -O2 -I Sources/CHalfConvert/include -c Sources/CHalfConvert/halfconvert.c -o "$work/halfconvert.o"
    swiftc -O -parse-as-library -module-name TorchReadBench -I "$work/chalf" -I Sources/CZlib \
        $sources scripts/bench/TorchReadBench.swift "$work/halfconvert.o" -o "$work/torch-read"
fi

cat "$file" > /dev/null  # warm the page cache for both sides
ours=$("$work/torch-read" "$file" "$reps")
theirs=$("$python" - "$file" "$reps" <<'PY'
import sys, time, torch
path, reps = sys.argv[1], int(sys.argv[2])
for _ in range(reps):
    start = time.perf_counter()
    sd = torch.load(path, mmap=True, weights_only=True)
    checksum = 0
    for t in sd.values():
        checksum = (checksum + int(t.reshape(-1).view(torch.int64).sum())) % 2**64
    print(f"{time.perf_counter() - start:.4f} {checksum}")
PY
)
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ours_median=$(echo "$ours" | awk '{print $1}' | median)
theirs_median=$(echo "$theirs" | awk '{print $1}' | median)
ours_sum=$(echo "$ours" | awk 'NR==1 {print $2}')
theirs_sum=$(echo "$theirs" | awk 'NR==1 {print $2}')
echo "file            $file ($(du -h "$file" | cut -f1))"
echo "ours (s)        $(echo $ours | awk '{for (i=1;i<=NF;i+=2) printf "%s ", $i}')"
echo "torch (s)       $(echo $theirs | awk '{for (i=1;i<=NF;i+=2) printf "%s ", $i}')"
echo "median ours     $ours_median s"
torch_info=$("$python" -c 'import torch; print(torch.__version__, "with", torch.get_num_threads(), "threads")')
echo "median torch    $theirs_median s (torch $torch_info)"
echo "ratio           torch / ours = $(awk -v a="$theirs_median" -v b="$ours_median" 'BEGIN {printf "%.2f", a / b}')"
if [ "$ours_sum" != "$theirs_sum" ]; then echo "CHECKSUMS DIFFER: ours $ours_sum torch $theirs_sum" >&2; exit 1; fi
echo "checksums agree ($ours_sum)"
