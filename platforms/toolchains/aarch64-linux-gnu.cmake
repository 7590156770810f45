# Cross-compiling for 64-bit Arm Linux with Debian's g++-aarch64-linux-gnu; binaries run under
# qemu-aarch64 (Debian qemu-user) through CMAKE_CROSSCOMPILING_EMULATOR, so ctest works as usual.
#   cmake -S <project> -B build-arm -DCMAKE_TOOLCHAIN_FILE=platforms/toolchains/aarch64-linux-gnu.cmake
# MOTE_QEMU_CPU (cache variable, default "max": NEON + dotprod + i8mm) picks the emulated CPU;
# "cortex-a72" has no dotprod, which exercises the runtime dispatch's fallback.
# MOTE_AARCH64_SYSROOT (optional) adds a private sysroot of unpacked arm64 .debs to the search
# path (Debian's arm64 builds of some libraries are not Multi-Arch co-installable).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(MOTE_QEMU_CPU "max" CACHE STRING "CPU model qemu-aarch64 emulates for tests")
set(MOTE_AARCH64_SYSROOT "" CACHE PATH "Extra arm64 sysroot (unpacked .debs)")

set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu ${MOTE_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# The cross toolchain's libc lives in /usr/aarch64-linux-gnu; qemu needs -L to find the dynamic
# loader there unless an arm64 libc is installed system-wide (then -L makes threaded programs
# hang, so it must be left out).
if(EXISTS /lib/ld-linux-aarch64.so.1)
  set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -cpu ${MOTE_QEMU_CPU})
else()
  set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -cpu ${MOTE_QEMU_CPU} -L /usr/aarch64-linux-gnu)
endif()
