#!/usr/bin/env bash
# Benchmark (not a test): `ifconvert compress` vs the `zstd` CLI on the same files with the same thread
# count, at levels 1, 3 and 9; plus random access to one tensor vs restoring the whole file.
# Inputs: the fixture stage I UNet pack (converted from the fp16 fixture) and a synthetic ~0.74 GB
# IF-I-M-sized UNet pack (scripts/bench/make_ifim_standin.py, written under /work/bench-data).
# Prints medians of 3 runs and ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
threads="${THREADS:-2}"
data="${BENCH_DATA:-/work/bench-data}"
py="${PYTHON:-.venv/bin/python}"
swift build -c release --product ifconvert >/dev/null
bin="$(swift build -c release --show-bin-path)/ifconvert"
big="$data/ifim-standin.f16.gguf"
[ -f "$big" ] || "$py" scripts/bench/make_ifim_standin.py "$big"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
small="$work/fixture-unet.gguf"
"$bin" convert fixtures/IF-I-tiny/unet -o "$small" --variant fp16 --force >/dev/null

median() {  # median wall seconds of 3 runs of "$@"
  local times=()
  for _ in 1 2 3; do
    local start end
    start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc -l)")
  done
  printf '%s\n' "${times[@]}" | sort -g | sed -n 2p
}

printf '%-10s %5s %12s %10s %10s %10s %10s %10s\n' file level bytes ours_s zstd_s speed_x ours_ratio zstd_ratio
for file in "$small" "$big"; do
  size=$(stat -c %s "$file")
  name=$([ "$file" = "$big" ] && echo unet-m || echo fixture)
  for level in 1 3 9; do
    ours=$(median "$bin" compress "$file" -o "$work/ours.zst" --level "$level" --threads "$threads" --force)
    theirs=$(median zstd -q -f -T"$threads" -"$level" "$file" -o "$work/theirs.zst")
    ours_size=$(stat -c %s "$work/ours.zst"); theirs_size=$(stat -c %s "$work/theirs.zst")
    printf '%-10s %5s %12s %10.3f %10.3f %10.2f %10.4f %10.4f\n' "$name" "$level" "$size" "$ours" "$theirs" \
      "$(echo "$theirs / $ours" | bc -l)" "$(echo "$size / $ours_size" | bc -l)" "$(echo "$size / $theirs_size" | bc -l)"
  done
  "$bin" compress "$file" -o "$work/shuffled.zst" --level 3 --threads "$threads" --shuffle --force >/dev/null
  echo "$name level 3 with --shuffle: ratio $(echo "$size / $(stat -c %s "$work/shuffled.zst")" | bc -l | cut -c1-6)"
done

# Random access: one mid-file tensor of the big archive vs restoring everything.
"$bin" compress "$big" -o "$work/big.gguf.zst" --level 3 --threads "$threads" --force >/dev/null
tensor="mid_block.attentions.0.to_q.weight"
one=$(median "$bin" decompress "$work/big.gguf.zst" --tensor "$tensor" -o "$work/one.bin" --force)
all=$(median "$bin" decompress "$work/big.gguf.zst" -o "$work/all.gguf" --force)
echo "random access to '$tensor': ${one}s; whole restore: ${all}s; ratio $(echo "$all / $one" | bc -l | cut -c1-6)x"
