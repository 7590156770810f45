// Session: one conversation's state over a shared, immutable Model: the MLA KV cache, the
// position, and every activation buffer, all allocated once in create(). prefill/decode/
// generate never allocate (the decode loop is allocation-free; tests/runtime checks this).
//
// Ownership: the Session borrows the Model (which must outlive it) and owns its buffers.
// Thread-safety: a Session is not thread-safe; use one Session per thread. Many Sessions may
// share one Model.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/status.h"
#include "model/model.h"
#include "models/deepseek.h"

namespace mote {

using models::LogitsMode;

struct SessionOptions {
  int64_t max_context = 4096;  // positions the KV cache holds (prompt + generated tokens)
  int64_t max_batch = 64;      // tokens per forward pass; longer prefills are chunked
};

struct GenerateOptions {
  bool stop_at_eos = false;    // stop after emitting one of the model's eos_token_ids
};

class Session {
 public:
  // Errors: options out of range (kInvalidArgument), allocation failure (kOutOfMemory).
  static Result<std::unique_ptr<Session>> create(const Model& model, const SessionOptions& options = {});

  // Appends `ids` at the current position, max_batch tokens per forward pass.
  // logits: kAll -> [ids.size(), vocab]; kLast -> [vocab]; kNone -> may be null.
  // Errors leave the session unchanged: empty ids, an id outside [0, vocab) (kInvalidArgument),
  // not enough room in the context (kOutOfRange), an expert read error (kIoError; the position
  // goes back to where it was, so the call can be retried).
  Status prefill(std::span<const int32_t> ids, float* logits, LogitsMode mode = LogitsMode::kLast);
  // One token at the current position; logits: [vocab]. Same errors as prefill.
  Status decode(int32_t id, float* logits);
  // Greedy decoding: appends `prompt` (non-empty) at the current position, then writes up to out.size() argmax tokens (ties: lowest id) to `out`.
  // Returns how many were written (fewer only when stop_at_eos hits an eos token). The last
  // emitted token is not fed back, so position() grows by prompt.size() + count - 1.
  // Checks up front that everything fits in the context (kOutOfRange otherwise).
  Result<int64_t> generate_greedy(std::span<const int32_t> prompt, std::span<int32_t> out,
                                  const GenerateOptions& options = {});

  // Forgets every token (position 0); keeps the buffers.
  void reset();

  int64_t position() const { return position_; }  // tokens in the KV cache
  int64_t max_context() const { return options_.max_context; }
  int64_t max_batch() const { return options_.max_batch; }
  int64_t vocab_size() const { return model_.hparams().vocab_size; }
  const Model& model() const { return model_; }
  // Bytes this session allocated for its KV cache and for activations (+ logits).
  uint64_t kv_cache_bytes() const { return kv_cache_bytes_; }
  uint64_t scratch_bytes() const { return scratch_bytes_; }
  // Logits of the last token processed by generate_greedy ([vocab]); valid after it returns.
  std::span<const float> last_logits() const { return {logits_.get(), size_t(vocab_size())}; }

 private:
  Session(const Model& model, const SessionOptions& options) : model_(model), options_(options) {}
  Status check_room(int64_t n_tokens) const;
  Status check_ids(std::span<const int32_t> ids) const;

  const Model& model_;
  SessionOptions options_;
  int64_t position_ = 0;
  std::unique_ptr<float[]> kv_cache_;       // [n_layers][max_context][kv_cache_dim]
  std::unique_ptr<float[]> arena_;          // activation scratch (f32)
  std::unique_ptr<int32_t[]> int_arena_;    // activation scratch (int32)
  std::unique_ptr<float[]> logits_;         // [vocab], generate_greedy's logits
  models::DeepSeekScratch scratch_;
  uint64_t kv_cache_bytes_ = 0;
  uint64_t scratch_bytes_ = 0;
};

// Index of the largest logit; the lowest index wins ties. logits: [n], n >= 1.
int32_t argmax(const float* logits, int64_t n);

}  // namespace mote
