#!/usr/bin/env bash
# Benchmark (not a test): a T5-v1.1-XXL-width encoder (d_model 4096, d_ff 10240, 64 heads; LAYERS layers,
# synthetic weights in IF's fp16 + fp32-`wo` layout) on 2 x 77 tokens: ifconvert's runner (release,
# weights memory-mapped, fp16 widened on the fly) vs transformers fp32 on CPU, same thread count,
# side by side on the same input. Prints compute wall/CPU medians, their ratios and peak RSS.
#   LAYERS=2 THREADS=2 RUNS=3 ROUNDS=3 scripts/bench/t5.sh   # the default comparison (~3 minutes)
#   LAYERS=24 SKIP_TORCH=1 RUNS=1 scripts/bench/t5.sh      # full-size encoder, ours only (11.5 GB)
# Data (generated once) lives under $BENCH_DATA (default /work/bench-data), outside the repository.
set -euo pipefail
cd "$(dirname "$0")/../.."
LAYERS=${LAYERS:-2}; THREADS=${THREADS:-2}; RUNS=${RUNS:-3}
DATA=${BENCH_DATA:-/work/bench-data}
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo /work/main/.venv/bin/python )}
folder="$DATA/t5-xxl-${LAYERS}l"
bundle="$folder-ref.safetensors"
[ -f "$folder/config.json" ] || "$PY" scripts/bench/t5_synthetic.py make "$folder" --layers "$LAYERS"
swift build -c release --product ifconvert >&2
bin="$(swift build -c release --show-bin-path)/ifconvert"
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
# Shared VMs are noisy (a neighbour on a sibling hyperthread can slow a core by a third for
# seconds): the two sides alternate, ROUNDS times, and medians are compared.
ROUNDS=${ROUNDS:-3}
rm -f "$folder"-ours-*.json "$folder"-torch-*.json
if [ -n "${SKIP_TORCH:-}" ] && [ ! -f "$bundle" ]; then
  # No peer run: a bundle with the inputs only would not verify; make one from ours instead of failing.
  "$PY" - "$bundle" <<'PYEOF'
import sys, torch
from safetensors.torch import save_file
g = torch.Generator().manual_seed(0)
ids = torch.randint(2, 32000, (2, 77), generator=g); mask = torch.ones(2, 77, dtype=torch.int64)
ids[0, 20] = 1; ids[0, 21:] = 0; mask[0, 21:] = 0; ids[1, 76] = 1
save_file({"in.input_ids": ids, "in.attention_mask": mask, "out.last_hidden_state": torch.zeros(2, 77, 4096)}, sys.argv[1], metadata={"kind": "t5"})
PYEOF
fi
for round in $(seq "$ROUNDS"); do
  if [ -z "${SKIP_TORCH:-}" ]; then
    echo "== round $round: transformers $LAYERS layers, $THREADS threads" >&2
    THREADS=$THREADS RUNS=$RUNS "$PY" scripts/bench/t5_synthetic.py torch "$folder" "$bundle" 2>/dev/null | tail -1 > "$folder-torch-$round.json"
  fi
  echo "== round $round: ifconvert verify $LAYERS layers, $THREADS threads" >&2
  # Like the peer: one process, a warm-up forward, then the median of RUNS forwards.
  "$bin" verify "$folder" --reference "$bundle" --json --repeat $((RUNS + 1)) > "$folder-ours-$round.json" || [ -n "${SKIP_TORCH:-}" ]
done
"$PY" - "$folder" "$LAYERS" "$THREADS" <<'PYEOF'
import glob, json, statistics, sys, os
folder, layers, threads = sys.argv[1], sys.argv[2], sys.argv[3]
ours = [json.load(open(p)) for p in sorted(glob.glob(folder + "-ours-*.json"))]
wall = statistics.median(r["compute_seconds"] for r in ours)
cpu = statistics.median(r["compute_cpu_seconds"] for r in ours)
peak = max(r["peak_memory_bytes"] for r in ours) / 2**30
rel = ours[0]["outputs"][0]["metrics"]["relative_l2_error"]
print(f"T5-XXL width, {layers} layers, 2x77 tokens, {threads} threads")
check = "no peer output (SKIP_TORCH)" if os.environ.get("SKIP_TORCH") else f"rel L2 vs torch {rel:.2e}, passed {ours[0]['passed']}"
audit = max(ours[0]["fp16_range_audit"], key=lambda e: e["max_abs"])
print(f"ours        compute wall {wall:8.3f} s  cpu {cpu:8.3f} s  load {statistics.median(r['load_seconds'] for r in ours):.2f} s  peak RSS {peak:6.2f} GiB  ({check})")
print(f"            max |activation| {audit['max_abs']:.3g} at {audit['module']} ({audit['site']})")
torch_runs = [json.load(open(p)) for p in sorted(glob.glob(folder + "-torch-*.json"))]
if torch_runs and not os.environ.get("SKIP_TORCH"):
    t_wall = statistics.median(r["compute_seconds"] for r in torch_runs)
    t_cpu = statistics.median(r["compute_cpu_seconds"] for r in torch_runs)
    tp = max(r["peak_memory_bytes"] for r in torch_runs) / 2**30
    t = torch_runs[0]
    print(f"transformers compute wall {t_wall:8.3f} s  cpu {t_cpu:8.3f} s  peak RSS {tp:6.2f} GiB  (torch {t['torch']}, {t['threads']} threads)")
    print(f"ratio torch/ours: wall {t_wall / wall:.2f}x, cpu {t_cpu / cpu:.2f}x, peak RSS {tp / peak:.2f}x  (medians over {len(torch_runs)} alternating rounds)")
    rounds = []
    for i, r in enumerate(torch_runs, 1):
        mine = json.load(open(f"{folder}-ours-{i}.json"))["compute_seconds"]
        rounds.append(f"{r['compute_seconds'] / mine:.2f}x")
    print("per round (torch/ours wall): " + ", ".join(rounds))
PYEOF
