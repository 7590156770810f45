#!/bin/sh
# Runs an aarch64 program under qemu-aarch64 (the CMAKE_CROSSCOMPILING_EMULATOR of
# aarch64-linux-gnu.cmake, and the wrappers tests exec for mote, mote-convert, ...).
#   qemu-aarch64.sh DEFAULT_CPU LIBDIR|- PROGRAM [ARGS...]
# MOTE_QEMU_CPU in the environment overrides DEFAULT_CPU (max, cortex-a72, ...). LIBDIR (the
# private sysroot's library directory, or "-") becomes the guest's LD_LIBRARY_PATH.
cpu="${MOTE_QEMU_CPU:-$1}"
libdir="$2"
shift 2
if [ -e /lib/ld-linux-aarch64.so.1 ]; then
  set -- -cpu "$cpu" "$@"
else
  set -- -cpu "$cpu" -L /usr/aarch64-linux-gnu "$@"
fi
if [ "$libdir" != "-" ]; then
  exec qemu-aarch64 -E "LD_LIBRARY_PATH=$libdir" "$@"
fi
exec qemu-aarch64 "$@"
