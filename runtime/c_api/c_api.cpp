// C API: status strings, last error, model and session lifecycle, statistics.
#include <sys/resource.h>

#include <cstring>
#include <functional>

#include "c_api/c_api_internal.h"
#include "core/log.h"
#include "backend/cpu_backend.h"
#include "kernels/kernels.h"
#include "loader/data_loader.h"

#ifndef MOTE_VERSION_STRING
#error "MOTE_VERSION_STRING (the project version) comes from runtime/CMakeLists.txt"
#endif

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
using mote::capi::fill_tier_stats;
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

MOTE_EXPORT const char* mote_version(void) { return MOTE_VERSION_STRING; }

MOTE_EXPORT int32_t mote_api_version(void) { return MOTE_API_VERSION; }

namespace {

// The application's log callback. Written only under the log sink's mutex (set_log_sink's
// guarantee: once it returns, the previous callback is never called again), read by the sink
// under that same mutex.
struct CLogSink {
  mote_log_callback callback = nullptr;
  void* user_data = nullptr;
};
CLogSink g_log_sink;

void c_log_sink(void* user, mote::LogLevel level, const char* message) {
  const CLogSink* sink = static_cast<const CLogSink*>(user);
  sink->callback(sink->user_data, static_cast<mote_log_level>(int(level)), message);
}

}  // namespace

MOTE_EXPORT mote_status mote_set_log_callback(mote_log_callback callback, void* user_data, mote_log_level max_level) {
  return guarded("mote_set_log_callback", [&]() -> mote_status {
    const int level = raw_enum_value(max_level);
    if (level < int(MOTE_LOG_ERROR) || level > int(MOTE_LOG_DEBUG))
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_set_log_callback: max_level " + std::to_string(level) +
                                                 " is not a mote_log_level value");
    std::lock_guard<std::recursive_mutex> lock(mote::detail::log_state().mutex);
    g_log_sink.callback = callback;
    g_log_sink.user_data = user_data;
    if (callback == nullptr) {
      mote::set_log_sink(nullptr, nullptr, static_cast<mote::LogLevel>(level));
    } else {
      mote::set_log_sink(c_log_sink, &g_log_sink, static_cast<mote::LogLevel>(level));
    }
    return MOTE_OK;
  });
}

MOTE_EXPORT mote_model_params mote_model_params_default(void) {
  mote_model_params p{};
  p.n_threads = 0;
  p.expert_budget_bytes = 0;
  p.backend = MOTE_BACKEND_CPU;
  p.verify_checksums = 0;
  p.chat_template = nullptr;
  p.expert_prefetch = 1;
  p.expert_hot_slots = 0;
  p.expert_policy = MOTE_EXPERT_POLICY_LFU;
  p.progress_callback = nullptr;
  p.progress_user_data = nullptr;
  p.kernels = nullptr;
  p.expert_learn = 0;
  p.expert_stats_path = nullptr;
  p.mem_limit_bytes = 0;
  p.plan_context = 4096;
  p.vram_budget = 0;
  p.expert_tier_mode = MOTE_TIER_MODE_AUTO;
  return p;
}

