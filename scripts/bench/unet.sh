#!/usr/bin/env bash
# Benchmark (not a test; ~2-3 minutes): one classifier-free-guidance forward (batch 2, 64x64, 77 x 4096
# text) of an IF-I-M-sized stand-in UNet (371.6M parameters, random weights, real IF structure;
# IF-FACTS §9), ours (`ifconvert verify` on the fp16 snapshot, weights memory-mapped and decoded per
# tile) vs diffusers fp32 on the CPU, same thread count, run one after the other. Prints medians,
# the time ratio, the peak RSS ratio and our GFLOP/s against OpenBLAS's sgemm peak.
# Data (generated once, 0.8 GB): $BENCH_DATA (default /work/bench-data/unet-bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
data="${BENCH_DATA:-/work/bench-data/unet-bench}"
threads="${THREADS:-2}"
runs="${RUNS:-3}"
py="${PYTHON:-/work/main/.venv/bin/python}"
gflop=458.9  # one forward of the stand-in at batch 2, 64x64 (multiply-add = 2; IF-FACTS §9)
[ -f "$data/bundle.safetensors" ] || "$py" scripts/bench/unet_bench.py make "$data"
swift build -c release --product ifconvert >&2
bin="$(swift build -c release --show-bin-path)/ifconvert"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
for i in $(seq "$runs"); do
  OPENBLAS_NUM_THREADS="$threads" "$bin" verify "$data/unet" --variant fp16 --reference "$data/bundle.safetensors" --json > "$tmp/ours$i.json" || true
done
OMP_NUM_THREADS="$threads" "$py" scripts/bench/unet_bench.py time "$data" "$runs" > "$tmp/peer.json"
# The system OpenBLAS 0.3.21 does not know this CPU model and would pick its SSE3 kernels; ifconvert
# re-selects SkylakeX itself (Kernels.blasCoreSelection), the peak measurement asks for it explicitly.
OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-SkylakeX}" OPENBLAS_NUM_THREADS="$threads" "$py" scripts/bench/unet_bench.py sgemm > "$tmp/sgemm.json"
"$py" - "$tmp" "$runs" "$gflop" "$threads" <<'PY'
import json, statistics, sys
tmp, runs, gflop, threads = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
ours = [json.load(open(f"{tmp}/ours{i + 1}.json")) for i in range(runs)]
peer = json.load(open(f"{tmp}/peer.json"))
peak = json.load(open(f"{tmp}/sgemm.json"))
t_ours = statistics.median(r["compute_seconds"] for r in ours)
cpu_ours = statistics.median(r["compute_cpu_seconds"] for r in ours)
rss_ours = max(r["peak_memory_bytes"] for r in ours)
err = ours[0]["outputs"][0]["metrics"]["relative_l2_error"]
print(f"threads {threads}, {runs} runs each; ours: ifconvert verify (fp16 weights, mmap); peer: diffusers 0.42.1 fp32, torch {peer.get('threads')} threads")
print(f"forward median: ours {t_ours:.2f} s, diffusers {peer['median_seconds']:.2f} s -> ours/diffusers {t_ours / peer['median_seconds']:.2f}x")
print(f"forward CPU time (all threads; robust to other users' load): ours {cpu_ours:.2f} s, diffusers {peer['median_cpu_seconds']:.2f} s -> ours/diffusers {cpu_ours / peer['median_cpu_seconds']:.2f}x")
print(f"peak RSS: ours {rss_ours / 2**20:.0f} MiB, diffusers {peer['peak_rss_bytes'] / 2**20:.0f} MiB -> ratio {rss_ours / peer['peak_rss_bytes']:.2f}")
print(f"ours {gflop / t_ours:.1f} GFLOP/s wall ({gflop / cpu_ours:.1f} per CPU-second) vs OpenBLAS sgemm peak {peak['gflops']:.1f} GFLOP/s "
      f"({peak['threads']} threads, {peak['cpu_gflops']:.1f} per CPU-second): {100 * gflop / t_ours / peak['gflops']:.0f} % of peak; "
      f"diffusers {gflop / peer['median_seconds']:.1f} GFLOP/s wall ({gflop / peer['median_cpu_seconds']:.1f} per CPU-second)")
print(f"ours vs diffusers output: relative L2 {err:.2e} ({'PASS' if ours[0]['passed'] else 'FAIL'}); ours load {statistics.median(r['load_seconds'] for r in ours):.2f} s")
PY
