#!/usr/bin/env bash
# The edge-chat sample as an app developer builds it: install this build of mote to a temporary
# prefix, configure samples/edge-chat as a separate CMake project against it (find_package(mote)),
# build it, convert the bundled demo model and run samples/edge-chat/run-demo.sh (a scripted
# conversation, a memory-limited expert cache, cancellation).
#
# Usage: edge_chat_sample_test.sh CMAKE BUILD_DIR LIBMOTE MOTE_CONVERT SOURCE_DIR WORK_DIR [TOOLCHAIN_FILE [EMULATOR...]]
#   CMAKE, BUILD_DIR: the cmake that configured BUILD_DIR, and that build (installed with --install)
#   LIBMOTE: the built libmote.so (an ASan build is skipped: exit 77, see below)
#   TOOLCHAIN_FILE, EMULATOR...: for a cross build (tests/CMakeLists.txt passes its toolchain file
#   and CMAKE_CROSSCOMPILING_EMULATOR; extra -D settings for the sample come from
#   EDGE_CHAT_CMAKE_ARGS): the sample is cross-built with the same toolchain and mote-convert and
#   edge-chat run through the emulator.
set -euo pipefail
[ $# -ge 6 ] || { echo "usage: $0 CMAKE BUILD_DIR LIBMOTE MOTE_CONVERT SOURCE_DIR WORK_DIR [TOOLCHAIN_FILE [EMULATOR...]]" >&2; exit 2; }
CMAKE=$1 BUILD=$2 LIBMOTE=$3 CONVERT=$4 SRC=$5 WORK=$6
shift 6
TOOLCHAIN=${1:-}
[ $# -eq 0 ] || shift
EMULATOR=("$@")

# An instrumented libmote.so (scripts/sanitize.sh) needs the ASan runtime loaded first, which an
# application built without -fsanitize does not do: the same reason TextCliTest's installed-package
# test is excluded there.
if readelf -d "$LIBMOTE" 2>/dev/null | grep -q 'NEEDED.*lib[at]san'; then
  echo "SKIPPED: $LIBMOTE is a sanitizer build"
  exit 77
fi

rm -rf "$WORK"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
PREFIX=$WORK/prefix
"$CMAKE" --install "$BUILD" --prefix "$PREFIX" >"$WORK/install.log" || { cat "$WORK/install.log"; exit 1; }

# find_package(mote) by its directory: a cross toolchain (CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# searches CMAKE_PREFIX_PATH only inside its sysroot, while mote_DIR is taken as given.
CONFIG_DIR=$(dirname "$(find "$PREFIX" -name moteConfig.cmake | head -1)")
ARGS=(-S "$SRC/samples/edge-chat" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release "-Dmote_DIR=$CONFIG_DIR")
command -v ninja >/dev/null && ARGS+=(-G Ninja)
[ -z "$TOOLCHAIN" ] || ARGS+=("-DCMAKE_TOOLCHAIN_FILE=$TOOLCHAIN")
# shellcheck disable=SC2206  # word splitting of the extra settings is intended
ARGS+=(${EDGE_CHAT_CMAKE_ARGS:-})
"$CMAKE" "${ARGS[@]}" >"$WORK/configure.log" 2>&1 || { cat "$WORK/configure.log"; exit 1; }
"$CMAKE" --build "$WORK/build" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }

"${EMULATOR[@]}" "$CONVERT" "$SRC/samples/models/mote-demo" -o "$WORK/demo.mote" --weights q8_0 --quiet
bash "$SRC/samples/edge-chat/run-demo.sh" "$WORK/build/edge-chat" "$WORK/demo.mote" "${EMULATOR[@]}"
