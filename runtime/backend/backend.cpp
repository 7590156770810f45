#include "backend/backend.h"

#include "backend/cpu_backend.h"
#include "backend/staging_backend.h"
#if defined(MOTE_HAVE_CUDA)
#include "cuda/cuda_backend.h"
#endif

namespace mote::backend {

Result<std::unique_ptr<Backend>> create_backend(const BackendOptions& options) {
  if (options.n_threads < 0) return invalid_argument("backend: n_threads must be >= 0");
  // An empty name: the process's table (kernels::active_kernels(): MOTE_KERNELS or the best this
  // CPU runs, unless set_active_kernels installed another), fixed from here on.
  const kernels::KernelTable* table =
      options.kernels.empty() ? &kernels::active_kernels() : kernels::find_kernels(options.kernels.c_str());
  if (table == nullptr)
    return invalid_argument("backend: unknown or unsupported kernel table \"" + options.kernels +
                            "\" (reference, avx2, avx512, neon: what this build and CPU run)");
  switch (options.kind) {
    case BackendKind::kCpu:
      return std::unique_ptr<Backend>(new CpuBackend(*table, options.n_threads));
    case BackendKind::kStaging:
      return std::unique_ptr<Backend>(new StagingBackend(std::make_unique<CpuBackend>(*table, options.n_threads),
                                                         options.device_capacity_bytes));
    case BackendKind::kCuda:
#if defined(MOTE_HAVE_CUDA)
      return create_cuda_backend(options);
#else
      return unsupported("this build has no CUDA backend (configure with -DMOTE_CUDA=ON)");
#endif
  }
  return invalid_argument("backend: unknown backend kind");
}

}  // namespace mote::backend
