#!/usr/bin/env bash
# Convert benchmark on a synthetic T5-v1.1-XXL-shaped sharded fp16 checkpoint (11.5 GB, FFN `wo`
# in fp32; generator: scripts/bench/make_t5xxl_checkpoint.py). One run, side by side, page cache
# warmed first, each output deleted before the next contender:
#   cp          copying the shards (coreutils cp), and cp followed by sync (our convert fsyncs)
#   ifconvert   convert (dtypes kept: lossless; SHA-256 of the sources on a second thread, fsync);
#               the same folder with `hf download --local-dir` records (digests as the hub recorded
#               them: what a user's hub snapshot gives); and with --no-source-hash (the copy path alone)
#   gguf-py     the `gguf` package's GGUFWriter fed numpy memmaps (scripts/bench/gguf_py_convert.py)
# Wall time and peak RSS come from /usr/bin/time -v. Prints throughput and ratios vs cp.
# Usage: scripts/bench/convert_t5.sh [DATA_DIR=/work/bench-data/t5xxl] [--keep-data]
# Needs ~24 GB free (source + one output); generates the data when missing and deletes it at the
# end unless --keep-data.
set -euo pipefail
cd "$(dirname "$0")/../.."
data="${1:-/work/bench-data/t5xxl}"
keep="${2:-}"
py="${PYTHON:-/work/main/.venv/bin/python}"
index="$data/model.safetensors.index.fp16.json"
out="$(dirname "$data")/convert-bench-out"

need_kb=$((24 * 1024 * 1024))
[ -f "$index" ] && need_kb=$((12 * 1024 * 1024))
free_kb=$(df -k --output=avail "$(dirname "$data")" | tail -1)
if [ "$free_kb" -lt "$need_kb" ]; then
  echo "convert_t5: need $((need_kb / 1024 / 1024)) GB free in $(dirname "$data"), have $((free_kb / 1024 / 1024)) GB" >&2
  exit 1
fi
generated=0
if [ ! -f "$index" ]; then "$py" scripts/bench/make_t5xxl_checkpoint.py "$data"; generated=1; fi
swift build -c release --product ifconvert >&2
bin="$(swift build -c release --show-bin-path)/ifconvert"
shards=("$data"/model.fp16-*-of-*.safetensors)
bytes=$(cat "${shards[@]}" | wc -c)   # also warms the page cache
log="$(mktemp)"
rm -rf "$out"; mkdir -p "$out"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores" >&2

measure() {  # name, command...  (wall, peak RSS, user+sys CPU seconds)
  local name="$1"; shift
  local t; t="$(mktemp)"
  /usr/bin/time -v "$@" > /dev/null 2> "$t" || { cat "$t" >&2; exit 1; }
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$t" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep "Maximum resident set size" "$t" | awk '{print $NF}')
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$t")
  echo "$name $wall $rss $cpu" >> "$log"
  echo "$name: ${wall}s, peak RSS $((rss / 1024)) MB" >&2
  rm -f "$t"
  rm -rf "${out:?}"/*
  sync
}

# The same files as `hf download --local-dir` leaves them: a record per file with the hub's SHA-256
# (made once here with hashlib, as the hub computed it at upload), so convert takes the digests as
# recorded. Kept beside the data as .cache-records and moved in place only for that contender.
records="$data/.cache-records"
if [ ! -d "$records" ]; then
  "$py" - "$data" "$records" <<'PY'
import hashlib, os, sys, time
data, records = sys.argv[1], sys.argv[2]
target = os.path.join(records, "huggingface", "download")
os.makedirs(target, exist_ok=True)
for name in sorted(os.listdir(data)):
    if not name.endswith(".safetensors"):
        continue
    h = hashlib.sha256()
    with open(os.path.join(data, name), "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            h.update(block)
    with open(os.path.join(target, name + ".metadata"), "w") as f:
        f.write(f"{'0' * 40}\n{h.hexdigest()}\n{time.time()}\n")
PY
fi

measure cp cp "${shards[@]}" "$out/"
measure cp+sync sh -c "cp \"\$@\" \"$out/\" && sync" sh "${shards[@]}"
measure ifconvert "$bin" convert "$data" -o "$out/t5.gguf"
mv "$records" "$data/.cache"
measure ifconvert-hub-records "$bin" convert "$data" -o "$out/t5.gguf"
mv "$data/.cache" "$records"
measure ifconvert-no-source-hash "$bin" convert "$data" -o "$out/t5.gguf" --no-source-hash
measure gguf-py "$py" scripts/bench/gguf_py_convert.py "$index" "$out/t5.gguf"

"$py" - "$log" "$bytes" <<'PY'
import sys
rows = [line.split() for line in open(sys.argv[1])]
total = int(sys.argv[2])
base = {name: float(wall) for name, wall, _, _ in rows}
print(f"{total / 1e9:.2f} GB of tensors+headers, page cache warmed first, one run each")
print(f"{'who':26} {'wall s':>7} {'GB/s':>5} {'CPU s':>6} {'peak RSS MB':>11} {'vs cp':>6} {'vs cp+sync':>10}")
for name, wall, rss, cpu in rows:
    w = float(wall)
    print(f"{name:26} {w:7.2f} {total / w / 1e9:5.2f} {float(cpu):6.2f} {int(rss) / 1024:11.0f} {base['cp'] / w:6.2f} {base['cp+sync'] / w:10.2f}")
PY
rm -rf "$out" "$log"
if [ "$keep" != "--keep-data" ] && [ "$generated" = 1 ]; then rm -rf "$data"; fi
