#!/usr/bin/env bash
# Benchmark (not a test): quantize the synthetic IF-I-M-sized UNet (fp16 GGUF, ~0.74 GB) to q8_0 with
# `ifconvert quantize` (release build) and with gguf-py's numpy `gguf.quants.quantize` on the same
# tensors, in one run; prints throughput, peak RSS and the ratio, and checks the bytes are equal.
#   scripts/bench/quantize.sh [RUNS]    (data under /work/bench-data, outside the repo)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-/work/main/.venv/bin/python}
DATA=${BENCH_DATA:-/work/bench-data}
IN=$DATA/ifim-standin.f16.gguf
OUT=$DATA/ifim-standin.q8_0.gguf
REPORT=$DATA/ifim-standin.q8_0.report.json
RUNS=${1:-3}
THREADS=${THREADS:-2}

[ -f "$IN" ] || "$PY" scripts/bench/make_ifim_standin.py "$IN"
swift build -c release --product ifconvert >/dev/null
BIN=$(swift build -c release --show-bin-path)/ifconvert
cat "$IN" > /dev/null   # warm the page cache: both sides read from memory

times=()
for i in $(seq "$RUNS"); do
  /usr/bin/time -f "%e %M" -o "$DATA/time.txt" "$BIN" quantize "$IN" -o "$OUT" --type q8_0 --no-errors --force \
    --threads "$THREADS" --report "$REPORT" >/dev/null
  read -r secs rss_kb < "$DATA/time.txt"
  echo "ifconvert run $i: ${secs} s, peak RSS $((rss_kb / 1024)) MB"
  times+=("$secs")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')

peer=$("$PY" scripts/bench/numpy_q8_0.py "$IN" "$REPORT" "$OUT")
echo "gguf-py: $peer"
"$PY" - "$median" "$peer" <<'PYEOF'
import json, sys
ours = float(sys.argv[1]); peer = json.loads(sys.argv[2])
gb = peer["input_bytes"] / 1e9
print(f"quantized fp16 input: {gb:.3f} GB in {peer['tensors']} tensors; bytes equal: {peer['bytes_equal']}")
print(f"ifconvert (whole command, median): {ours:.2f} s = {gb / ours:.2f} GB/s")
print(f"gguf-py numpy (quantize calls only): {peer['seconds']:.2f} s = {gb / peer['seconds']:.3f} GB/s")
print(f"speed-up: {peer['seconds'] / ours:.1f}x")
PYEOF
