#!/usr/bin/env bash
# Reader benchmark on a synthetic T5-v1.1-XXL-shaped sharded checkpoint (11.5 GB, fp16 + fp32 `wo`):
#   1. open + index time (mmap, header parse, weight_map check): ifconvert vs Python safe_open;
#   2. reading every tensor's bytes on a warm page cache: ifconvert (mmap views, with and without
#      MADV_POPULATE_READ) vs `cat shards > /dev/null` vs Python get_tensor (numpy).
# Python's read-all runs in the first round only (it is 5x slower and the machine is shared).
# Rounds are interleaved so that load from other users hits all contenders alike; medians reported.
# Usage: scripts/bench/open_sharded.sh [DATA_DIR=/work/bench-data/t5xxl] [ROUNDS=3]
# Generates the data first when missing (needs ~12 GB free; delete the folder afterwards).
set -euo pipefail
cd "$(dirname "$0")/../.."
data="${1:-/work/bench-data/t5xxl}"
rounds="${2:-3}"
py="${PYTHON:-/work/main/.venv/bin/python}"
index="$data/model.safetensors.index.fp16.json"
[ -f "$index" ] || "$py" scripts/bench/make_t5xxl_checkpoint.py "$data"
swift build -c release --product ifconvert >&2
bin="$(swift build -c release --show-bin-path)/ifconvert"
shards=("$data"/model.fp16-*-of-*.safetensors)
log="$(mktemp)"

cat "${shards[@]}" > /dev/null   # warm the page cache
for r in $(seq "$rounds"); do
  echo "round $r/$rounds" >&2
  s=$(date +%s.%N); cat "${shards[@]}" > /dev/null; e=$(date +%s.%N)
  echo "{\"who\": \"cat\", \"read_seconds\": [$(echo "$e - $s" | bc)]}" >> "$log"
  echo "{\"who\": \"ifconvert\", \"r\": $("$bin" bench-read "$index" --open-repeats 20 --read-repeats 1)}" >> "$log"
  echo "{\"who\": \"ifconvert-populate\", \"r\": $("$bin" bench-read "$index" --open-repeats 20 --read-repeats 1 --populate)}" >> "$log"
  # Python's full read copies 11.5 GB into fresh arrays (~25 s here): once, in the first round.
  echo "{\"who\": \"python\", \"r\": $("$py" scripts/bench/safe_open_read.py "$index" 20 $([ "$r" = 1 ] && echo 1 || echo 0))}" >> "$log"
done

"$py" - "$log" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    r = d.get("r", d)
    e = runs.setdefault(d["who"], {"open": [], "read": [], "bytes": r.get("byte_count")})
    e["open"] += r.get("open_seconds", [])
    e["read"] += r["read_seconds"]
med = lambda xs: statistics.median(xs) if xs else float("nan")
size = runs["ifconvert"]["bytes"]
cat = med(runs["cat"]["read"])
print(f"checkpoint: {size / 1e9:.2f} GB, {len(runs['ifconvert']['read'])} rounds")
print(f"{'reader':<20} {'open+index median':>18} {'read-all median':>16} {'GB/s':>7} {'vs cat':>7}")
for who in ["cat", "ifconvert", "ifconvert-populate", "python"]:
    e = runs[who]
    o = f"{med(e['open']) * 1e3:.2f} ms" if e["open"] else "-"
    rd = med(e["read"])
    print(f"{who:<20} {o:>18} {rd:>14.2f} s {size / rd / 1e9:>7.2f} {cat / rd:>6.2f}x")
print(f"open+index time ratio python/ifconvert: {med(runs['python']['open']) / med(runs['ifconvert']['open']):.1f}x")
PY
rm -f "$log"
