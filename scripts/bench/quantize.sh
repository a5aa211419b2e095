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

times=(); cpus=()
for i in $(seq "$RUNS"); do
  /usr/bin/time -f "%e %M %U %S" -o "$DATA/time.txt" "$BIN" quantize "$IN" -o "$OUT" --type q8_0 --no-errors --force \
    --threads "$THREADS" --report "$REPORT" >/dev/null
  read -r secs rss_kb user sys < "$DATA/time.txt"
  echo "ifconvert run $i: ${secs} s wall, ${user} s user + ${sys} s sys, peak RSS $((rss_kb / 1024)) MB"
  times+=("$secs")
  cpus+=("$(echo "$user + $sys" | bc)")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
cpu_median=$(printf '%s\n' "${cpus[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (2 cores; wall times are inflated when it exceeds 2)"

kernel=$("$BIN" bench-quantize "$IN" --type q8_0 --threads "$THREADS" --repeats "$RUNS")
echo "ifconvert quantizer alone: $kernel"
peer=$("$PY" scripts/bench/numpy_q8_0.py "$IN" "$REPORT" "$OUT")
echo "gguf-py: $peer"
"$PY" - "$median" "$peer" "$cpu_median" "$kernel" <<'PYEOF'
import json, statistics, sys
ours = float(sys.argv[1]); peer = json.loads(sys.argv[2]); cpu = float(sys.argv[3]); kernel = json.loads(sys.argv[4])
gb = peer["input_bytes"] / 1e9
print(f"quantized fp16 input: {gb:.3f} GB in {peer['tensors']} tensors; bytes equal: {peer['bytes_equal']}")
print(f"ifconvert (whole command, median): {ours:.2f} s = {gb / ours:.2f} GB/s")
print(f"gguf-py numpy (quantize calls only): {peer['seconds']:.2f} s = {gb / peer['seconds']:.3f} GB/s")
print(f"ifconvert CPU time (user + sys, median): {cpu:.2f} s = {gb / cpu:.2f} GB/s per core-second")
k_wall = statistics.median(kernel["seconds"]); k_cpu = statistics.median(kernel["cpuSeconds"])
print(f"ifconvert quantizer alone (median of {len(kernel['seconds'])}): {k_wall:.2f} s wall = {gb / k_wall:.2f} GB/s, "
      f"{k_cpu:.2f} CPU s; peak RSS {kernel['peakRSSBytes'] / 1e6:.0f} MB")
print(f"gguf-py CPU time: {peer['cpu_seconds']:.2f} s")
print(f"speed-up, quantizer vs gguf-py: wall {peer['seconds'] / k_wall:.1f}x, CPU {peer['cpu_seconds'] / k_cpu:.1f}x")
print(f"speed-up, whole ifconvert command vs gguf-py quantize calls alone: wall {peer['seconds'] / ours:.1f}x, CPU {peer['cpu_seconds'] / cpu:.1f}x")
PYEOF
