// Experts of one layer scheduled together (kernels::ExpertFfnsFn). In decode every routed expert
// sees one token, so its three products are small (an OLMoE expert's gate is 1 MiB of Q4_0) and
// a fork-join per product is a visible share of the time. Here the rows of all jobs are laid
// end to end (each job starting on a 16-row boundary, so no range cuts a row group) and split
// across the kernel threads once for gate/up and once for down. Every row is computed by the
// same inner loop call shape as for a lone expert, so each job's result is bit-identical.
#include <algorithm>

#include "cpu/kernels/fused.h"
#include "cpu/kernels/threads.h"
#include "kernels/quant.h"

namespace mote::cpu {
namespace {

constexpr int64_t kMaxJobs = 32;

int64_t blocks_of(int64_t cols) { return (cols + kActBlock - 1) / kActBlock; }
int64_t aligned(int64_t rows) { return (rows + kRowAlign - 1) / kRowAlign * kRowAlign; }

// One phase (gate/up, or down) over all jobs: job j owns the concatenated rows
// [first[j], first[j] + rows of its matrix), first[j] a multiple of 16.
struct Phase {
  const kernels::ExpertJob* jobs;
  int64_t n_jobs;
  bool down;                          // false: gate and up with silu; true: down
  QDotRowsFn qdot[kMaxJobs][2];       // gate (or down), up
  const ActBlock* acts[kMaxJobs];     // job j's activation rows [n_tokens, nb]
  int64_t first[kMaxJobs + 1];
};

void phase_rows(void* ctx, int64_t r0, int64_t r1) {
  const auto& p = *static_cast<const Phase*>(ctx);
  for (int64_t j = 0; j < p.n_jobs; ++j) {
    const int64_t lo = std::max(r0, p.first[j]) - p.first[j];
    const kernels::ExpertJob& e = p.jobs[j];
    const WeightView& w = p.down ? e.down : e.gate;
    const int64_t hi = std::min(r1 - p.first[j], w.rows);
    if (lo >= hi) continue;
    const int64_t nb = blocks_of(w.cols);
    if (p.down) {
      p.qdot[j][0](w, lo, hi, 0, nb, p.acts[j], e.n_tokens, e.out, w.rows, false);
      continue;
    }
    const int64_t I = w.rows;
    p.qdot[j][0](e.gate, lo, hi, 0, nb, p.acts[j], e.n_tokens, e.hidden, I, false);
    p.qdot[j][1](e.up, lo, hi, 0, nb, p.acts[j], e.n_tokens, e.scratch, I, false);
    for (int64_t t = 0; t < e.n_tokens; ++t)
      for (int64_t r = lo; r < hi; ++r) e.hidden[t * I + r] = kernels::silu_times(e.hidden[t * I + r], e.scratch[t * I + r]);
  }
}

void run_phase(Phase& p) {
  double work = 0;
  for (int64_t j = 0; j < p.n_jobs; ++j) {
    const WeightView& w = p.down ? p.jobs[j].down : p.jobs[j].gate;
    work += double(weight_row_bytes(w.type, w.cols)) * double(w.rows) * double(p.jobs[j].n_tokens) * (p.down ? 1 : 2);
  }
  const int64_t total = p.first[p.n_jobs];
  if (work >= kParallelMinWork) parallel_ranges(total, kRowAlign, phase_rows, &p);
  else phase_rows(&p, 0, total);
}

// Whether the jobs can run here: int8 loops for every matrix, gate and up alike, and all
// activations (those not pre-quantised, then the down inputs) within the stack buffer.
bool schedulable(const IsaOps& ops, const kernels::ExpertJob* jobs, int64_t n_jobs) {
  if (n_jobs < 2 || n_jobs > kMaxJobs) return false;
  int64_t up_blocks = 0, down_blocks = 0;
  for (int64_t j = 0; j < n_jobs; ++j) {
    const kernels::ExpertJob& e = jobs[j];
    if (!qdot_for(ops, e.gate) || !qdot_for(ops, e.down) || e.gate.type != e.up.type ||
        e.gate.grouped() != e.up.grouped() || e.gate.rows != e.up.rows || e.gate.cols != e.up.cols)
      return false;
    if (!e.x_q) up_blocks += e.n_tokens * blocks_of(e.gate.cols);
    down_blocks += e.n_tokens * blocks_of(e.down.cols);
  }
  return up_blocks <= kActBufBlocks && down_blocks <= kActBufBlocks;
}

}  // namespace

void expert_ffns_with(const IsaOps& ops, const kernels::ExpertJob* jobs, int64_t n_jobs) {
  if (!schedulable(ops, jobs, n_jobs)) {
    kernels::expert_ffns_one_by_one(*kernels::find_kernels(ops.name), jobs, n_jobs);
    return;
  }
  ActBlock buf[kActBufBlocks];
  Phase p{jobs, n_jobs, false, {}, {}, {}};
  int64_t used = 0;
  p.first[0] = 0;
  for (int64_t j = 0; j < n_jobs; ++j) {
    const kernels::ExpertJob& e = jobs[j];
    p.qdot[j][0] = qdot_for(ops, e.gate);
    p.qdot[j][1] = qdot_for(ops, e.up);
    if (e.x_q) {
      p.acts[j] = reinterpret_cast<const ActBlock*>(e.x_q);
    } else {
      const int64_t nb = blocks_of(e.gate.cols);
      for (int64_t t = 0; t < e.n_tokens; ++t) ops.quantize_acts(e.x + t * e.gate.cols, e.gate.cols, buf + used + t * nb);
      p.acts[j] = buf + used;
      used += e.n_tokens * nb;
    }
    p.first[j + 1] = p.first[j] + aligned(e.gate.rows);
  }
  run_phase(p);
  // Down: its inputs are the hidden rows just written; the buffer is free again.
  p.down = true;
  used = 0;
  for (int64_t j = 0; j < n_jobs; ++j) {
    const kernels::ExpertJob& e = jobs[j];
    const int64_t nb = blocks_of(e.down.cols);
    for (int64_t t = 0; t < e.n_tokens; ++t) ops.quantize_acts(e.hidden + t * e.down.cols, e.down.cols, buf + used + t * nb);
    p.acts[j] = buf + used;
    used += e.n_tokens * nb;
    p.qdot[j][0] = qdot_for(ops, e.down);
    p.first[j + 1] = p.first[j] + aligned(e.down.rows);
  }
  run_phase(p);
}

}  // namespace mote::cpu
