#!/usr/bin/env bash
# Builds a private arm64 sysroot for cross-building mote for aarch64-linux-gnu: Debian 12's arm64
# -dev packages of every library the top-level CMake finds, fetched with `apt-get download` and
# unpacked with `dpkg-deb -x`. Nothing is installed system-wide: Debian's XNNPACK/pthreadpool
# packages are not Multi-Arch (installing :arm64 removes the amd64 ones) and an installed
# libc6:arm64 makes `qemu-aarch64 -L` hang threaded programs (../shared/reference/toolchain.md).
#
# apt runs with its own state directory and APT::Architecture=arm64, so the system's
# dpkg architectures and package lists are untouched; the system's sources.list is reused.
# The dependency closure is resolved by apt itself (a simulated install against an empty dpkg
# status); the cross toolchain's own libc/libgcc/libstdc++ (libc6-arm64-cross etc.) are left out.
#
#   scripts/arm-sysroot.sh [SYSROOT]     (default: build-arm-sysroot; prints nothing new when the
#                                         stamp matches: safe to run again)
# Afterwards: -DMOTE_AARCH64_SYSROOT=SYSROOT with platforms/toolchains/aarch64-linux-gnu.cmake.
# Optional libraries (XNNPACK, cpp-httplib, libedit) that fail to download are skipped with a
# message; the build then configures without them (cmake/Dependencies.cmake says what is missing).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SYSROOT="$(realpath -m "${1:-$ROOT/build-arm-sysroot}")"
APTDIR="$SYSROOT/.apt"

# Required: the build stops without them. Optional: the build degrades without them.
REQUIRED=(libflatbuffers-dev nlohmann-json3-dev libtbb-dev libpcre2-dev libicu-dev
          libgtest-dev libgmock-dev libbenchmark-dev)
OPTIONAL=(libxnnpack-dev libpthreadpool-dev libcpp-httplib-dev libedit-dev)
# Left out: what the cross toolchain provides under /usr/aarch64-linux-gnu (libc6-dev-arm64-cross,
# libstdc++-12-dev-arm64-cross; a second copy in the sysroot would shadow it), and tools or data no
# link needs. flatbuffers-compiler stays: the arm64 FlatBuffersConfig.cmake checks that its flatc
# exists (the build runs the host's flatc, found by find_program).
EXCLUDE_RE='^(libc6|libc6-dev|libgcc-s1|libgcc-12-dev|libstdc\+\+6|libstdc\+\+-12-dev|gcc-12-base|libcrypt1|libcrypt-dev|libnsl2|libnsl-dev|libtirpc3|libtirpc-dev|libtirpc-common|linux-libc-dev|rpcsvc-proto|libgssapi-krb5-2|libkrb5-3|libk5crypto3|libkrb5support0|libkeyutils1|libcom-err2|libselinux1|dpkg|tar|perl-base|debconf|base-files|libselinux1|cmake|cmake-data|googletest|icu-devtools|pkg-config|pkgconf|pkgconf-bin|libpkgconf3|libbsd-dev|libmd-dev|ncurses-bin|libc-dev-bin)$'

STAMP="$SYSROOT/.stamp"
want="$(printf '%s\n' "${REQUIRED[@]}" "${OPTIONAL[@]}" "$EXCLUDE_RE" | cat - "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  echo "arm-sysroot: $SYSROOT is up to date"
  exit 0
fi

mkdir -p "$APTDIR/state/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/debs"
: > "$APTDIR/status"
APT=(apt-get -q -o "APT::Architecture=arm64" -o "APT::Architectures::=arm64"
     -o "Dir::State=$APTDIR/state" -o "Dir::State::status=$APTDIR/status"
     -o "Dir::Cache=$APTDIR/cache" -o "Debug::NoLocking=1"
     -o "APT::Get::AllowUnauthenticated=false" -o "APT::Sandbox::User=root")

if [ ! -f "$APTDIR/state/updated" ]; then
  echo "arm-sysroot: apt-get update (arm64 lists into $APTDIR)"
  "${APT[@]}" update -qq
  touch "$APTDIR/state/updated"
fi

# The closure of one package set: a simulated install against an empty dpkg status prints one
# "Inst NAME (VERSION ...)" line per package it would unpack.
closure() { "${APT[@]}" -s install --no-install-recommends "$@" 2>/dev/null | awk '/^Inst /{print $2}'; }

packages=()
for p in "${REQUIRED[@]}"; do
  if ! closure "$p" >/dev/null || [ -z "$(closure "$p")" ]; then
    echo "arm-sysroot: cannot resolve required package $p for arm64" >&2; exit 1
  fi
done
usable=("${REQUIRED[@]}")
for p in "${OPTIONAL[@]}"; do
  if [ -n "$(closure "$p")" ]; then usable+=("$p")
  else echo "arm-sysroot: optional $p is not available for arm64: skipped"; fi
done
mapfile -t packages < <(closure "${usable[@]}" | grep -Ev "$EXCLUDE_RE" | sort -u)
echo "arm-sysroot: ${#packages[@]} packages: ${packages[*]}"

(cd "$APTDIR/debs" && "${APT[@]}" download "${packages[@]}" >/dev/null)

# Unpack into a fresh tree (an old tree may hold files of packages no longer wanted).
rm -rf "$SYSROOT/usr" "$SYSROOT/lib" "$SYSROOT/etc"
for p in "${packages[@]}"; do
  deb=$(ls "$APTDIR/debs/${p}_"*.deb | head -1)
  dpkg-deb -x "$deb" "$SYSROOT"
done

# Merged /usr: move /lib/* into /usr/lib so one library directory holds everything.
if [ -d "$SYSROOT/lib" ] && [ ! -L "$SYSROOT/lib" ]; then
  cp -a "$SYSROOT/lib/." "$SYSROOT/usr/lib/"
  rm -rf "$SYSROOT/lib"
fi
ln -sfn usr/lib "$SYSROOT/lib"

# Multiarch headers (openssl/opensslconf.h in usr/include/aarch64-linux-gnu): the cross compiler
# searches only <sysroot>/usr/include (pkg-config's -isystem); the sysroot holds one architecture,
# so they are copied up beside the others.
if [ -d "$SYSROOT/usr/include/aarch64-linux-gnu" ]; then
  cp -a "$SYSROOT/usr/include/aarch64-linux-gnu/." "$SYSROOT/usr/include/"
fi

# Absolute symlinks (libfoo.so -> /lib/aarch64-linux-gnu/libfoo.so.1) would resolve on the
# host: point them into the sysroot, relative to the link's own directory.
while IFS= read -r link; do
  target="$(readlink "$link")"
  case "$target" in
    /lib/*) target="/usr$target" ;;
  esac
  rel="$(realpath -m --relative-to="$(dirname "$link")" "$SYSROOT$target")"
  ln -sfn "$rel" "$link"
done < <(find "$SYSROOT/usr" -type l -lname '/*')

# Dangling .so links are a link-time trap (find_library picks them, the linker fails): report.
dangling="$(find "$SYSROOT/usr" -xtype l -name '*.so*' | head -5)"
if [ -n "$dangling" ]; then echo "arm-sysroot: warning: dangling links: $dangling" >&2; fi

echo "$want" > "$STAMP"
echo "arm-sysroot: ready in $SYSROOT ($(du -sh "$SYSROOT/usr" | cut -f1))"