namespace {

// Share of the load progress (mote_model_params.progress_callback) that Model::open reports;
// the rest is the tokenizer and chat template, reported as done when Engine::open returns.
constexpr float kModelOpenShare = 0.9f;

// "reference, avx2" (the tables this build and CPU can run, best last), for error messages.
std::string available_kernel_names() {
  const mote::kernels::KernelTable* tables[8];
  const int n = mote::kernels::available_kernels(tables, 8);
  std::string names;
  for (int i = 0; i < n; ++i) names += (i ? ", " : "") + std::string(tables[i]->name);
  return names;
}

// The API version 7 fields (vram_budget, expert_tier_mode) and the backend kind -> options.
mote_status placement_options(const std::string& f, const mote_model_params& p, int backend,
                              mote::EngineOptions* options) {
  if (p.vram_budget > mote::kMaxVramBudgetBytes)
    return fail(MOTE_ERR_INVALID_ARGUMENT, f + ": vram_budget " + std::to_string(p.vram_budget) +
                                               " bytes is more than 1 PiB: not a device's memory");
  if (p.vram_budget > 0 && backend == int(MOTE_BACKEND_CPU))
    return fail(MOTE_ERR_INVALID_ARGUMENT, f + ": vram_budget needs a backend with device memory; MOTE_BACKEND_CPU "
                                               "has none (leave it 0)");
  const int mode = raw_enum_value(p.expert_tier_mode);
  if (mode != int(MOTE_TIER_MODE_AUTO) && mode != int(MOTE_TIER_MODE_UPLOAD) && mode != int(MOTE_TIER_MODE_CPU))
    return fail(MOTE_ERR_INVALID_ARGUMENT, f + ": expert_tier_mode " + std::to_string(mode) +
                                               " is not a mote_expert_tier_mode value");
  // MOTE_BACKEND_CUDA: Model::open's create_backend answers MOTE_ERR_UNSUPPORTED with one line when
  // this build has no CUDA backend or the machine has no usable CUDA device.
  options->model.backend.kind = backend == int(MOTE_BACKEND_STAGING) ? mote::backend::BackendKind::kStaging
                                : backend == int(MOTE_BACKEND_CUDA)  ? mote::backend::BackendKind::kCuda
                                                                     : mote::backend::BackendKind::kCpu;
  options->model.vram_budget_bytes = p.vram_budget;
  options->model.expert_tier_mode = mode == int(MOTE_TIER_MODE_UPLOAD) ? mote::TierMode::kUpload
                                    : mode == int(MOTE_TIER_MODE_CPU)  ? mote::TierMode::kCpu
                                                                       : mote::TierMode::kAuto;
  return MOTE_OK;
}

// mote_model_params -> EngineOptions, every field validated (the error names it).
mote_status engine_options(const char* fn, const mote_model_params& p, mote::EngineOptions* options) {
  const std::string f(fn);
  if (p.n_threads < 0) return fail(MOTE_ERR_INVALID_ARGUMENT, f + ": n_threads must be >= 0");
  const int backend = raw_enum_value(p.backend);
  if (backend != int(MOTE_BACKEND_CPU) && backend != int(MOTE_BACKEND_CUDA) && backend != int(MOTE_BACKEND_STAGING))
    return fail(MOTE_ERR_INVALID_ARGUMENT, f + ": backend " + std::to_string(backend) +
                                               " is not a mote_backend value");
  if (mote_status st = placement_options(f, p, backend, options); st != MOTE_OK) return st;
  const std::string kernels = p.kernels != nullptr ? p.kernels : "";
  if (!kernels.empty() && mote::kernels::find_kernels(kernels.c_str()) == nullptr)
    return fail(MOTE_ERR_INVALID_ARGUMENT, f + ": kernels '" + kernels +
                                               "' is not a kernel table this build and CPU can run (" +
                                               available_kernel_names() + ")");
  if (p.expert_hot_slots < 0)
    return fail(MOTE_ERR_INVALID_ARGUMENT, f + ": expert_hot_slots must be >= 0");
  const int policy = raw_enum_value(p.expert_policy);
  if (policy != int(MOTE_EXPERT_POLICY_LFU) && policy != int(MOTE_EXPERT_POLICY_LRU))
    return fail(MOTE_ERR_INVALID_ARGUMENT, f + ": expert_policy " + std::to_string(policy) +
                                               " is not a mote_expert_policy value");
  options->model.backend.n_threads = p.n_threads;  // the backend owns the model's kernel pool
  options->model.backend.kernels = kernels;        // "" = the best table (or MOTE_KERNELS)
  if (p.plan_context < 1) return fail(MOTE_ERR_INVALID_ARGUMENT, f + ": plan_context must be >= 1");
  options->model.verify_checksums = p.verify_checksums != 0;
  options->model.expert_budget_auto = p.expert_budget_bytes == MOTE_EXPERT_BUDGET_AUTO;
  options->model.expert_budget_bytes = options->model.expert_budget_auto ? 0 : p.expert_budget_bytes;
  options->model.mem_limit_bytes = p.mem_limit_bytes;
  // Every open makes the memory plan (mote_model_get_memory_plan), for one session with the
  // C API's session defaults (mote_session_params_default) at plan_context tokens.
  options->model.plan_session = [context = p.plan_context](const mote::Model& model)
      -> mote::Result<std::pair<uint64_t, uint64_t>> {
    const mote_session_params d = mote_session_params_default();
    mote::SessionOptions so;
    so.max_context = context;
    so.max_batch = d.max_batch;
    so.kv_type = static_cast<mote::KvType>(d.kv_type);
    so.mtp = d.mtp != 0 && model.has_mtp() && !model.hparams().is_gqa();
    MOTE_ASSIGN_OR_RETURN(mote::SessionBytes bytes, mote::session_bytes(model, so));
    return std::make_pair(bytes.kv, bytes.scratch);
  };
  options->model.expert_prefetch = p.expert_prefetch != 0;
  options->model.expert_hot_slots = p.expert_hot_slots;
  options->model.expert_learn = p.expert_learn != 0;
  options->model.expert_stats_path = p.expert_stats_path != nullptr ? p.expert_stats_path : "";
  // With learning, expert_hot_slots is the number of learned hottest experts pinned for good
  // (the periodic hot pinning, which picks by recent use, is off: see ExpertStore::preload).
  if (p.expert_learn != 0 && p.expert_hot_slots > 0) {
    options->model.expert_learn_pin = p.expert_hot_slots;
    options->model.expert_hot_slots = 0;
  }
  options->model.expert_policy = policy == int(MOTE_EXPERT_POLICY_LRU) ? mote::EvictionKind::kLru : mote::EvictionKind::kLfu;
  if (p.progress_callback != nullptr) {
    const mote_progress_callback callback = p.progress_callback;
    void* const user_data = p.progress_user_data;
    options->model.progress = [callback, user_data](float fraction) {
      return callback(user_data, fraction * kModelOpenShare) == 0;
    };
  }
  if (p.chat_template != nullptr) options->chat_template = p.chat_template;
  return MOTE_OK;
}

// The shared part of mote_model_open and mote_model_open_memory. `loader` makes the model's
// DataLoader (mote::open_mapped_file or mote::open_memory); it is called once the params are valid.
mote_status open_model(const char* fn, const mote_model_params* params,
                       const std::function<mote::Result<std::unique_ptr<mote::DataLoader>>()>& loader,
                       mote_model** out_model) {
  const mote_model_params p = params ? *params : mote_model_params_default();
  mote::EngineOptions options;
  if (mote_status st = engine_options(fn, p, &options); st != MOTE_OK) return st;
  auto handle = std::make_unique<mote_model>();
  auto bytes = loader();
  if (!bytes) return from_status(bytes.status());
  const std::string name = (*bytes)->name();
  auto engine = mote::Engine::open(std::move(bytes).value(), options);
  if (!engine) return from_status(engine.status());
  handle->engine = std::move(engine).value();
  // n_threads 0: no pool of its own, the process-wide arena (all cores) runs its kernels.
  if (const auto* cpu = dynamic_cast<const mote::backend::CpuBackend*>(&handle->model().backend()))
    handle->threads = cpu->thread_pool();
  handle->params = p;
  handle->active = mote::active_weights(handle->model());
  handle->dense_bytes = handle->model().dense_bytes();
  if (p.progress_callback != nullptr && p.progress_callback(p.progress_user_data, 1.0f) != 0)
    return fail(MOTE_ERR_CANCELLED, name + ": model open cancelled by the progress callback");
  if (mote::log_enabled(mote::LogLevel::kInfo)) {
    const int threads = handle->model().backend().n_threads();
    mote::log(mote::LogLevel::kInfo, name + ": " + std::to_string(threads) + " kernel threads (" +
                                         (handle->threads ? "the model's own pool)" : "the process-wide pool)"));
  }
  *out_model = handle.release();
  return MOTE_OK;
}

}  // namespace

