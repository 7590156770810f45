#include "session/session.h"

#include "model/hparams_limits.h"
#include "session/finite_check.h"

#include <algorithm>
#include <new>
#include <string>

namespace mote {
namespace {

// Tokens per forward pass at most (longer prefills are chunked anyway); bounds the scratch size.
constexpr int64_t kMaxBatch = 1 << 16;

}  // namespace

int64_t auto_prefill_batch(const backend::Backend& b, const HParams& hp, int64_t max_context) {
  // Larger prefill passes give each routed expert more tokens per call, so its weights are read
  // and decoded once for more tokens and the batched kernels (AMX tiles: 16 tokens) have whole
  // tiles to work on: on OLMoE-1B-7B widths, 512-token passes prefilled 1.35-1.5x faster than
  // 64-token ones (README "Prefill"). The scratch grows linearly with the pass, and MLA models
  // with many heads (DeepSeek-V3: 128) need about 1 MiB per token, so the pass is the largest
  // of 512, 256, 128 whose scratch stays within kAutoBatchScratchBytes, else 64.
  constexpr uint64_t kAutoBatchScratchBytes = uint64_t(256) << 20;
  for (int64_t t : {512, 256, 128}) {
    if (t > max_context) continue;
    const families::ScratchSize size = families::decoder_scratch_size(b, hp, t, max_context);
    if (size.device_bytes + size.host_bytes <= kAutoBatchScratchBytes) return t;
  }
  return 64;
}

namespace {

template <typename T>
std::unique_ptr<T[]> allocate(int64_t n) {
  return std::unique_ptr<T[]>(new (std::nothrow) T[size_t(std::max<int64_t>(n, 1))]());
}

}  // namespace

int32_t argmax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return int32_t(best);
}

namespace {

// For an out-of-memory message on a backend with separate memory: what the device holds and the
// VRAM budget's split (model/model.h DevicePlacement); empty on unified memory.
std::string device_note(const Model& model) {
  const DevicePlacement& p = model.placement();
  if (!p.separate) return "";
  const backend::Backend& b = model.backend();
  return "; device memory: " + std::to_string(b.device_bytes_in_use()) + " bytes in use" +
         (b.device_capacity() > 0 ? " of capacity " + std::to_string(b.device_capacity()) : std::string()) +
         ", vram_budget " + std::to_string(p.budget_bytes) + " bytes kept " + std::to_string(p.session_bytes) +
         " for sessions (raise vram_budget or vram_session_bytes, or lower max_context)";
}

}  // namespace

Session::DeviceBuffer Session::device_alloc(uint64_t bytes) const {
  backend::Backend& b = model_.backend();
  return DeviceBuffer(b.alloc(std::max<uint64_t>(bytes, 1)), DeviceFree{&b});
}

