#!/usr/bin/env bash
# The README's main job on aarch64, under qemu: convert the bundled demo model
# (samples/models/mote-demo) with the cross-built mote-convert and generate text with the
# cross-built mote, then check it against x86:
#   - F32: the greedy continuation equals the x86 build's (same run) and PyTorch's
#     (samples/models/mote-demo/reference.json), also with each side running the file the other
#     converted;
#   - Q8_0: text is generated (printed); its greedy ids are compared with x86's (reported only:
#     int8 kernels may differ in the last place);
#   - the expert store under a 1 MiB budget (of 4.8 MiB of routed experts) gives the same greedy
#     ids as all experts resident, and its --stats line shows misses (experts were evicted).
#   scripts/arm-demo.sh ARM_BUILD [X86_BUILD]
# ARM_BUILD: a cross build (platforms/toolchains/aarch64-linux-gnu.cmake); its emulated/ wrappers
# run the programs under qemu-aarch64 (MOTE_QEMU_CPU=cortex-a72 picks the CPU). X86_BUILD
# (default: build) gives the x86 side; without it only reference.json is compared.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARM="$(realpath "$1")"
X86="$(realpath -m "${2:-$ROOT/build}")"
CPU="${MOTE_QEMU_CPU:-max}"
OUT="$ARM/demo-$CPU"
MODEL="$ROOT/samples/models/mote-demo"
rm -rf "$OUT"; mkdir -p "$OUT"
fail() { echo "arm-demo ($CPU): FAIL: $*" >&2; exit 1; }
arm_convert="$ARM/emulated/mote-convert"
arm_mote="$ARM/emulated/mote"
[ -x "$arm_convert" ] && [ -x "$arm_mote" ] || fail "no $ARM/emulated/{mote,mote-convert}: build $ARM first"

# The first prompt of reference.json ("ROMEO:\nWhat light") and its 16 greedy ids (PyTorch F32).
ids="$(grep -o '"ids": \[[0-9, ]*\]' "$MODEL/reference.json" | head -1 | tr -dc '0-9,')"
greedy_ref="$(grep -o '"greedy": \[[0-9, ]*\]' "$MODEL/reference.json" | head -1 | tr -dc '0-9,')"
n="$(tr ',' '\n' <<<"$greedy_ref" | wc -l)"

t0=$SECONDS
"$arm_convert" "$MODEL" -o "$OUT/f32.mote" --weights f32 >/dev/null 2>"$OUT/convert.log" || fail "convert f32: $(tail -1 "$OUT/convert.log")"
"$arm_convert" "$MODEL" -o "$OUT/q8.mote" --weights q8_0 >/dev/null 2>"$OUT/convert.log" || fail "convert q8_0: $(tail -1 "$OUT/convert.log")"
echo "arm-demo ($CPU): converted F32 and Q8_0 in $((SECONDS - t0)) s"

greedy_arm="$("$arm_mote" run "$OUT/f32.mote" --ids "$ids" -n "$n")"
[ "$greedy_arm" = "$greedy_ref" ] || fail "F32 greedy $greedy_arm != PyTorch $greedy_ref"
if [ -x "$X86/samples/mote" ] && [ -x "$X86/converter/mote-convert" ]; then
  "$X86/converter/mote-convert" "$MODEL" -o "$OUT/f32.x86.mote" --weights f32 >/dev/null 2>&1
  "$X86/converter/mote-convert" "$MODEL" -o "$OUT/q8.x86.mote" --weights q8_0 >/dev/null 2>&1
  # Not byte-compared: the header records the conversion time. Each side runs the other's file.
  [ "$(stat -c %s "$OUT/f32.mote")" = "$(stat -c %s "$OUT/f32.x86.mote")" ] || fail "F32 .mote size differs from x86's"
  [ "$(stat -c %s "$OUT/q8.mote")" = "$(stat -c %s "$OUT/q8.x86.mote")" ] || fail "Q8_0 .mote size differs from x86's"
  greedy_x86="$("$X86/samples/mote" run "$OUT/f32.x86.mote" --ids "$ids" -n "$n")"
  [ "$greedy_arm" = "$greedy_x86" ] || fail "F32 greedy $greedy_arm != x86 $greedy_x86"
  cross_x86="$("$X86/samples/mote" run "$OUT/f32.mote" --ids "$ids" -n "$n")"
  cross_arm="$("$arm_mote" run "$OUT/f32.x86.mote" --ids "$ids" -n "$n")"
  [ "$cross_x86" = "$greedy_arm" ] || fail "x86 mote on the aarch64-converted F32 file: $cross_x86"
  [ "$cross_arm" = "$greedy_arm" ] || fail "aarch64 mote on the x86-converted F32 file: $cross_arm"
  q8_x86="$("$X86/samples/mote" run "$OUT/q8.mote" --ids "$ids" -n 32)"
  q8_arm="$("$arm_mote" run "$OUT/q8.mote" --ids "$ids" -n 32)"
  if [ "$q8_x86" = "$q8_arm" ]; then q8_note="Q8_0 greedy (32) also equal"
  else q8_note="Q8_0 greedy differs (different int8 kernels; not required): x86 $q8_x86, aarch64 $q8_arm"; fi
  echo "arm-demo ($CPU): F32 greedy = x86 = PyTorch ($greedy_arm), each side on the other's file too; $q8_note"
else
  echo "arm-demo ($CPU): no x86 build in $X86: F32 greedy = PyTorch (reference.json): $greedy_arm"
fi

# Expert store: 1 MiB for 4.8 MiB of routed experts must not change what is computed.
q8_all="$("$arm_mote" run "$OUT/q8.mote" --ids "$ids" -n 32)"
q8_budget="$("$arm_mote" run "$OUT/q8.mote" --ids "$ids" -n 32 --expert-budget 1M 2>"$OUT/budget.err")"
[ "$q8_all" = "$q8_budget" ] || fail "Q8_0 greedy under --expert-budget 1M $q8_budget != resident $q8_all"

echo "arm-demo ($CPU): == Q8_0, greedy, 1 MiB routed-expert budget:"
"$arm_mote" run "$OUT/q8.mote" -p "ROMEO:
But soft, what light" -n 48 --expert-budget 1M --stats >"$OUT/text.txt" 2>"$OUT/stats.txt" \
  || fail "mote run -p: $(tail -1 "$OUT/stats.txt")"
cat "$OUT/text.txt"; echo; cat "$OUT/stats.txt"
grep -Eq 'expert store: budget 1048576 bytes, .*misses [1-9]' "$OUT/stats.txt" \
  || fail "no expert-store line with misses in --stats"
[ "$(wc -w <"$OUT/text.txt")" -ge 5 ] || fail "generated text too short"
echo "arm-demo ($CPU): ok in $((SECONDS - t0)) s"
