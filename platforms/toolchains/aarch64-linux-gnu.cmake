# Cross-compiling for 64-bit Arm Linux with Debian's g++-aarch64-linux-gnu; binaries run under
# qemu-aarch64 (Debian qemu-user) through CMAKE_CROSSCOMPILING_EMULATOR, so ctest works as usual.
#   scripts/arm-sysroot.sh build-arm-sysroot      (the arm64 libraries: a private sysroot)
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=platforms/toolchains/aarch64-linux-gnu.cmake \
#         -DMOTE_AARCH64_SYSROOT=$PWD/build-arm-sysroot
# MOTE_QEMU_CPU (cache variable, default "max": NEON + dotprod + i8mm) picks the emulated CPU; the
# environment variable of the same name overrides it per run (MOTE_QEMU_CPU=cortex-a72 ctest ...),
# so one build is tested on both. "cortex-a72" has no dotprod: the runtime dispatch falls back.
# MOTE_AARCH64_SYSROOT (optional) adds a private sysroot of unpacked arm64 .debs (Debian's arm64
# builds of some libraries are not Multi-Arch co-installable): its CMake packages, pkg-config
# files and libraries are found there, and programs run under qemu load its shared libraries.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(MOTE_QEMU_CPU "max" CACHE STRING "CPU model qemu-aarch64 emulates for tests")
set(MOTE_AARCH64_SYSROOT "" CACHE PATH "Extra arm64 sysroot (unpacked .debs, scripts/arm-sysroot.sh)")

set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu ${MOTE_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)   # flatc, pkg-config, nm: the host's
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(_mote_emu_libdir "-")
if(MOTE_AARCH64_SYSROOT)
  set(_mote_emu_libdir "${MOTE_AARCH64_SYSROOT}/usr/lib/aarch64-linux-gnu")
  # pkg-config reads only the sysroot's .pc files and prefixes their -I/-L paths with it.
  set(ENV{PKG_CONFIG_SYSROOT_DIR} "${MOTE_AARCH64_SYSROOT}")
  set(ENV{PKG_CONFIG_LIBDIR}
      "${MOTE_AARCH64_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${MOTE_AARCH64_SYSROOT}/usr/share/pkgconfig")
  # The sysroot's libraries need each other (libxnnpack -> libcpuinfo, libcpp-httplib -> libssl)
  # at link time; at run time the emulator sets the guest's LD_LIBRARY_PATH instead (no host paths
  # baked into RPATHs).
  foreach(_kind EXE SHARED MODULE)
    set(CMAKE_${_kind}_LINKER_FLAGS_INIT "-Wl,-rpath-link,${_mote_emu_libdir}")
  endforeach()
endif()

# qemu-aarch64.sh picks -L /usr/aarch64-linux-gnu (the cross toolchain's libc) unless an arm64
# libc is installed system-wide (then -L makes threaded programs hang).
set(CMAKE_CROSSCOMPILING_EMULATOR
    ${CMAKE_CURRENT_LIST_DIR}/qemu-aarch64.sh ${MOTE_QEMU_CPU} ${_mote_emu_libdir})