namespace {

// What Session::create and session_bytes share: the checked options, the pass length, the state
// plan and the scratch size.
struct Sizing {
  int64_t batch = 0;
  LayerStatePlan plan;
  families::ScratchSize size;
};

Result<Sizing> size_session(const Model& model, const SessionOptions& options) {
  if (options.max_context < 1) return invalid_argument("session: max_context must be >= 1");
  if (options.max_batch < 0)
    return invalid_argument("session: max_batch must be >= 1, or 0 for the automatic choice");
  // With the HParamLimits bounds on every dimension, these two keep every buffer size below (KV
  // cache: layers * max_context * kv_cache_dim <= 2^56 floats) free of int64 overflow.
  if (options.max_context > HParamLimits::kPositions)
    return invalid_argument("session: max_context " + std::to_string(options.max_context) + " exceeds the limit " +
                            std::to_string(HParamLimits::kPositions));
  const HParams& hp = model.hparams();
  backend::Backend& b = model.backend();
  Sizing z;
  const int64_t batch = options.max_batch > 0 ? options.max_batch : auto_prefill_batch(b, hp, options.max_context);
  z.batch = std::min({batch, options.max_context, kMaxBatch});
  if (options.kv_type != KvType::kF32 && options.kv_type != KvType::kF16 && options.kv_type != KvType::kQ8_0)
    return invalid_argument("session: kv_type " + std::to_string(int(options.kv_type)) + " is not f32, f16 or q8_0");
  if (options.mtp && (!model.has_mtp() || hp.is_gqa()))
    return invalid_argument("session: speculative decoding needs a model with an MTP module (this file has none; "
                            "convert without --no-mtp)");
  LayerStateOptions state_options;
  state_options.type = options.kv_type;
  state_options.max_context = options.max_context;
  state_options.max_batch = z.batch;
  state_options.mtp = options.mtp;
  state_options.rewind_slack = 1;  // MTP's rejected draft
  state_options.rings = options.rings;
  MOTE_ASSIGN_OR_RETURN(z.plan, plan_layer_state(hp, state_options));
  z.size = families::decoder_scratch_size(b, hp, z.batch, options.max_context);
  return z;
}

// Host and device bytes beyond the decoder scratch: logits [V] and token ids [C + 1].
uint64_t host_scratch_bytes(const HParams& hp, int64_t max_context) {
  return uint64_t(hp.vocab_size) * sizeof(float) + uint64_t(max_context + 1) * sizeof(int32_t);
}

// The MTP buffers (Session::allocate_mtp): hidden rows [rows, H], logits [V], verify logits [2, V].
int64_t mtp_row_count(int64_t max_batch) { return std::max<int64_t>(max_batch, 2) + 2; }  // + pending + backup row
uint64_t mtp_scratch_bytes(const HParams& hp, int64_t max_batch) {
  return uint64_t(mtp_row_count(max_batch) * hp.hidden_size + 3 * hp.vocab_size) * sizeof(float);
}

}  // namespace

Result<SessionBytes> session_bytes(const Model& model, const SessionOptions& options) {
  MOTE_ASSIGN_OR_RETURN(Sizing z, size_session(model, options));
  SessionBytes out;
  out.kv = uint64_t(z.plan.total_bytes);
  out.scratch = z.size.device_bytes + z.size.host_bytes + host_scratch_bytes(model.hparams(), options.max_context);
  if (options.mtp) out.scratch += mtp_scratch_bytes(model.hparams(), z.batch);
  return out;
}

Result<std::unique_ptr<Session>> Session::create(const Model& model, const SessionOptions& options) {
  MOTE_ASSIGN_OR_RETURN(Sizing z, size_session(model, options));
  const HParams& hp = model.hparams();
  backend::Backend& b = model.backend();
  std::unique_ptr<Session> s(new Session(model, options));
  s->options_.max_batch = z.batch;
  const int64_t T = z.batch, C = options.max_context;
  s->plan_ = std::move(z.plan);
  s->tracker_ = RewindTracker(s->plan_);
  const families::ScratchSize size = z.size;
  const uint64_t state_bytes = uint64_t(s->plan_.total_bytes);
  s->state_ = s->device_alloc(state_bytes);
  s->arena_ = s->device_alloc(size.device_bytes);
  s->host_arena_ = allocate<uint8_t>(int64_t(size.host_bytes));
  s->layer_caches_ = allocate<families::LayerCache>(hp.n_layers);
  s->logits_ = allocate<float>(hp.vocab_size);
  s->tokens_ = allocate<int32_t>(C + 1);
  if (!s->state_ || !s->arena_ || !s->host_arena_ || !s->layer_caches_ || !s->logits_ || !s->tokens_)
    return Status(StatusCode::kOutOfMemory,
                  "session: cannot allocate " + std::to_string((state_bytes + size.device_bytes) >> 20) +
                      " MiB (KV cache for max_context " + std::to_string(C) + " + scratch)" + device_note(model));
  for (int64_t l = 0; l < hp.n_layers; ++l) s->layer_caches_[size_t(l)] = s->cache_of(size_t(l));
  s->scratch_ = families::carve_decoder_scratch(b, hp, T, C, s->arena_.get(), s->host_arena_.get());
  s->kv_cache_bytes_ = state_bytes;
  s->scratch_bytes_ = size.device_bytes + size.host_bytes + host_scratch_bytes(hp, C);
  if (options.mtp) MOTE_RETURN_IF_ERROR(s->allocate_mtp());
  s->draft_policy_.set_mode(options.draft_mode);
  return s;
}