MOTE_EXPORT mote_status mote_model_open(const char* path, const mote_model_params* params, mote_model** out_model) {
  return guarded("mote_model_open", [&]() -> mote_status {
    if (out_model == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_open: out_model is NULL");
    *out_model = nullptr;
    if (path == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_open: path is NULL");
    return open_model("mote_model_open", params, [&] { return mote::open_mapped_file(path); }, out_model);
  });
}

MOTE_EXPORT mote_status mote_model_open_memory(const void* data, size_t size, const mote_model_params* params,
                                               mote_model** out_model) {
  return guarded("mote_model_open_memory", [&]() -> mote_status {
    if (out_model == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_open_memory: out_model is NULL");
    *out_model = nullptr;
    if (data == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_open_memory: data is NULL");
    return open_model("mote_model_open_memory", params, [&] { return mote::open_memory(data, size); }, out_model);
  });
}

MOTE_EXPORT void mote_model_destroy(mote_model* model) { delete model; }

MOTE_EXPORT mote_status mote_model_get_expert_stats(const mote_model* model, mote_expert_stats* out_stats) {
  return guarded("mote_model_get_expert_stats", [&]() -> mote_status {
    if (model == nullptr || out_stats == nullptr)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_get_expert_stats: model or out_stats is NULL");
    const mote::ExpertStore& store = model->engine->model().expert_store();
    const mote::ExpertStats s = store.stats();
    mote_expert_stats e{};
    e.budget_bytes = store.budget_bytes();
    e.accesses = s.accesses;
    e.hits = s.hits;
    e.misses = s.misses;
    e.prefetch_reads = s.prefetch_reads;
    e.prefetch_hits = s.prefetch_hits;
    e.bytes_read = s.bytes_read;
    e.io_stall_ms = double(s.io_stall_ns) / 1e6;
    e.evictions = s.evictions;
    e.prefetch_unused = s.prefetch_unused;
    e.read_ms = double(s.read_ns) / 1e6;
    e.total_bytes = store.total_expert_bytes();
    e.slot_count = store.slot_count();
    e.slot_bytes = store.slot_bytes();  // 0 when resident (no slots)
    e.hot_slots = store.hot_slot_count();
    e.policy = store.policy() == mote::EvictionKind::kLru ? MOTE_EXPERT_POLICY_LRU : MOTE_EXPERT_POLICY_LFU;
    e.prefetch = store.wants_prefetch() ? 1 : 0;
    e.direct_io = store.direct_io() ? 1 : 0;
    e.preloaded = s.preloaded;
    if (const mote::ExpertLearning* learning = model->engine->model().expert_learning()) {
      e.learned = learning->loaded() ? 1 : 0;
      e.learned_tokens = learning->loaded() ? learning->learned_tokens() : 0.0;
      e.stats_path = learning->path().c_str();
    }
    *out_stats = e;
    return MOTE_OK;
  });
}

MOTE_EXPORT mote_status mote_model_wait_expert_io(mote_model* model) {
  return guarded("mote_model_wait_expert_io", [&]() -> mote_status {
    if (model == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_wait_expert_io: model is NULL");
    model->engine->model().expert_store().wait_idle();
    return MOTE_OK;
  });
}

MOTE_EXPORT mote_status mote_model_save_expert_stats(mote_model* model) {
  return guarded("mote_model_save_expert_stats", [&]() -> mote_status {
    if (model == nullptr) return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_save_expert_stats: model is NULL");
    if (mote::Status st = model->engine->model().save_expert_stats(); !st) return from_status(st);
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
    info.n_threads = int32_t(model->model().backend().n_threads());
    info.dense_bytes = model->dense_bytes;
    info.dense_bytes_per_token = model->active.dense_bytes;
    info.dense_macs_per_token = model->active.dense_macs;
    info.expert_bytes = model->active.expert_bytes;
    info.expert_macs = model->active.expert_macs;
    *out_info = info;
    return MOTE_OK;
  });
}

MOTE_EXPORT mote_status mote_model_get_eos_tokens(const mote_model* model, int32_t* ids, size_t capacity,
                                                  size_t* out_count) {
  return guarded("mote_model_get_eos_tokens", [&]() -> mote_status {
    if (model == nullptr || out_count == nullptr)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_get_eos_tokens: model or out_count is NULL");
    return mote::capi::copy_ids(model->engine->eos_ids(), ids, capacity, out_count, "mote_model_get_eos_tokens");
  });
}

MOTE_EXPORT mote_session_params mote_session_params_default(void) {
  mote_session_params p{};
  p.max_context = 4096;
  p.max_batch = 0;  // automatic: the library's choice from the model's widths (session.h)
  p.mtp = MOTE_MTP_ADAPTIVE;
  p.context_policy = MOTE_CONTEXT_ERROR;
  p.n_keep = 0;
  p.kv_type = MOTE_KV_F16;  // README "KV cache precision": f16 measured as close to f32, half the bytes
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
    options.draft_mode = p.mtp == MOTE_MTP_ALWAYS ? mote::DraftMode::kAlways : mote::DraftMode::kAdaptive;
    const int kv_type = raw_enum_value(p.kv_type);
    if (kv_type != int(MOTE_KV_F32) && kv_type != int(MOTE_KV_F16) && kv_type != int(MOTE_KV_Q8_0))
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_session_create: kv_type " + std::to_string(kv_type) +
                                                 " is not a mote_kv_type value (MOTE_KV_F32, MOTE_KV_F16, MOTE_KV_Q8_0)");
    options.kv_type = static_cast<mote::KvType>(kv_type);
    const int policy = raw_enum_value(p.context_policy);
    if (policy != int(MOTE_CONTEXT_ERROR) && policy != int(MOTE_CONTEXT_SHIFT))
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_session_create: context_policy " + std::to_string(policy) +
                                                 " is not a mote_context_policy value");
    if (p.n_keep < 0 || p.n_keep > p.max_context)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_session_create: n_keep " + std::to_string(p.n_keep) +
                                                 " must be in [0, max_context]");
    auto session = mote::Session::create(model->model(), options);
    if (!session) return from_status(session.status());
    auto handle = std::make_unique<mote_session>();
    handle->owner = model;
    handle->session = std::move(session).value();
    if (options.mtp && options.draft_mode == mote::DraftMode::kAdaptive) {
      std::lock_guard<std::mutex> lock(model->draft_mu);
      if (model->draft_prior) handle->session->draft_policy().inherit(*model->draft_prior);
    }
    handle->context_policy = static_cast<mote_context_policy>(policy);
    handle->n_keep = p.n_keep;
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
    session->stop_reason = MOTE_STOP_NONE;
    session->last_prompt_tokens = session->last_reused_tokens = session->last_generated_tokens = 0;
    session->context_shifts = 0;
    session->draft_steps = session->drafts_accepted = 0;
    session->draft_skipped = session->draft_probes = session->draft_dropped = 0;
    return MOTE_OK;
  });
}

