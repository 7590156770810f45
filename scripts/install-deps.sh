#!/usr/bin/env bash
# Installs mote's build and test dependencies from Debian 12 packages (run as root or with sudo).
# Idempotent: packages already present are skipped by apt-get. Python is NOT needed to build,
# run or test mote; it is only used by tests/fixtures/generate.py to regenerate fixtures.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libflatbuffers-dev flatbuffers-compiler
  nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libtbb-dev libpcre2-dev libxnnpack-dev libpthreadpool-dev libicu-dev
  # mote chat line editing and history on a terminal.
  libedit-dev
  # mote serve (HTTP) and its browser test (headless chromium).
  libcpp-httplib-dev chromium
  # libFuzzer targets (scripts/fuzz.sh): clang-14 cannot compile libstdc++-12 <ranges>.
  clang-16 libclang-rt-16-dev
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