families::LayerCache Session::cache_of(size_t plan_layer) const {
  const LayerStateDesc& d = plan_.layers[plan_layer];
  return {static_cast<uint8_t*>(state_.get()) + d.offset, d.type,
          d.kind == LayerStateKind::kKvRing ? d.rows : 0, d.row_bytes};
}

// The MTP block's rows are in the state arena (plan_layer_state with mtp); this adds its buffers.
Status Session::allocate_mtp() {
  const HParams& hp = model_.hparams();
  const int64_t C = options_.max_context, H = hp.hidden_size, V = hp.vocab_size;
  const int64_t rows = mtp_row_count(options_.max_batch);
  mtp_hidden_ = device_alloc(uint64_t(rows * H) * sizeof(float));
  mtp_logits_ = allocate<float>(V);
  verify_logits_ = allocate<float>(2 * V);
  if (!mtp_hidden_ || !mtp_logits_ || !verify_logits_)
    return Status(StatusCode::kOutOfMemory, "session: cannot allocate the MTP state for max_context " + std::to_string(C));
  mtp_layer_cache_ = cache_of(size_t(hp.n_layers));
  mtp_cache_ = mtp_layer_cache_.rows;
  // Positions the MTP skipped (mtp_skip) keep whatever their rows hold: zero here (all-zero bytes
  // are 0 in f32, f16 and q8_0), or a finite row an earlier conversation wrote.
  model_.backend().zero(mtp_cache_, uint64_t(plan_.layers.back().bytes));
  scratch_bytes_ += mtp_scratch_bytes(hp, options_.max_batch);
  return Status::ok();
}

Status Session::check_room(int64_t n_tokens) const {
  if (n_tokens_ + n_tokens > options_.max_context)
    return out_of_range("context full: " + std::to_string(n_tokens_) + " tokens held + " +
                        std::to_string(n_tokens) + " new > max_context " + std::to_string(options_.max_context));
  return Status::ok();
}

Status Session::check_ids(std::span<const int32_t> ids) const {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab_size())
      return invalid_argument("token id " + std::to_string(ids[i]) + " at index " + std::to_string(i) +
                              " is outside the vocabulary [0, " + std::to_string(vocab_size()) + ")");
  return Status::ok();
}

Status Session::prefill(std::span<const int32_t> ids, float* logits, LogitsMode mode) {
  if (ids.empty()) return invalid_argument("prefill: no tokens");
  if (mode != LogitsMode::kNone && logits == nullptr) return invalid_argument("prefill: logits buffer is null");
  MOTE_RETURN_IF_ERROR(check_ids(ids));
  MOTE_RETURN_IF_ERROR(check_room(int64_t(ids.size())));
  const int64_t before = n_tokens_;
  std::copy(ids.begin(), ids.end(), tokens_.get() + n_tokens_);
  n_tokens_ += int64_t(ids.size());
  Status st = Status::ok();
  if (mode == LogitsMode::kAll && before > position_) st = evaluate(before, LogitsMode::kNone, nullptr);
  if (st) st = evaluate(n_tokens_, mode, logits);
  if (!st) n_tokens_ = before;  // the pending tokens evaluated so far stay evaluated
  return st;
}

Status Session::evaluate_pending(float* logits) {
  if (n_tokens_ == position_) return invalid_argument("evaluate_pending: no pending token");
  if (logits == nullptr) return invalid_argument("evaluate_pending: logits buffer is null");
  if (n_tokens_ > options_.max_context) return check_room(0);
  return evaluate(n_tokens_, LogitsMode::kLast, logits);
}

