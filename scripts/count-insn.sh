#!/usr/bin/env bash
# Instructions retired per weight byte by the decode kernels (one token, matrix-vector), NEON
# against AVX2, counted under qemu-user (method: tools/insn_count/qemu_count.py; README section
# "NEON instruction counts"), and AVX-512 counted natively by single-stepping (ptrace_count.c;
# qemu 7.2 does not emulate AVX-512) where this CPU has it. Builds the standalone kernel library
# (tests/kernels/standalone) for aarch64 and x86-64 in build-insn/, links
# tools/insn_count/decode_driver.cpp statically against each, and prints a markdown table for
# Q4_0, Q2_1 and Q8_0 in both layouts (row-major and 16-row groups, the converter's default for
# matmul weights), then the cross-checks of the methods.
#   scripts/count-insn.sh [rows cols]     (default 2048 7168; METHOD=tb|step, default step)
# Needs g++-aarch64-linux-gnu, qemu-user (qemu-aarch64, and qemu-x86_64 7.2+ for AVX2 under TCG),
# python3, cmake, ninja; 10-15 minutes on 2 shared cores (12 measured under load). The native AVX-512 count steps
# through rows/8 rows (one step costs a few microseconds; the count per byte does not depend on
# the row count beyond the once-per-call activation repack).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/build-insn"
ROWS="${1:-2048}"
COLS="${2:-7168}"
METHOD="${METHOD:-step}"
JOBS="${JOBS:-2}"

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache); fi
build() {  # <dir> <c++ compiler> [cmake args...]
  local dir="$1" cxx="$2"
  shift 2
  cmake -S "$ROOT/tests/kernels/standalone" -B "$OUT/$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    "${launcher[@]}" "$@" >/dev/null
  ninja -C "$OUT/$dir" -j"$JOBS" mote_kernels >/dev/null
  "$cxx" -std=c++20 -O2 -static -no-pie -I"$ROOT/runtime" -I"$ROOT/platforms" \
    "$ROOT/tools/insn_count/decode_driver.cpp" "$OUT/$dir/libmote_kernels.a" -o "$OUT/$dir/decode_driver" -lpthread
}
build arm aarch64-linux-gnu-g++ -DCMAKE_TOOLCHAIN_FILE="$ROOT/platforms/toolchains/aarch64-linux-gnu.cmake"
build x86 g++
gcc -O2 -o "$OUT/x86/ptrace_count" "$ROOT/tools/insn_count/ptrace_count.c"

count() {  # <arch> <isa> <type> <layout> -> insns per weight byte
  local qemu objdump nm
  if [ "$1" = arm ]; then
    qemu="qemu-aarch64 -cpu max"; objdump=aarch64-linux-gnu-objdump; nm=aarch64-linux-gnu-nm
  else
    qemu="qemu-x86_64 -cpu max"; objdump=objdump; nm=nm
  fi
  python3 "$ROOT/tools/insn_count/qemu_count.py" --qemu "$qemu" --objdump "$objdump" --nm "$nm" \
    --method "$METHOD" "$OUT/$1/decode_driver" "$2" "$3" "$4" "$ROWS" "$COLS" |
    tee -a "$OUT/counts.log" | sed -n 's/.*insn_per_byte=\([0-9.]*\) linear=yes.*/\1/p'
}

# Native single-step count (x86-64 only) of one call: <isa> <type> <layout> <rows> <cols> -> per byte.
native() {
  local drv="$OUT/x86/decode_driver" info fn bytes n
  info="$("$drv" "$1" "$2" "$3" "$4" "$5" 0 2>/dev/null)" || { echo "-"; return; }
  fn="$(sed 's/.*fn=\(0x[0-9a-f]*\).*/\1/' <<<"$info")"
  bytes="$(sed 's/.*weight_bytes=\([0-9]*\).*/\1/' <<<"$info")"
  n="$("$OUT/x86/ptrace_count" "$fn" "$drv" "$1" "$2" "$3" "$4" "$5" 1 2>&1 >/dev/null |
       sed -n 's/^calls=1 insns=\([0-9]*\)$/\1/p')"
  [ -n "$n" ] || { echo "-"; return; }
  echo "native $*: insns=$n weight_bytes=$bytes" >>"$OUT/counts.log"
  python3 -c "print('%.4f' % ($n / $bytes))"
}

: >"$OUT/counts.log"
echo "qemu: $(qemu-aarch64 --version | head -1); $(aarch64-linux-gnu-g++ --version | head -1); $(g++ --version | head -1)"
echo "shape: rows $ROWS, cols $COLS, 1 token; method $METHOD; instructions per weight byte"
echo
echo "| type | layout | NEON (dotprod) | AVX2 | NEON / AVX2 | AVX-512 (native, rows/8) |"
echo "|---|---|---|---|---|---|"
for type in q4_0 q2_1 q8_0; do
  for layout in row grouped; do
    neon="$(count arm neon "$type" "$layout")"
    avx2="$(count x86 avx2 "$type" "$layout")"
    if [ -z "$neon" ] || [ -z "$avx2" ]; then
      echo "count-insn: no count for $type $layout (see $OUT/counts.log)" >&2
      exit 1
    fi
    avx512="$(native avx512 "$type" "$layout" $((ROWS / 8)) "$COLS")"
    echo "| $type | $layout | $neon | $avx2 | $(python3 -c "print('%.2f' % ($neon / $avx2))") | $avx512 |"
  done
done

# Cross-checks on a small shape: the two qemu methods on NEON (TB sizes from in_asm against one
# instruction per TB), and qemu against native single-stepping on AVX2.
echo
echo "Cross-checks (rows 256, cols 2048; instructions per call):"
for m in tb step; do
  METHOD=$m
  echo "- NEON q4_0 row, qemu method $m: $(ROWS=256 COLS=2048; count arm neon q4_0 row >/dev/null; tail -1 "$OUT/counts.log" | sed 's/.*insns=\([0-9]*\).*/\1/')"
done
METHOD=step
echo "- AVX2 q4_0 grouped, qemu method step: $(ROWS=256 COLS=2048; count x86 avx2 q4_0 grouped >/dev/null; tail -1 "$OUT/counts.log" | sed 's/.*insns=\([0-9]*\).*/\1/')"
native avx2 q4_0 grouped 256 2048 >/dev/null
echo "- AVX2 q4_0 grouped, native single-step: $(tail -1 "$OUT/counts.log" | sed 's/.*insns=\([0-9]*\).*/\1/')"
