// Fused kernels built from one ISA's inner loops (isa.h): the KernelTable entries that combine
// several products in one dispatch. Internal to platforms/cpu/kernels (driver.cpp wires them).
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "cpu/kernels/isa.h"
#include "kernels/kernels.h"

namespace mote::cpu {

// kernels::SwigluFn with `ops`' inner loops (kernels/kernels.h states the contract). Falls back
// to two of the ISA table's matmuls plus the combine when the batch's quantised activations do
// not fit the on-stack buffer (large prefill batches: there the dispatch and quantisation saved
// are a negligible part of the work) or when gate and up differ in type or layout.
// With q (rows already quantised by rms_norm_with) there is no batch limit: no stack buffer is needed.
void swiglu_with(const IsaOps& ops, const WeightView& gate, const WeightView& up, const float* x, int64_t x_stride,
                 int64_t n_tokens, const uint8_t* q, float* out, int64_t out_stride, float* scratch);

// kernels::RmsNormRowsFn with `ops`' activation quantiser: each row is normalised (the shared
// kernels::rms_norm_row arithmetic) and, with q, quantised right after, while still in L1.
void rms_norm_with(const IsaOps& ops, const float* x, int64_t x_stride, int64_t n_rows, const float* w, int64_t n,
                   float eps, float* y, int64_t y_stride, kernels::QuantizedRows* q);

// kernels::ExpertFfnsFn with `ops`' inner loops (expert_jobs.cpp): all jobs' gate/up rows in one
// parallel dispatch, then all down rows in another. Falls back to job-by-job calls of the ISA
// table when a job's weights have no int8 loop, gate and up differ, or the jobs' activations do
// not fit the on-stack buffer.
void expert_ffns_with(const IsaOps& ops, const kernels::ExpertJob* jobs, int64_t n_jobs);

}  // namespace mote::cpu
