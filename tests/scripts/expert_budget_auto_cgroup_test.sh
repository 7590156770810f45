#!/usr/bin/env bash
# `mote bench --expert-budget auto` inside a memory cgroup whose limit holds the dense part of a
# synthetic OLMoE-shaped model (2 layers, hidden 1024, 32 experts of 3 x 1024 x 1024 at q8_0)
# but not its experts: the run must succeed, choose a budget below the experts' total, and keep
# its peak RSS (VmHWM, from the bench JSON) and the cgroup's peak usage within the limit.
#
# Usage: expert_budget_auto_cgroup_test.sh MOTE MOTE_SYNTH MOTE_CONVERT SYNTH_CONFIG WORK_DIR
# Needs root and a writable memory controller (cgroup v1 /sys/fs/cgroup/memory, else cgroup v2
# /sys/fs/cgroup with "memory" in cgroup.subtree_control). Without them it exits 77, which ctest
# reports as "Skipped" in its summary (developers run ctest as non-root; CI runs as root on a
# machine with the controller). MOTE_REQUIRE_CGROUP=1 turns that skip into a failure.
set -euo pipefail
[ $# -eq 5 ] || { echo "usage: $0 MOTE MOTE_SYNTH MOTE_CONVERT SYNTH_CONFIG WORK_DIR" >&2; exit 2; }
MOTE=$1 SYNTH=$2 CONVERT=$3 CONFIG=$4 WORK=$5
LIMIT_MIB=${LIMIT_MIB:-200}

skip() {
  echo "SKIPPED: $*"
  [ "${MOTE_REQUIRE_CGROUP:-0}" = 1 ] && { echo "FAIL: MOTE_REQUIRE_CGROUP=1 and no cgroup"; exit 1; }
  exit 77
}
fail() { echo "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || skip "not root: cannot create a memory cgroup"
CG="" VERSION=""
if [ -w /sys/fs/cgroup/memory/cgroup.procs ] && [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
  CG=/sys/fs/cgroup/memory/mote-auto-test-$$ VERSION=v1
elif [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
  CG=/sys/fs/cgroup/mote-auto-test-$$ VERSION=v2
else
  skip "no writable cgroup memory controller (v1 /sys/fs/cgroup/memory or v2 with memory enabled)"
fi
mkdir "$CG" 2>/dev/null || skip "cannot create $CG"
cleanup() { rmdir "$CG" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

mkdir -p "$WORK"
MODEL="$WORK/auto.mote"
"$SYNTH" --config "$CONFIG" --layers 2 --set vocab_size=8192 --set eos_token_id=8000 --set hidden_size=1024 \
  --set intermediate_size=1024 --set num_experts=32 --set num_attention_heads=8 --set num_key_value_heads=8 \
  --seed 3 --quiet -o "$WORK/hf" >/dev/null
"$CONVERT" "$WORK/hf" -o "$MODEL" --weights q8_0 >/dev/null 2>&1 || fail "mote-convert failed"
rm -rf "$WORK/hf"

LIMIT=$((LIMIT_MIB << 20))
if [ "$VERSION" = v1 ]; then
  echo "$LIMIT" >"$CG/memory.limit_in_bytes"
  [ -f "$CG/memory.memsw.limit_in_bytes" ] && echo "$LIMIT" >"$CG/memory.memsw.limit_in_bytes"  # no swap escape
  PEAK_FILE=memory.max_usage_in_bytes
else
  echo "$LIMIT" >"$CG/memory.max"
  [ -f "$CG/memory.swap.max" ] && echo 0 >"$CG/memory.swap.max"
  PEAK_FILE=memory.peak  # Linux >= 5.19; older kernels: only VmHWM is checked
fi

# The page cache the conversion left holds the file's pages; they are charged to this shell's
# cgroup, not to the test's, so the run starts from what it maps itself.
set +e
sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" \
  "$MOTE" bench "$MODEL" --expert-budget auto --prompt 16 --gen 16 --no-warmup >"$WORK/bench.json" 2>"$WORK/bench.err"
RC=$?
set -e
cat "$WORK/bench.err"
[ $RC -eq 0 ] || fail "mote bench --expert-budget auto exited $RC under a $LIMIT_MIB MiB cgroup $VERSION limit"

json() { sed -n "s/^ *\"$1\": \([0-9.eE+-]*\),\{0,1\}\$/\1/p" "$WORK/bench.json" | head -1; }
BUDGET=$(json expert_budget_bytes) TOTAL=$(json expert_bytes_total) HWM=$(json peak_rss_bytes)
SLOTS=$(json expert_slots) TOKS=$(json decode_tok_s)
[ -n "$BUDGET" ] && [ -n "$TOTAL" ] && [ -n "$HWM" ] || fail "bench JSON lacks expert_budget_bytes/expert_bytes_total/peak_rss_bytes"
PEAK="" PEAK_TEXT=unknown
[ -f "$CG/$PEAK_FILE" ] && PEAK=$(cat "$CG/$PEAK_FILE") && PEAK_TEXT="$((PEAK >> 20)) MiB"
echo "cgroup $VERSION limit $LIMIT_MIB MiB: auto budget $((BUDGET >> 20)) MiB ($SLOTS slots) of $((TOTAL >> 20)) MiB" \
  "experts; VmHWM $((HWM >> 20)) MiB; cgroup peak $PEAK_TEXT; $TOKS tok/s"
[ "$BUDGET" -gt 0 ] || fail "auto chose no budget (all resident) although the experts ($TOTAL bytes) exceed the limit"
[ "$BUDGET" -lt "$TOTAL" ] || fail "auto budget $BUDGET >= the experts' $TOTAL bytes"
[ "$HWM" -le "$LIMIT" ] || fail "peak RSS $HWM > limit $LIMIT"
[ -z "$PEAK" ] || [ "$PEAK" -le "$LIMIT" ] || fail "cgroup peak usage $PEAK > limit $LIMIT"
echo PASS