Status Session::evaluate(int64_t end, LogitsMode mode, float* logits) {
  const int64_t n = end - position_, vocab = vocab_size();
  const int64_t start = position_;
  for (int64_t first = 0; first < n; first += options_.max_batch) {
    const int64_t count = std::min(options_.max_batch, n - first);
    const bool last_chunk = first + count == n;
    LogitsMode chunk_mode = mode == LogitsMode::kAll ? LogitsMode::kAll
                            : last_chunk               ? mode
                                                       : LogitsMode::kNone;
    float* out = mode == LogitsMode::kAll ? logits + first * vocab : logits;
    const int32_t* ids = tokens_.get() + position_;
    Status st = mtp_cache_ ? forward_chunk_mtp(ids, count, chunk_mode, out)
                           : families::forward(model_, ids, count, position_, layer_caches(), scratch_,
                                               chunk_mode, out);
    forwarded(count);  // even a failed forward may have overwritten ring rows
    if (st) st = model_.file().check_mapping();  // the file shrank under the forward: garbage out
    if (!st) {  // an expert read error: forget this call's tokens
      if (mtp_cache_) restore_pending_row();
      rewind_to(start);
      return st;
    }
    position_ += count;
  }
  return Status::ok();
}

// Main forward over one chunk (keeping its final hidden states in mtp_hidden_ rows 1..count),
// then the MTP over every position whose next token is now known: the pending position before the
// chunk (row 0) if any, and all chunk positions but the last, whose hidden state becomes row 0.
Status Session::forward_chunk_mtp(const int32_t* ids, int64_t count, LogitsMode mode, float* logits) {
  const int64_t H = model_.hparams().hidden_size;
  float* rows = mtp_rows();
  if (position_ - mtp_position_ > 1) {  // plain steps left a lag
    mtp_skip(kMtpWindow);
    MOTE_RETURN_IF_ERROR(mtp_catch_up(0, nullptr));
  }
  const bool pending = mtp_position_ == position_ - 1;
  backup_pending_row();
  MOTE_RETURN_IF_ERROR(families::forward(model_, ids, count, position_, layer_caches(), scratch_, mode, logits,
                                         rows + H));
  if (pending) {
    MOTE_RETURN_IF_ERROR(run_mtp(ids, rows, count, nullptr));
  } else {
    mtp_position_ = position_;  // nothing pending: the MTP starts at this chunk
    MOTE_RETURN_IF_ERROR(run_mtp(ids + 1, rows + H, count - 1, nullptr));
  }
  model_.backend().copy(rows, rows + count * H, uint64_t(H) * sizeof(float));
  return Status::ok();
}

Status Session::run_mtp(const int32_t* next_ids, const float* hidden, int64_t n, float* mtp_logits) {
  const int64_t H = model_.hparams().hidden_size;
  for (int64_t first = 0; first < n; first += options_.max_batch) {
    const int64_t count = std::min(options_.max_batch, n - first);
    const bool last = first + count == n;
    MOTE_RETURN_IF_ERROR(families::mtp_forward(model_, next_ids + first, hidden + first * H, count, mtp_position_,
                                               mtp_layer_cache_, scratch_,
                                               last && mtp_logits ? LogitsMode::kLast : LogitsMode::kNone, mtp_logits));
    MOTE_RETURN_IF_ERROR(model_.file().check_mapping());
    mtp_position_ += count;
  }
  return Status::ok();
}

void Session::backup_pending_row() {
  const int64_t H = model_.hparams().hidden_size, backup = std::max<int64_t>(options_.max_batch, 2) + 1;
  model_.backend().copy(mtp_rows() + backup * H, mtp_rows(), uint64_t(H) * sizeof(float));
}

