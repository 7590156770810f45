#!/usr/bin/env bash
# Converter throughput: MB/s of source per output type, against the disk's read speed measured
# in the same run. Usage:
#   converter/bench-convert.sh [--cold] [--reference] [--repeats N] MOTE_CONVERT HF_DIR [TYPES...]
# TYPES default: q8_0 q4 q2 (every weight, embeddings and lm_head included, in that type).
# Each conversion runs N times (default 3) on a page-cached source; the median is printed:
#   wall MB/s   source bytes / wall seconds (what a user waits for; noisy on a shared machine)
#   MB/cpu-s    source bytes / (user + sys) seconds (less sensitive to other processes)
#   x disk      wall MB/s / the disk's read speed
# Disk read speed: dd of the largest shard after dropping the page cache (--cold; needs root,
# and slows everyone else on the machine down briefly), else dd of the cached shard (memory
# copy speed, an upper bound: then "x disk" is against that). --reference also times
# MOTE_CONVERT_REFERENCE=1 (scalar encoders, one thread) once per type for the speed-up.
set -euo pipefail
cold=0 ref=0 repeats=3
while [[ $# -gt 0 && "$1" == --* ]]; do
  case "$1" in
    --cold) cold=1 ;;
    --reference) ref=1 ;;
    --repeats) repeats="$2"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[[ $# -ge 2 ]] || { sed -n 2,14p "$0"; exit 2; }
conv="$1" hf="$2"; shift 2
types=("$@"); [[ ${#types[@]} -gt 0 ]] || types=(q8_0 q4 q2)
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
src_bytes=$(cat "$hf"/*.safetensors | wc -c)
shard=$(ls -S "$hf"/*.safetensors | head -1)
shard_bytes=$(stat -c %s "$shard")

read_mbs() {  # dd read speed of $shard in MB/s
  local t0 t1
  t0=$(date +%s.%N); dd if="$shard" of=/dev/null bs=16M status=none; t1=$(date +%s.%N)
  echo "$shard_bytes $t0 $t1" | awk '{printf "%.0f", $1 / ($3 - $2) / 1e6}'
}
if [[ $cold == 1 ]]; then
  sync; echo 3 > /proc/sys/vm/drop_caches
  disk=$(read_mbs); disk_kind="cold disk read (page cache dropped)"
else
  cat "$hf"/*.safetensors > /dev/null
  disk=$(read_mbs); disk_kind="page-cached read (no --cold)"
fi
cat "$hf"/*.safetensors > /dev/null  # conversions below read a cached source

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
run() {  # run ENV TYPE -> "wall cpu" seconds
  local env="$1" t="$2"
  /usr/bin/time -f "%e %U %S" -o "$out/time" env $env "$conv" "$hf" -o "$out/o.mote" --quiet \
    --weights "$t" --embed-weights "$t" --output-weights "$t" > /dev/null 2> "$out/err" || { cat "$out/err" >&2; exit 1; }
  awk '{print $1, $2 + $3}' "$out/time"
}
echo "source: $hf ($(awk -v b="$src_bytes" 'BEGIN {printf "%.0f", b / 1e6}') MB); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "disk: $disk MB/s ($disk_kind)"
printf "%-6s %10s %10s %8s %s\n" type "wall MB/s" "MB/cpu-s" "x disk" "$([[ $ref == 1 ]] && echo 'reference wall MB/s, MB/cpu-s')"
for t in "${types[@]}"; do
  : > "$out/w"; : > "$out/c"
  for ((i = 0; i < repeats; ++i)); do
    read -r w c < <(run "MOTE_CONVERT_REFERENCE=0" "$t")
    awk -v b="$src_bytes" -v s="$w" 'BEGIN {print b / s / 1e6}' >> "$out/w"
    awk -v b="$src_bytes" -v s="$c" 'BEGIN {print b / s / 1e6}' >> "$out/c"
  done
  wm=$(median < "$out/w"); cm=$(median < "$out/c")
  extra=""
  if [[ $ref == 1 ]]; then
    read -r w c < <(run "MOTE_CONVERT_REFERENCE=1" "$t")
    extra=$(awk -v b="$src_bytes" -v w="$w" -v c="$c" 'BEGIN {printf "%.1f, %.1f", b / w / 1e6, b / c / 1e6}')
  fi
  printf "%-6s %10.0f %10.0f %8.2f %s\n" "$t" "$wm" "$cm" "$(awk -v a="$wm" -v d="$disk" 'BEGIN {print a / d}')" "$extra"
done
