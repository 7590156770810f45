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
set(MOTE_HAVE_HTTPLIB OFF)
pkg_check_modules(HTTPLIB IMPORTED_TARGET cpp-httplib)
if(HTTPLIB_FOUND)
  set(MOTE_HAVE_HTTPLIB ON)
else()
  message(STATUS "mote: cpp-httplib not found (libcpp-httplib-dev): mote is built without `serve`")
endif()