void Session::restore_pending_row() {
  const int64_t H = model_.hparams().hidden_size, backup = std::max<int64_t>(options_.max_batch, 2) + 1;
  model_.backend().copy(mtp_rows(), mtp_rows() + backup * H, uint64_t(H) * sizeof(float));
}

Status Session::mtp_begin(int32_t next, float* mtp_logits) {
  if (!mtp_cache_) return invalid_argument("mtp_begin: the session was created without mtp");
  if (mtp_position_ > position_ - 1)
    return invalid_argument("mtp_begin: call it after prefill or evaluate_pending_without_mtp");
  MOTE_RETURN_IF_ERROR(check_ids({&next, 1}));
  mtp_skip(kMtpWindow);
  const int32_t held = tokens_[position_];
  tokens_[position_] = next;  // the lagging positions' next ids end with it
  const Status st = mtp_catch_up(0, mtp_logits);
  if (!st) {
    tokens_[position_] = held;
    return st;
  }
  n_tokens_ = position_ + 1;  // next is the pending token now
  return Status::ok();
}

Status Session::mtp_catch_up(int64_t keep, float* mtp_logits) {
  const int64_t H = model_.hparams().hidden_size, n = position_ - keep - mtp_position_;
  if (n <= 0) return Status::ok();
  const int64_t before = mtp_position_;
  Status st = run_mtp(tokens_.get() + mtp_position_ + 1, mtp_rows(), n, mtp_logits);
  if (!st) {  // the MTP rows it wrote are rewritten by the retry
    mtp_position_ = before;
    return st;
  }
  if (keep > 0) model_.backend().copy(mtp_rows(), mtp_rows() + n * H, uint64_t(keep * H) * sizeof(float));
  return Status::ok();
}

void Session::mtp_skip(int64_t keep) {
  const int64_t H = model_.hparams().hidden_size, n = position_ - keep - mtp_position_;
  if (n <= 0) return;
  // Row by row, ascending: row i takes row n + i (n >= 1, so no single copy overlaps itself).
  for (int64_t i = 0; i < keep; ++i)
    model_.backend().copy(mtp_rows() + i * H, mtp_rows() + (n + i) * H, uint64_t(H) * sizeof(float));
  mtp_position_ += n;
}

Status Session::mtp_settle() {
  if (mtp_cache_) mtp_skip(1);
  return Status::ok();
}

Status Session::evaluate_pending_without_mtp(float* logits) {
  if (!mtp_cache_) return evaluate_pending(logits);
  if (n_tokens_ != position_ + 1) return invalid_argument("evaluate_pending_without_mtp: needs exactly one pending token");
  if (logits == nullptr) return invalid_argument("evaluate_pending_without_mtp: logits buffer is null");
  MOTE_RETURN_IF_ERROR(check_room(0));
  if (position_ - mtp_position_ + 1 > mtp_row_capacity()) mtp_skip(std::min(kMtpWindow, mtp_row_capacity() - 1));
  const int64_t H = model_.hparams().hidden_size, lag = position_ - mtp_position_;
  Status st = families::forward(model_, tokens_.get() + position_, 1, position_, layer_caches(), scratch_,
                                LogitsMode::kLast, logits, mtp_rows() + lag * H);
  forwarded(1);
  if (st) st = model_.file().check_mapping();
  if (!st) {
    rewind_to(position_);
    return st;
  }
  ++position_;
  return Status::ok();
}

int64_t Session::demote_mtp_experts() {
  if (!mtp_cache_) return 0;
  int64_t n = 0;
  const int64_t first = model_.hparams().n_layers, count = int64_t(model_.device_weights().mtp.size());
  for (int64_t layer = first; layer < first + count; ++layer) n += model_.expert_store().demote_layer(layer);
  return n;
}