MOTE_EXPORT mote_status mote_session_get_kv_read_bytes(const mote_session* session, int64_t position,
                                                       uint64_t* out_bytes) {
  return guarded("mote_session_get_kv_read_bytes", [&]() -> mote_status {
    if (session == nullptr || out_bytes == nullptr)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_session_get_kv_read_bytes: NULL argument");
    if (position < 0)
      return fail(MOTE_ERR_INVALID_ARGUMENT,
                  "mote_session_get_kv_read_bytes: position " + std::to_string(position) + " is negative");
    *out_bytes = uint64_t(mote::kv_read_bytes_at(session->session->layer_state_plan(),
                                                 session->owner->model().hparams(), position));
    return MOTE_OK;
  });
}

MOTE_EXPORT mote_status mote_model_get_kernels(const mote_model* model, const char** out_name) {
  return guarded("mote_model_get_kernels", [&]() -> mote_status {
    if (model == nullptr || out_name == nullptr)
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_model_get_kernels: NULL argument");
    *out_name = model->model().backend().kernels_name();
    return MOTE_OK;
  });
}

MOTE_EXPORT mote_status mote_available_kernels(const char** names, size_t capacity, size_t* out_count) {
  return guarded("mote_available_kernels", [&]() -> mote_status {
    if (out_count == nullptr || (names == nullptr && capacity > 0))
      return fail(MOTE_ERR_INVALID_ARGUMENT, "mote_available_kernels: NULL argument");
    const mote::kernels::KernelTable* tables[8];
    const int n = mote::kernels::available_kernels(tables, 8);
    *out_count = size_t(n);
    if (capacity < size_t(n))
      return fail(MOTE_ERR_BUFFER_TOO_SMALL, "mote_available_kernels: room for " + std::to_string(capacity) +
                                                 " names, " + std::to_string(n) + " needed");
    for (int i = 0; i < n; ++i) names[i] = tables[i]->name;
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
    s.context_tokens = int64_t(session->session->tokens().size());  // pending tokens included
    s.kv_cache_bytes = session->session->kv_cache_bytes();
    s.scratch_bytes = session->session->scratch_bytes();
    s.model_resident_bytes = session->owner->model().resident_bytes();
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    s.peak_rss_bytes = uint64_t(usage.ru_maxrss) * 1024;
    s.stop_reason = session->stop_reason;
    s.last_prompt_tokens = session->last_prompt_tokens;
    s.last_reused_tokens = session->last_reused_tokens;
    s.last_generated_tokens = session->last_generated_tokens;
    s.context_shifts = session->context_shifts;
    s.draft_steps = session->draft_steps;
    s.drafts_accepted = session->drafts_accepted;
    s.draft_skipped = session->draft_skipped;
    s.draft_probes = session->draft_probes;
    s.draft_dropped = session->draft_dropped;
    if (session->session->has_mtp()) {
      const mote::DraftPolicy& policy = session->session->draft_policy();
      s.draft_acceptance = policy.acceptance();
      s.draft_cost_ratio = policy.cost_ratio();
      s.draft_speedup_predicted = policy.predicted_speedup();
    }
    fill_tier_stats(session->owner->model(), &s);
    *out_stats = s;
    return MOTE_OK;
  });
}
