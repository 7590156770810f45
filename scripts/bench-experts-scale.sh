#!/usr/bin/env bash
# The expert store at the scale it was made for (issue 17, item 5), all numbers from one run:
#  1. writes a full-depth Qwen3-30B-A3B-width model straight to q4 (mote-synth -o FILE.mote: 48
#     layers, 128 experts of 3 x 2048 x 768, about 17 GB; skewed routing, --route-skew) with the
#     real Qwen3 tokenizer, and the same weights as a GGUF for llama.cpp (mote-to-gguf);
#  2. measures the disk's sequential read speed (dd, O_DIRECT, page cache dropped);
#  3. learns routing statistics from TRAIN_TOKENS tokens of one text (mote bench --expert-stats);
#  4. inside a cgroup memory limit of LIMIT (default 2 GiB), with the page cache dropped before
#     each run: mote with --expert-budget auto, cold and with the learned statistics, then
#     llama.cpp's llama-bench (mmap, its default) on the GGUF under the same limit.
# Decode steps are fed held-out text (mote bench --text), so routing follows real tokens.
# Prints a table and writes every output to $WORK. Needs root (drop_caches, cgroup).
#
# Usage: bash scripts/bench-experts-scale.sh [LLAMA_BIN_DIR]
#   LLAMA_BIN_DIR: a folder with llama-bench (libraries found through LD_LIBRARY_PATH); without
#   it llama.cpp is skipped.
#   env: WORK=/tmp/mote-scale LIMIT=2G GEN=32 PROMPT=16 SKEW=0.3 TRAIN_TOKENS=1024
#        LLAMA_TIMEOUT=900 LLAMA_GEN=8 KEEP=1 (keep the 17 GB files for a rerun)
set -euo pipefail
cd "$(dirname "$0")/.."
LLAMA_DIR=${1:-}
WORK=${WORK:-/tmp/mote-scale}
LIMIT=${LIMIT:-2G}
GEN=${GEN:-32}
PROMPT=${PROMPT:-16}
SKEW=${SKEW:-0.3}
TRAIN_TOKENS=${TRAIN_TOKENS:-1024}
LLAMA_TIMEOUT=${LLAMA_TIMEOUT:-900}
LLAMA_GEN=${LLAMA_GEN:-8}
SHARED=${SHARED:-../shared/data}
MOTE=build/samples/mote
TRAIN_TEXT=$SHARED/corpora/war-and-peace.txt
HELDOUT_TEXT=$SHARED/eval/wikitext-2-raw-test.txt

command -v jq >/dev/null || apt-get install -y -qq jq >/dev/null
[ -x "$MOTE" ] && [ -x build/tools/synth/mote-synth ] && [ -x build/tools/gguf/mote-to-gguf ] || bash scripts/build.sh
mkdir -p "$WORK"
MODEL=$WORK/qwen3-30b-a3b-q4.mote
GGUF=$WORK/qwen3-30b-a3b-q4.gguf
to_bytes() { numfmt --from=iec "$1"; }
LIMIT_BYTES=$(to_bytes "$LIMIT")

if [ ! -f "$MODEL" ]; then
  echo "== writing $MODEL (full depth, q4, --route-skew $SKEW)"
  /usr/bin/time -f "   mote-synth: %e s, peak RSS %M KiB" build/tools/synth/mote-synth \
    --config tools/synth/configs/qwen3-30b-a3b.json -o "$MODEL" --weights q4 --seed 1 \
    --route-skew "$SKEW" --tokenizer "$SHARED/tokenizers/qwen3"
fi
if [ -n "$LLAMA_DIR" ] && [ ! -f "$GGUF" ]; then
  echo "== writing $GGUF (the same weights for llama.cpp)"
  /usr/bin/time -f "   mote-to-gguf: %e s, peak RSS %M KiB" build/tools/gguf/mote-to-gguf "$MODEL" "$GGUF"
fi

drop_cache() { sync; echo 3 >/proc/sys/vm/drop_caches; }
FILE_BYTES=$(stat -c %s "$MODEL")
EXPERT_BYTES=$("$MOTE" inspect "$MODEL" --json | jq '.bytes.routed_experts')
echo "== model: $((FILE_BYTES >> 20)) MiB, routed experts $((EXPERT_BYTES >> 20)) MiB; limit $LIMIT"

drop_cache
DD=$(dd if="$MODEL" of=/dev/null bs=16M count=256 iflag=direct 2>&1 | tail -1)
DISK_GBS=$(echo "$DD" | awk -F'[ ,]+' '{for (i = 1; i <= NF; ++i) if ($i ~ /^s$/) s = $(i-1); print $1 / s / 1e9}')
echo "== disk sequential read (dd O_DIRECT 16 MiB blocks, 4 GiB): $DISK_GBS GB/s   [$DD]"
echo "== CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"