Status Session::mtp_verify(int32_t pending, int32_t draft, float* logits2, families::DraftRowGate* gate) {
  if (!mtp_cache_ || mtp_position_ != position_)
    return invalid_argument("mtp_verify: needs mtp_begin, mtp_accept or mtp_reject first");
  const int32_t ids[2] = {pending, draft};
  MOTE_RETURN_IF_ERROR(check_ids(ids));
  if (position_ + 2 > options_.max_context) return out_of_range("mtp_verify: no room for two tokens");
  if (gate != nullptr) *gate = families::DraftRowGate{gate->allowance_seconds, gate->seconds_per_byte};
  scratch_.draft_gate = gate != nullptr && !model_.expert_store().resident() ? gate : nullptr;
  Status st = families::forward(model_, ids, 2, position_, layer_caches(), scratch_, LogitsMode::kAll, logits2,
                                mtp_rows());
  scratch_.draft_gate = nullptr;
  forwarded(2);
  if (st) st = model_.file().check_mapping();
  if (!st) return st;  // nothing added (the tracker knows which ring rows were overwritten)
  tokens_[position_] = pending;
  tokens_[position_ + 1] = draft;
  position_ += 2;
  n_tokens_ = position_;
  return Status::ok();
}

Status Session::mtp_accept(int32_t draft, int32_t bonus, float* mtp_logits) {
  if (!mtp_cache_ || mtp_position_ != position_ - 2) return invalid_argument("mtp_accept: needs mtp_verify first");
  const int32_t ids[2] = {draft, bonus};
  MOTE_RETURN_IF_ERROR(check_ids(ids));
  const int64_t before = mtp_position_;
  Status st = run_mtp(ids, mtp_rows(), 2, mtp_logits);
  if (!st) {
    mtp_position_ = before;
    rewind_to(position_ - 2);
    n_tokens_ = position_;
    return st;
  }
  tokens_[position_] = bonus;  // the new pending token
  n_tokens_ = position_ + 1;
  return st;
}

Status Session::mtp_reject(int32_t corrected, float* mtp_logits) {
  if (!mtp_cache_ || mtp_position_ != position_ - 2) return invalid_argument("mtp_reject: needs mtp_verify first");
  MOTE_RETURN_IF_ERROR(check_ids({&corrected, 1}));
  // The draft's cache row is dropped. The ring slack (rewind_slack 1) makes this rewind always
  // possible right after mtp_verify; a restart from 0 would only come from a broken invariant.
  const int64_t keep = position_ - 1;
  if (keep < 1 || rewind_to(keep) != keep)
    return internal_error("mtp_reject: the per-layer state cannot drop the draft row");
  const int64_t before = mtp_position_;
  Status st = run_mtp(&corrected, mtp_rows(), 1, mtp_logits);
  if (!st) {
    mtp_position_ = before;
    rewind_to(position_ - 1);
    n_tokens_ = position_;
    return st;
  }
  tokens_[position_] = corrected;  // the new pending token
  n_tokens_ = position_ + 1;
  return st;
}

Status Session::decode(int32_t id, float* logits) {
  return prefill(std::span<const int32_t>(&id, 1), logits, LogitsMode::kLast);
}

Result<int64_t> Session::generate_greedy(std::span<const int32_t> prompt, std::span<int32_t> out,
                                         const GenerateOptions& options) {
  if (out.empty()) return int64_t(0);
  if (prompt.empty()) return invalid_argument("generate: empty prompt");
  MOTE_RETURN_IF_ERROR(check_ids(prompt));
  MOTE_RETURN_IF_ERROR(check_room(int64_t(prompt.size()) + int64_t(out.size()) - 1));  // the last stays pending
  if (options.speculative && !mtp_cache_)
    return invalid_argument("generate: speculative decoding needs a session created with mtp");
  MOTE_RETURN_IF_ERROR(prefill(prompt, logits_.get(), LogitsMode::kLast));
  if (options.speculative) return generate_speculative(out, options);
  const auto& eos = model_.hparams().eos_token_ids;
  for (size_t i = 0; i < out.size(); ++i) {
    MOTE_RETURN_IF_ERROR(check_logits({logits_.get(), size_t(vocab_size())}, position_ - 1));
    out[i] = argmax(logits_.get(), vocab_size());
    const bool last = i + 1 == out.size() ||
                      (options.stop_at_eos && std::find(eos.begin(), eos.end(), out[i]) != eos.end());
    if (last) {
      MOTE_RETURN_IF_ERROR(append_pending({&out[i], 1}));
      return int64_t(i + 1);
    }
    MOTE_RETURN_IF_ERROR(decode(out[i], logits_.get()));
  }
  return int64_t(out.size());
}

