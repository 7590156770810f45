// CudaBackend: the Backend (runtime/backend/backend.h, BackendKind::kCuda) on CUDA device 0,
// built with MOTE_CUDA=ON. Device memory is cudaMalloc'd; weights are copied in as stored
// (place_weight: the same bytes, row groups included, no repacking) and every op is a kernel of
// platforms/cuda/kernels_*.cu enqueued on the backend's one stream, so the residual stream and
// every activation stay on the device for the whole forward. The host sees device data only
// through download() (the routed expert ids and weights once per MoE layer, and the logits).
//
// Streams and synchronisation: all ops and copies go to one non-blocking stream, in call order,
// so ops from several threads (several Sessions) are serialised by the stream (each thread's own
// order is kept). upload() and download() wait for the stream (the host buffer is then free /
// filled); copy, zero and the kernels do not wait. stage_experts copies the host experts and waits
// for the copy (the device expert cache times it as the upload speed).
//
// Memory: alloc and place_* count their bytes (device_bytes_in_use) against the capacity: the
// card's free memory at creation, or BackendOptions::device_capacity_bytes when lower. Past it
// alloc returns null, so a VRAM budget is a bound, not a hint.
//
// Host arrays of an op (token ids, slot tokens and weights, RoPE frequencies) travel by value in
// the kernel parameters (platforms/cuda/launch.h), so no op allocates or waits for them.
//
// Errors: creation returns a Status (no device: kUnsupported "MOTE_BACKEND_CUDA: no CUDA device:
// <CUDA's error string>"). alloc returns null when out of memory; place_* return kOutOfMemory.
// An op whose launch fails (an invalid shape beyond the kernels' limits, a sticky device error)
// cannot return a status through the void interface: it prints one line naming the op and the
// CUDA error to stderr and aborts, as the staging backend does for a failed mprotect.
//
// Limits (checked, abort with the op's name): attention dk <= 12288 floats; route with
// 2 * n_experts + n_group <= 12288; rope_tables dim / 2 <= 512.
// Thread-safety: as Backend.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace mote::backend {

// A CUDA backend on device 0, or kUnsupported when there is no usable device (the message names
// cudaGetDeviceCount's error), or kOutOfMemory when its workspace does not fit.
Result<std::unique_ptr<Backend>> create_cuda_backend(const BackendOptions& options);

}  // namespace mote::backend
