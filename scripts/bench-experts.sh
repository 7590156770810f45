#!/usr/bin/env bash
# Expert-store benchmark (issue 4 proof), all numbers from one run on this machine:
#  1. writes a real-width synthetic DeepSeek-V2-Lite checkpoint (mote-synth, LAYERS layers, the
#     real vocab/hidden/64 experts of 3 x 2048 x 1408) and converts it to q8_0;
#  2. measures the disk's sequential read speed on that file (dd, O_DIRECT, page cache dropped);
#  3. runs `mote bench` with expert budgets of 25%, 50% and 100% of the routed-expert bytes (page
#     cache dropped before each run; expert reads use O_DIRECT anyway), plus 25% without prefetch;
#  4. runs the 25% budget under a cgroup-v1 memory limit equal to its own RSS bound, and the same
#     model fully resident (mmap, no budget) under the same limit, which has to page.
# Prints a table and writes every JSON to $WORK. Needs root for drop_caches and the cgroup.
#
# Usage: bash scripts/bench-experts.sh        (env: LAYERS=4 PROMPT=16 GEN=48 WORK=/tmp/mote-bench-experts)
#
# --scale (issue 17): the same proof at a real size, see scripts/bench-experts-scale.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--scale" ]; then shift; exec bash scripts/bench-experts-scale.sh "$@"; fi
LAYERS=${LAYERS:-4}
PROMPT=${PROMPT:-16}
GEN=${GEN:-48}
WORK=${WORK:-/tmp/mote-bench-experts}
RESIDENT_TIMEOUT=${RESIDENT_TIMEOUT:-600}
MOTE=build/samples/mote

command -v jq >/dev/null || apt-get install -y -qq jq >/dev/null
[ -x "$MOTE" ] && [ -x build/tools/synth/mote-synth ] || bash scripts/build.sh
mkdir -p "$WORK"
MODEL="$WORK/v2lite-${LAYERS}l-q8_0.mote"

if [ ! -f "$MODEL" ]; then
  echo "== writing a synthetic DeepSeek-V2-Lite checkpoint ($LAYERS layers) and converting it"
  build/tools/synth/mote-synth --config tools/synth/configs/deepseek-v2-lite.json --layers "$LAYERS" \
    --seed 1 -o "$WORK/hf"
  build/converter/mote-convert "$WORK/hf" -o "$MODEL" --weights q8_0
  rm -rf "$WORK/hf"
fi

drop_cache() {
  sync
  echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || dd if="$MODEL" iflag=nocache count=0 status=none
}

FILE_BYTES=$(stat -c %s "$MODEL")
EXPERT_BYTES=$("$MOTE" inspect "$MODEL" --json | jq '.bytes.routed_experts')
echo "== model: $MODEL: $((FILE_BYTES >> 20)) MiB, routed experts $((EXPERT_BYTES >> 20)) MiB"

drop_cache
DD=$(dd if="$MODEL" of=/dev/null bs=16M iflag=direct 2>&1 | tail -1)
DISK_GBS=$(echo "$DD" | awk -F'[ ,]+' '{for (i = 1; i <= NF; ++i) if ($i ~ /^s$/) s = $(i-1); print $1 / s / 1e9}')
echo "== disk sequential read (dd O_DIRECT 16 MiB blocks): $DISK_GBS GB/s   [$DD]"

run_bench() {  # name, extra flags...
  local name=$1
  shift
  drop_cache
  "$MOTE" bench "$MODEL" --prompt "$PROMPT" --gen "$GEN" "$@" >"$WORK/$name.json"
}

printf '\n%-14s %9s %9s %9s %7s %8s %10s %9s %9s %9s %9s %7s\n' run budgetMiB prefill/s decode/s hit pf_hit \
  MiB/token stall_ms rssMiB boundMiB readGB/s /disk
row() {
  jq -r --arg n "$1" --argjson disk "$DISK_GBS" '[$n, (.expert_budget_bytes / 1048576 | floor),
      (.prefill_tok_s * 100 | round / 100), (.decode_tok_s * 100 | round / 100),
      (.expert_hit_rate * 1000 | round / 1000), (.prefetch_hit_rate * 1000 | round / 1000),
      (.bytes_read_per_token / 1048576 * 10 | round / 10), (.io_stall_ms | round),
      (.peak_rss_bytes / 1048576 | round), (.rss_bound_bytes / 1048576 | round),
      (.expert_read_gbs * 100 | round / 100), (if $disk > 0 then (.expert_read_gbs / $disk * 100 | round / 100) else 0 end)]
    | @tsv' "$WORK/$1.json" | awk -F'\t' '{printf "%-14s %9s %9s %9s %7s %8s %10s %9s %9s %9s %9s %7s\n", $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12}'
}

for pct in 25 50 100; do
  run_bench "budget$pct" --expert-budget $((EXPERT_BYTES * pct / 100))
  row "budget$pct"
done
run_bench budget25_nopf --expert-budget $((EXPERT_BYTES / 4)) --no-prefetch
row budget25_nopf
run_bench budget25_hot --expert-budget $((EXPERT_BYTES / 4)) --expert-hot 8
row budget25_hot
run_bench resident
row resident

echo
echo "== cgroup v1 memory limit = the 25% run's RSS bound"
LIMIT=$(jq '.rss_bound_bytes' "$WORK/budget25.json")
CG=/sys/fs/cgroup/memory/mote-bench-$$
if mkdir "$CG" 2>/dev/null; then
  trap 'rmdir "$CG" 2>/dev/null || true' EXIT
  echo "$LIMIT" >"$CG/memory.limit_in_bytes"
  in_cgroup() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" "$@"; }
  drop_cache
  in_cgroup "$MOTE" bench "$MODEL" --prompt "$PROMPT" --gen "$GEN" --expert-budget $((EXPERT_BYTES / 4)) \
    >"$WORK/cgroup_budget25.json"
  row cgroup_budget25
  echo "   limit $((LIMIT >> 20)) MiB, cgroup peak usage $(($(cat "$CG/memory.max_usage_in_bytes") >> 20)) MiB," \
    "major faults $(awk '/^total_pgmajfault/ {print $2}' "$CG/memory.stat")"
  echo 0 >"$CG/memory.max_usage_in_bytes" 2>/dev/null || true
  drop_cache
  MAJ0=$(awk '/^total_pgmajfault/ {print $2}' "$CG/memory.stat")
  if timeout "$RESIDENT_TIMEOUT" sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" \
    "$MOTE" bench "$MODEL" --prompt "$PROMPT" --gen "$GEN" >"$WORK/cgroup_resident.json"; then
    row cgroup_resident
  else
    echo "cgroup_resident: did not finish within ${RESIDENT_TIMEOUT}s (exit $?)"
  fi
  echo "   resident (mmap) under the same limit: major faults $(($(awk '/^total_pgmajfault/ {print $2}' "$CG/memory.stat") - MAJ0))"
else
  echo "   cannot create $CG (not root, or no cgroup v1 memory controller): skipped"
fi
echo
echo "JSON of every run: $WORK/*.json"