// Greedy speculation (one MTP draft token, verified as vLLM's MTP proposer does): emits the same
// tokens as plain greedy decoding. Leaves the session as generate_greedy does (every emitted
// token but the last in the cache).
Result<int64_t> Session::generate_speculative(std::span<int32_t> out, const GenerateOptions& options) {
  const auto& eos = model_.hparams().eos_token_ids;
  const int64_t V = vocab_size();
  auto is_eos = [&](int32_t t) { return options.stop_at_eos && std::find(eos.begin(), eos.end(), t) != eos.end(); };
  const int64_t n = int64_t(out.size());
  int64_t emitted = 0;
  MOTE_RETURN_IF_ERROR(check_logits({logits_.get(), size_t(V)}, position_ - 1));
  int32_t pending = argmax(logits_.get(), V);
  out[size_t(emitted++)] = pending;
  if (emitted == n || is_eos(pending)) {
    MOTE_RETURN_IF_ERROR(append_pending({&pending, 1}));
    return emitted;
  }
  MOTE_RETURN_IF_ERROR(mtp_begin(pending, mtp_logits_.get()));
  while (emitted < n) {
    if (position_ + 2 > options_.max_context) {  // no room to verify two: one plain step
      MOTE_RETURN_IF_ERROR(evaluate_pending(logits_.get()));
      MOTE_RETURN_IF_ERROR(check_logits({logits_.get(), size_t(V)}, position_ - 1));
      out[size_t(emitted)] = argmax(logits_.get(), V);
      MOTE_RETURN_IF_ERROR(append_pending({&out[size_t(emitted)], 1}));
      return emitted + 1;
    }
    const int64_t at = position_;  // pending's index; verify rows predict at + 1 and at + 2
    MOTE_RETURN_IF_ERROR(check_logits({mtp_logits_.get(), size_t(V)}, at, "MTP draft logits"));
    const int32_t draft = argmax(mtp_logits_.get(), V);
    families::DraftRowGate gate{options.draft_miss_allowance, model_.expert_store().read_seconds_per_byte()};
    MOTE_RETURN_IF_ERROR(mtp_verify(pending, draft, verify_logits_.get(), options.draft_miss_allowance >= 0 ? &gate : nullptr));
    MOTE_RETURN_IF_ERROR(check_logits({verify_logits_.get(), size_t((gate.dropped ? 1 : 2) * V)}, at));
    ++spec_stats_.steps;
    spec_stats_.dropped += gate.dropped ? 1 : 0;
    const int32_t target = argmax(verify_logits_.get(), V);
    if (target != draft || gate.dropped) {  // a dropped draft row: row 1 was not computed
      out[size_t(emitted++)] = target;
      ++spec_stats_.emitted;
      MOTE_RETURN_IF_ERROR(mtp_reject(target, mtp_logits_.get()));
      pending = target;
      if (is_eos(target)) return emitted;
      continue;
    }
    ++spec_stats_.accepted;
    out[size_t(emitted++)] = draft;
    ++spec_stats_.emitted;
    if (emitted == n || is_eos(draft)) {  // the draft ends the output: it becomes the pending token
      MOTE_RETURN_IF_ERROR(mtp_reject(draft, mtp_logits_.get()));
      return emitted;
    }
    const int32_t bonus = argmax(verify_logits_.get() + V, V);
    out[size_t(emitted++)] = bonus;
    ++spec_stats_.emitted;
    MOTE_RETURN_IF_ERROR(mtp_accept(draft, bonus, mtp_logits_.get()));
    pending = bonus;
    if (is_eos(bonus)) return emitted;
  }
  return emitted;
}

