// C API: status strings, last error, model and session lifecycle, statistics.
#include <sys/resource.h>

#include <cstring>

#include "c_api/c_api_internal.h"
#include "kernels/kernels.h"

namespace mote::capi {

namespace {
thread_local std::string t_last_error;
}

mote_status fail(mote_status status, const std::string& message) {
  t_last_error = message;
  return status;
}

mote_status from_status(const Status& status) {
  if (status.is_ok()) return MOTE_OK;
  return fail(static_cast<mote_status>(status.code()), status.message());
}

}  // namespace mote::capi

using mote::capi::fail;
using mote::capi::from_status;
using mote::capi::guarded;

static_assert(int(MOTE_ERR_INTERNAL) == int(mote::StatusCode::kInternal));
static_assert(int(MOTE_ERR_CORRUPT_FILE) == int(mote::StatusCode::kCorruptFile));

namespace {

// The int a C caller stored in an enum field. C lets any int through, but loading a value outside
// the enumeration's range into a C++ enum is undefined behaviour (UBSan flags it), so the raw
// bytes are read as an int and validated before any conversion.
template <typename Enum>
int raw_enum_value(const Enum& e) {
  static_assert(sizeof(Enum) == sizeof(int), "C enums are int-sized on every mote target");
  int v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

}  // namespace

MOTE_EXPORT const char* mote_status_string(mote_status status) {
  const int code = raw_enum_value(status);
  if (code == int(MOTE_ERR_BUFFER_TOO_SMALL)) return "buffer too small";
  if (code == int(MOTE_ERR_NON_FINITE)) return "non-finite values";
  if (code < 0 || code > int(MOTE_ERR_INTERNAL)) return "unknown status";
  return mote::status_code_name(static_cast<mote::StatusCode>(code));
}

MOTE_EXPORT const char* mote_last_error(void) { return mote::capi::t_last_error.c_str(); }

MOTE_EXPORT mote_model_params mote_model_params_default(void) {
  mote_model_params p{};
  p.n_threads = 0;
  p.expert_budget_bytes = 0;
  p.backend = MOTE_BACKEND_CPU;
  p.verify_checksums = 0;
  p.chat_template = nullptr;
  p.expert_prefetch = 1;
  p.expert_hot_slots = 0;
  return p;
}

MOTE_EXPORT mote_status mote_model_open(const char* path, const mote_model_params* params, mote_model** out_model) {
  return guarded("mote_model_open", [&]() -> mote_status {
    if (out_model == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_open: out_model is NULL");
    *out_model = nullptr;
    if (path == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_open: path is NULL");
    const mote_model_params p = params ? *params : mote_model_params_default();
    if (p.n_threads < 0) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_open: n_threads must be >= 0");
    if (p.n_threads > 0) mote::kernels::set_num_threads(p.n_threads);  // 0: leave the default (all cores)
    const int backend = raw_enum_value(p.backend);
    if (backend != int(MOTE_BACKEND_CPU) && backend != int(MOTE_BACKEND_CUDA))
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_open: backend " + std::to_string(backend) +
                                                 " is not a mote_backend value");
    if (backend != int(MOTE_BACKEND_CPU))
      return fail(MOTE_ERR_UNSUPPORTED, "mote_model_open: only MOTE_BACKEND_CPU is available in this build");
    mote::EngineOptions options;
    options.model.verify_checksums = p.verify_checksums != 0;
    options.model.expert_budget_bytes = p.expert_budget_bytes;
    if (p.expert_hot_slots < 0)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_open: expert_hot_slots must be >= 0");
    options.model.expert_prefetch = p.expert_prefetch != 0;
    options.model.expert_hot_slots = p.expert_hot_slots;
    if (p.chat_template != nullptr) options.chat_template = p.chat_template;
    auto engine = mote::Engine::open(path, options);
    if (!engine) return from_status(engine.status());
    auto handle = std::make_unique<mote_model>();
    handle->engine = std::move(engine).value();
    handle->params = p;
    *out_model = handle.release();
    return MOTE_OK;
  });
}

MOTE_EXPORT void mote_model_destroy(mote_model* model) { delete model; }

MOTE_EXPORT mote_status mote_model_get_expert_stats(const mote_model* model, mote_expert_stats* out_stats) {
  return guarded("mote_model_get_expert_stats", [&]() -> mote_status {
    if (model == nullptr || out_stats == nullptr)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_get_expert_stats: model or out_stats is NULL");
    const mote::ExpertStore& store = model->engine->model().expert_store();
    const mote::ExpertStats s = store.stats();
    *out_stats = mote_expert_stats{};
    out_stats->budget_bytes = store.budget_bytes();
    out_stats->accesses = s.accesses;
    out_stats->hits = s.hits;
    out_stats->misses = s.misses;
    out_stats->prefetch_reads = s.prefetch_reads;
    out_stats->prefetch_hits = s.prefetch_hits;
    out_stats->bytes_read = s.bytes_read;
    out_stats->io_stall_ms = double(s.io_stall_ns) / 1e6;
    return MOTE_OK;
  });
}

MOTE_EXPORT mote_status mote_model_get_info(const mote_model* model, mote_model_info* out_info) {
  return guarded("mote_model_get_info", [&]() -> mote_status {
    if (model == nullptr || out_info == nullptr)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_get_info: NULL argument");
    const mote::HParams& hp = model->model().hparams();
    const auto& config = model->model().file().config();
    mote_model_info info{};
    info.vocab_size = int32_t(hp.vocab_size);
    info.n_layers = int32_t(hp.n_layers);
    info.hidden_size = int32_t(hp.hidden_size);
    info.n_routed_experts = int32_t(hp.n_routed_experts);
    info.n_experts_per_tok = int32_t(hp.n_experts_per_tok);
    info.has_mtp = model->model().has_mtp() ? 1 : 0;
    info.bos_token = config.bos_token_id();
    info.eos_token = (config.eos_token_ids() && config.eos_token_ids()->size() > 0) ? config.eos_token_ids()->Get(0) : -1;
    info.file_bytes = model->model().file().file_size();
    info.architecture = mote::fb::EnumNameArchitecture(config.architecture());
    auto family = model->engine->chat_family();
    info.chat_template = family ? mote::chat_family_name(*family) : "";
    *out_info = info;
    return MOTE_OK;
  });
}

MOTE_EXPORT mote_session_params mote_session_params_default(void) {
  mote_session_params p{};
  p.max_context = 4096;
  p.max_batch = 64;
  p.mtp = 1;
  return p;
}

MOTE_EXPORT mote_status mote_session_create(mote_model* model, const mote_session_params* params,
                                            mote_session** out_session) {
  return guarded("mote_session_create", [&]() -> mote_status {
    if (out_session == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_session_create: out_session is NULL");
    *out_session = nullptr;
    if (model == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_session_create: model is NULL");
    const mote_session_params p = params ? *params : mote_session_params_default();
    mote::SessionOptions options;
    options.max_context = p.max_context;
    options.max_batch = p.max_batch;
    options.mtp = p.mtp != 0 && model->model().has_mtp();
    auto session = mote::Session::create(model->model(), options);
    if (!session) return from_status(session.status());
    auto handle = std::make_unique<mote_session>();
    handle->owner = model;
    handle->session = std::move(session).value();
    *out_session = handle.release();
    return MOTE_OK;
  });
}

MOTE_EXPORT void mote_session_destroy(mote_session* session) { delete session; }

MOTE_EXPORT mote_status mote_session_reset(mote_session* session) {
  return guarded("mote_session_reset", [&]() -> mote_status {
    if (session == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_session_reset: session is NULL");
    session->session->reset();
    session->prompt_tokens = session->generated_tokens = 0;
    session->prefill_seconds = session->decode_seconds = 0;
    return MOTE_OK;
  });
}

MOTE_EXPORT mote_status mote_session_get_stats(const mote_session* session, mote_stats* out_stats) {
  return guarded("mote_session_get_stats", [&]() -> mote_status {
    if (session == nullptr || out_stats == nullptr)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_session_get_stats: NULL argument");
    mote_stats s{};
    s.prompt_tokens = session->prompt_tokens;
    s.generated_tokens = session->generated_tokens;
    s.prefill_tok_s = session->prefill_seconds > 0 ? double(session->prompt_tokens) / session->prefill_seconds : 0;
    s.decode_tok_s = session->decode_seconds > 0 ? double(session->generated_tokens) / session->decode_seconds : 0;
    s.context_tokens = session->session->position();
    s.kv_cache_bytes = session->session->kv_cache_bytes();
    s.scratch_bytes = session->session->scratch_bytes();
    s.model_resident_bytes = session->owner->model().file().file_size();
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    s.peak_rss_bytes = uint64_t(usage.ru_maxrss) * 1024;
    *out_stats = s;
    return MOTE_OK;
  });
}
