// The memory roofline of decoding, for `mote bench`: this machine's measured read bandwidth. The
// weight bytes (and multiply-adds) one token touches come from the library (mote_model_info).
#pragma once

#include <mote/mote.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace mote::cli {

// This machine's CPU, for the bench JSON: the model name (/proc/cpuinfo "model name", else the
// CPUID brand string on x86, else "") and, for each ISA flag the kernels care about (avx2, fma,
// f16c, avx512f/bw/vl, avx512_vnni, avx512_bf16, amx_tile/int8/bf16; asimd and asimddp on arm),
// whether /proc/cpuinfo lists it (all false where there is no /proc/cpuinfo).
struct CpuDescription {
  std::string model;
  std::vector<std::pair<std::string, bool>> flags;
};
CpuDescription describe_cpu();

// Best of a few multi-threaded streaming reads of a 256 MiB buffer (far beyond the last-level
// cache), in GB/s (1e9 bytes/s). Allocates and frees the buffer, then resets the process's peak
// RSS (VmHWM) so the buffer does not count in later peak_rss_bytes. max_bytes caps the buffer
// (at least 16 MiB) where memory is tight: under a memory limit the buffer must fit beside the
// model (bandwidth_buffer_bytes).
double measure_read_bandwidth_gbs(int threads, size_t max_bytes = size_t(256) << 20);

// The buffer measure_read_bandwidth_gbs may use beside `model`: 256 MiB, or half the memory its
// plan found when that is less (mote_model_get_memory_plan; a cgroup limit of a few hundred MiB).
size_t bandwidth_buffer_bytes(const mote_model* model);

}  // namespace mote::cli
