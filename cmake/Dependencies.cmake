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
