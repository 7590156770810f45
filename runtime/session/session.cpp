#include "session/session.h"

#include <algorithm>
#include <new>
#include <string>

namespace mote {
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

Result<std::unique_ptr<Session>> Session::create(const Model& model, const SessionOptions& options) {
  if (options.max_context < 1) return invalid_argument("session: max_context must be >= 1");
  if (options.max_batch < 1) return invalid_argument("session: max_batch must be >= 1");
  const HParams& hp = model.hparams();
  std::unique_ptr<Session> s(new Session(model, options));
  s->options_.max_batch = std::min(options.max_batch, options.max_context);
  const int64_t T = s->options_.max_batch, C = options.max_context;
  const models::ScratchSize size = models::deepseek_scratch_size(hp, T, C);
  const int64_t kv_floats = hp.n_layers * C * hp.kv_cache_dim;
  s->kv_cache_ = allocate<float>(kv_floats);
  s->arena_ = allocate<float>(size.floats);
  s->int_arena_ = allocate<int32_t>(size.ints);
  s->logits_ = allocate<float>(hp.vocab_size);
  if (!s->kv_cache_ || !s->arena_ || !s->int_arena_ || !s->logits_)
    return Status(StatusCode::kOutOfMemory,
                  "session: cannot allocate " + std::to_string((kv_floats + size.floats) * 4 / (1 << 20)) +
                      " MiB (KV cache for max_context " + std::to_string(C) + " + scratch)");
  s->scratch_ = models::deepseek_carve_scratch(hp, T, C, s->arena_.get(), s->int_arena_.get());
  s->kv_cache_bytes_ = uint64_t(kv_floats) * sizeof(float);
  s->scratch_bytes_ = uint64_t(size.floats + hp.vocab_size) * sizeof(float) + uint64_t(size.ints) * sizeof(int32_t);
  return s;
}

Status Session::check_room(int64_t n_tokens) const {
  if (position_ + n_tokens > options_.max_context)
    return out_of_range("context full: " + std::to_string(position_) + " tokens held + " +
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
  const int64_t n = int64_t(ids.size()), vocab = vocab_size();
  const int64_t start = position_;
  for (int64_t first = 0; first < n; first += options_.max_batch) {
    const int64_t count = std::min(options_.max_batch, n - first);
    const bool last_chunk = first + count == n;
    LogitsMode chunk_mode = mode == LogitsMode::kAll ? LogitsMode::kAll
                            : last_chunk               ? mode
                                                       : LogitsMode::kNone;
    float* out = mode == LogitsMode::kAll ? logits + first * vocab : logits;
    Status st = models::deepseek_forward(model_, ids.data() + first, count, position_, kv_cache_.get(), scratch_,
                                         chunk_mode, out);
    if (!st) {  // an expert read error: forget this call's tokens
      position_ = start;
      return st;
    }
    position_ += count;
  }
  return Status::ok();
}

Status Session::decode(int32_t id, float* logits) {
  return prefill(std::span<const int32_t>(&id, 1), logits, LogitsMode::kLast);
}

Result<int64_t> Session::generate_greedy(std::span<const int32_t> prompt, std::span<int32_t> out,
                                         const GenerateOptions& options) {
  if (out.empty()) return int64_t(0);
  if (prompt.empty()) return invalid_argument("generate: empty prompt");
  MOTE_RETURN_IF_ERROR(check_ids(prompt));
  MOTE_RETURN_IF_ERROR(check_room(int64_t(prompt.size()) + int64_t(out.size()) - 1));
  MOTE_RETURN_IF_ERROR(prefill(prompt, logits_.get(), LogitsMode::kLast));
  const auto& eos = model_.hparams().eos_token_ids;
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = argmax(logits_.get(), vocab_size());
    if (options.stop_at_eos && std::find(eos.begin(), eos.end(), out[i]) != eos.end()) return int64_t(i + 1);
    if (i + 1 < out.size()) MOTE_RETURN_IF_ERROR(decode(out[i], logits_.get()));
  }
  return int64_t(out.size());
}

void Session::reset() {
  position_ = 0;
}

}  // namespace mote