LEARNED=$WORK/learned.experts
if [ ! -f "$LEARNED" ]; then
  echo "== learning routing statistics from $TRAIN_TOKENS tokens of $(basename "$TRAIN_TEXT")"
  "$MOTE" bench "$MODEL" --text "$TRAIN_TEXT" --prompt "$TRAIN_TOKENS" --gen 1 --no-warmup \
    --expert-budget 4G --expert-stats "$LEARNED" >"$WORK/learn.json"
fi

CG=/sys/fs/cgroup/memory/mote-scale-$$
mkdir "$CG"
trap 'rmdir "$CG" 2>/dev/null || true' EXIT
echo "$LIMIT_BYTES" >"$CG/memory.limit_in_bytes"
in_cgroup() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" "$@"; }
reset_peak() { echo 0 >"$CG/memory.max_usage_in_bytes" 2>/dev/null || true; }
cg_peak_mib() { echo $(($(cat "$CG/memory.max_usage_in_bytes") >> 20)); }

mote_run() {  # name, extra flags...
  local name=$1
  shift
  drop_cache
  reset_peak
  in_cgroup "$MOTE" bench "$MODEL" --expert-budget auto --text "$HELDOUT_TEXT" --prompt "$PROMPT" --gen "$GEN" \
    --no-warmup "$@" >"$WORK/$name.json"
  jq --arg peak "$(cg_peak_mib)" '. + {cgroup_peak_mib: ($peak | tonumber)}' "$WORK/$name.json" >"$WORK/$name.tmp" &&
    mv "$WORK/$name.tmp" "$WORK/$name.json"
}
mote_run mote_cold --expert-stats off
cp "$LEARNED" "$WORK/learned-copy.experts"
mote_run mote_learned --expert-stats "$WORK/learned-copy.experts"

printf '\n%-13s %9s %9s %7s %10s %9s %9s %7s %9s %9s\n' run budgetMiB decode/s hit MiB/token readGB/s wallGB/s /disk rssMiB cgPeakMiB
for name in mote_cold mote_learned; do
  jq -r --arg n "$name" --argjson disk "$DISK_GBS" '[$n, (.expert_budget_bytes / 1048576 | floor),
      (.decode_tok_s * 1000 | round / 1000), (.decode_expert_hit_rate * 1000 | round / 1000),
      (.bytes_read_per_token / 1048576 | round), (.expert_read_gbs * 100 | round / 100),
      (.decode_expert_read_gbs_wall * 100 | round / 100), (.decode_expert_read_gbs_wall / $disk * 100 | round / 100),
      (.peak_rss_bytes / 1048576 | round), .cgroup_peak_mib] | @tsv' "$WORK/$name.json" |
    awk -F'\t' '{printf "%-13s %9s %9s %7s %10s %9s %9s %7s %9s %9s\n", $1,$2,$3,$4,$5,$6,$7,$8,$9,$10}'
done

if [ -n "$LLAMA_DIR" ]; then
  echo
  echo "== llama.cpp (llama-bench, mmap, --repack 0: its default repacking copies the weights into anonymous memory, which no 2 GiB limit holds; -p 0 -n $LLAMA_GEN) under the same $LIMIT limit"
  drop_cache
  reset_peak
  MAJ0=$(awk '/^total_pgmajfault/ {print $2}' "$CG/memory.stat")
  T0=$(date +%s.%N)
  if timeout "$LLAMA_TIMEOUT" sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" \
    "$LLAMA_DIR/llama-bench" -m "$GGUF" -p 0 -n "$LLAMA_GEN" -t "$(nproc)" -r 1 --repack 0 -o json >"$WORK/llama.json" \
    2>"$WORK/llama.err"; then
    LLAMA_TGS=$(jq '.[0].avg_ts' "$WORK/llama.json")
    echo "   llama.cpp decode: $LLAMA_TGS tok/s; cgroup peak $(cg_peak_mib) MiB; major faults" \
      "$(($(awk '/^total_pgmajfault/ {print $2}' "$CG/memory.stat") - MAJ0))"
  else
    rc=$?
    LLAMA_TGS=$(echo "$LLAMA_GEN $(date +%s.%N) $T0" | awk '{print $1 / ($2 - $3)}')
    echo "   llama.cpp did not finish $LLAMA_GEN tokens (+ warm-up) within ${LLAMA_TIMEOUT}s (exit $rc):" \
      "upper bound $LLAMA_TGS tok/s; see $WORK/llama.err"
  fi
  for name in mote_cold mote_learned; do
    echo "   $name / llama.cpp decode: $(jq --argjson l "$LLAMA_TGS" '.decode_tok_s / $l * 100 | round / 100' "$WORK/$name.json")x"
  done
fi
[ "${KEEP:-1}" = 1 ] || rm -f "$MODEL" "$GGUF"
echo "JSON of every run: $WORK/*.json"
