// The memory roofline of decoding, for `mote bench`: this machine's measured read bandwidth. The
// weight bytes (and multiply-adds) one token touches come from the library (mote_model_info).
#pragma once

namespace mote::cli {

// Best of a few multi-threaded streaming reads of a 256 MiB buffer (far beyond the last-level
// cache), in GB/s (1e9 bytes/s). Allocates and frees the buffer, then resets the process's peak
// RSS (VmHWM) so the buffer does not count in later peak_rss_bytes.
double measure_read_bandwidth_gbs(int threads);

}  // namespace mote::cli
