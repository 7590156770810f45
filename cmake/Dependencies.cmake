# All dependencies come from Debian packages (scripts/install-deps.sh).
find_package(Threads REQUIRED)
find_package(FlatBuffers CONFIG REQUIRED)
find_program(FLATC flatc REQUIRED)
find_package(nlohmann_json 3 CONFIG REQUIRED)
find_package(TBB 2021 REQUIRED)  # the fast kernels' thread pool
if(MOTE_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
# XNNPACK (optional; Debian libxnnpack-dev + libpthreadpool-dev, no CMake config or .pc file):
# the f32 fully-connected operator is the F32-weight prefill path (platforms/cpu/kernels/
# xnnpack_f32.cpp, MOTE_HAVE_XNNPACK). Without it the kernels build and run as before.
option(MOTE_XNNPACK "Use XNNPACK for F32-weight prefill GEMM if it is installed" ON)
set(MOTE_HAVE_XNNPACK OFF)
if(MOTE_XNNPACK)
  find_path(XNNPACK_INCLUDE_DIR xnnpack.h)
  find_library(XNNPACK_LIBRARY NAMES XNNPACK)
  find_library(PTHREADPOOL_LIBRARY NAMES pthreadpool)
  if(XNNPACK_INCLUDE_DIR AND XNNPACK_LIBRARY AND PTHREADPOOL_LIBRARY)
    add_library(XNNPACK::XNNPACK UNKNOWN IMPORTED)
    set_target_properties(XNNPACK::XNNPACK PROPERTIES IMPORTED_LOCATION "${XNNPACK_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${XNNPACK_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "${PTHREADPOOL_LIBRARY};Threads::Threads")
    set(MOTE_HAVE_XNNPACK ON)
    message(STATUS "mote: XNNPACK found (${XNNPACK_LIBRARY}): F32 prefill GEMM uses it")
  else()
    message(STATUS "mote: XNNPACK not found: F32 prefill GEMM uses mote's own kernels")
  endif()
endif()
# cpp-httplib (optional; Debian libcpp-httplib-dev, a compiled .so with a .pc file): `mote serve`.
# The imported target carries the package's compile definitions (OpenSSL, zlib, brotli support),
# which must match the ones the .so was built with. Without it the CLI builds without `serve`.
option(MOTE_SERVE "Build `mote serve` if cpp-httplib is installed" ON)
set(MOTE_HAVE_HTTPLIB OFF)
if(MOTE_SERVE)
  pkg_check_modules(HTTPLIB IMPORTED_TARGET cpp-httplib)
endif()
if(HTTPLIB_FOUND)
  set(MOTE_HAVE_HTTPLIB ON)
elseif(MOTE_SERVE)
  message(STATUS "mote: cpp-httplib not found (libcpp-httplib-dev): mote is built without `serve`")
endif()
# libedit (optional; samples/CMakeLists.txt): line editing in `mote chat`. Google Benchmark
# (optional): mote-bench-kernels only.
option(MOTE_LIBEDIT "Use libedit for `mote chat` line editing if it is installed" ON)
set(MOTE_HAVE_LIBEDIT OFF)
if(MOTE_LIBEDIT)
  pkg_check_modules(LIBEDIT IMPORTED_TARGET libedit)
  set(MOTE_HAVE_LIBEDIT ${LIBEDIT_FOUND})
endif()
find_package(benchmark QUIET)
set(MOTE_HAVE_BENCHMARK ${benchmark_FOUND})

# One line naming every optional dependency that is missing (a cross build's sysroot may lack
# some: scripts/arm-sysroot.sh). MOTE_REQUIRE_ALL=ON turns a missing one into a configure error,
# for CI jobs that must build everything.
option(MOTE_REQUIRE_ALL "Fail at configure if an optional dependency is missing" OFF)
set(_mote_missing)
set(MOTE_BENCHMARK ON)  # no option: only the benchmark binary depends on it
foreach(_dep IN ITEMS "XNNPACK:MOTE_XNNPACK:MOTE_HAVE_XNNPACK:F32 prefill GEMM falls back to mote's kernels"
                      "cpp-httplib:MOTE_SERVE:MOTE_HAVE_HTTPLIB:no mote serve"
                      "libedit:MOTE_LIBEDIT:MOTE_HAVE_LIBEDIT:mote chat reads plain lines"
                      "benchmark:MOTE_BENCHMARK:MOTE_HAVE_BENCHMARK:no mote-bench-kernels")
  string(REPLACE ":" ";" _dep "${_dep}")
  list(GET _dep 0 _name)
  list(GET _dep 1 _option)
  list(GET _dep 2 _var)
  list(GET _dep 3 _effect)
  if(${_option} AND NOT ${_var})  # switched off by its option is not missing
    list(APPEND _mote_missing "${_name} (${_effect})")
  endif()
endforeach()
if(_mote_missing)
  string(JOIN ", " _mote_missing_text ${_mote_missing})
  message(STATUS "mote: optional dependencies missing for ${CMAKE_SYSTEM_PROCESSOR}: ${_mote_missing_text}")
  if(MOTE_REQUIRE_ALL)
    message(FATAL_ERROR "mote: MOTE_REQUIRE_ALL=ON and optional dependencies are missing: ${_mote_missing_text}")
  endif()
else()
  message(STATUS "mote: no optional dependency missing for ${CMAKE_SYSTEM_PROCESSOR} (XNNPACK, cpp-httplib, libedit, benchmark)")
endif()