void Session::reset() {
  tracker_.rewound(0);
  position_ = 0;
  n_tokens_ = 0;
  mtp_position_ = 0;
  spec_stats_ = {};
}

Status Session::append_pending(std::span<const int32_t> ids) {
  MOTE_RETURN_IF_ERROR(check_ids(ids));
  if (n_tokens_ + int64_t(ids.size()) > options_.max_context + 1)
    return out_of_range("context full: " + std::to_string(n_tokens_) + " tokens held + " +
                        std::to_string(ids.size()) + " pending > max_context " + std::to_string(options_.max_context));
  std::copy(ids.begin(), ids.end(), tokens_.get() + n_tokens_);
  n_tokens_ += int64_t(ids.size());
  return Status::ok();
}

Status Session::truncate(int64_t n) {
  if (n < 0 || n > n_tokens_)
    return invalid_argument("truncate: " + std::to_string(n) + " tokens asked, the session holds " +
                            std::to_string(n_tokens_));
  n_tokens_ = n;
  if (mtp_cache_) {
    // The MTP's newest row consumed the token after its position; that token (or the main hidden
    // state the next MTP step needs) may be gone. Rewind one token further and let the next
    // prefill re-evaluate it: prefill then restarts the MTP at that token ("nothing pending").
    if (mtp_position_ > n - 1 || position_ > n) {
      rewind_to(std::max<int64_t>(0, std::min(position_, n - 1)));
      mtp_position_ = position_;
    }
  } else {
    rewind_to(std::min(position_, n));
  }
  return Status::ok();
}

Status Session::shift(int64_t n_keep, int64_t n_discard) {
  if (n_keep < 0 || n_discard < 0 || n_keep + n_discard > n_tokens_)
    return invalid_argument("shift: keep " + std::to_string(n_keep) + " + discard " + std::to_string(n_discard) +
                            " exceeds the " + std::to_string(n_tokens_) + " tokens held");
  if (n_discard == 0) return Status::ok();
  const int64_t n = n_tokens_;
  std::copy(tokens_.get() + n_keep + n_discard, tokens_.get() + n, tokens_.get() + n_keep);
  MOTE_RETURN_IF_ERROR(truncate(n_keep));  // every moved token is pending now
  n_tokens_ = n - n_discard;
  return Status::ok();
}

int64_t Session::rewind_to(int64_t to) {
  const int64_t from = tracker_.restart_from(plan_, position_, to);
  tracker_.rewound(from);
  position_ = from;
  mtp_position_ = std::min(mtp_position_, from);
  return from;
}

Status Session::restore_state(std::span<const int32_t> tokens, int64_t position, int64_t mtp_position,
                              std::span<const int64_t> floors) {
  const int64_t n = int64_t(tokens.size());
  if (n > options_.max_context + 1 || position < 0 || position > n || position > options_.max_context)
    return out_of_range("session state of " + std::to_string(n) + " tokens does not fit max_context " +
                        std::to_string(options_.max_context));
  MOTE_RETURN_IF_ERROR(check_ids(tokens));
  std::copy(tokens.begin(), tokens.end(), tokens_.get());
  n_tokens_ = n;
  position_ = position;
  mtp_position_ = mtp_position;
  spec_stats_ = {};
  tracker_.rewound(0);
  if (!floors.empty()) {  // the main layers' (the MTP block never has a ring)
    for (size_t i = 0; i < std::min(floors.size(), plan_.layers.size()); ++i)
      tracker_.set_floor(i, std::min(floors[i], position));
  } else {
    tracker_.forwarded(plan_, 0, position);  // no rewind: floor = max(0, position - rows)
  }
  return Status::ok();
}

}  // namespace mote
