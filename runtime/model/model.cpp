#include "model/model.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <vector>

#include "core/log.h"
#include "model/device_weights.h"
#include "model/hparams_limits.h"

namespace mote {

namespace {

// Where each phase of Model::open ends, as a fraction of the whole (ModelOptions::progress).
// Checksums (a full read) get most of the range when enabled; when not, the fraction jumps.
constexpr float kMappedFraction = 0.05f;
constexpr float kChecksumsFraction = 0.80f;
constexpr float kBoundFraction = 0.85f;

// The INFO note of a successful open: what was loaded and how experts are held.
void log_opened(const std::string& path, const Model& model) {
  if (!log_enabled(LogLevel::kInfo)) return;
  const HParams& hp = model.hparams();
  const ExpertStore& store = model.expert_store();
  const std::string experts =
      store.resident() ? "no expert budget (every routed expert resident)"
                       : "expert budget " + std::to_string(store.budget_bytes()) + " bytes (" +
                             std::to_string(store.slot_count()) + " slots of " + std::to_string(store.slot_bytes()) +
                             " bytes)";
  log(LogLevel::kInfo, "opened " + path + ": " + fb::EnumNameArchitecture(model.file().config().architecture()) +
                           ", " + std::to_string(hp.n_layers) + " layers, " + std::to_string(hp.n_routed_experts) +
                           " routed experts (" + std::to_string(hp.n_experts_per_tok) + " per token), " +
                           std::to_string(model.file().file_size()) + " bytes; " + experts);
}

// The memory plan of `model` (bound, no expert store yet): the probe or the explicit limit, the
// session's bytes from options.plan_session, the experts' sizes from the file's expert table
// (the store's own slot rule: the largest segment rounded up to 4 KiB, MTP layers included).
ModelMemoryPlan plan_memory(const Model& model, const ModelOptions& options) {
  ModelMemoryPlan mp;
  mp.computed = true;
  if (options.mem_limit_bytes > 0) {
    mp.explicit_limit = true;
    mp.probe.available = options.mem_limit_bytes;
    mp.probe.source = "mem_limit_bytes";
  } else {
    auto probe = probe_memory();
    if (!probe) return mp.status = probe.status(), mp;
    mp.probe = std::move(probe).value();
  }
  BudgetInputs& in = mp.inputs;
  in.available = mp.probe.available;
  in.dense_bytes = model.dense_bytes();
  if (options.plan_session) {
    auto bytes = options.plan_session(model);
    if (!bytes) return mp.status = bytes.status(), mp;
    in.kv_bytes = bytes->first;
    in.scratch_bytes = bytes->second;
  }
  const MoteFile& file = model.file();
  uint64_t max_seg = 0;
  if (const auto* layers = file.model().expert_layers())
    for (const fb::ExpertLayer* el : *layers)
      for (const fb::Expert* e : *el->experts()) {
        const uint64_t size = file.segment_size(e->segment());
        max_seg = std::max(max_seg, size);
        in.expert_total_bytes += size;
        ++in.n_experts;
      }
  in.slot_bytes = align_up(max_seg, kDirectIoAlign);
  in.min_slots = std::max<int64_t>(model.hparams().n_experts_per_tok, 1);
  mp.plan = plan_expert_budget(in);
  return mp;
}

// The INFO note of the automatic budget (once per open).
void log_plan(const std::string& path, const ModelMemoryPlan& mp) {
  if (!log_enabled(LogLevel::kInfo)) return;
  const BudgetInputs& in = mp.inputs;
  const std::string choice = mp.plan.all_resident
                                 ? "every routed expert resident (no budget)"
                                 : "expert budget " + std::to_string(mp.plan.budget_bytes) + " bytes (" +
                                       std::to_string(mp.plan.slots) + " of " + std::to_string(in.n_experts) +
                                       " experts)";
  log(LogLevel::kInfo, path + ": automatic expert budget: " + std::to_string(in.available) + " bytes available (" +
                           mp.probe.source + ") - dense " + std::to_string(in.dense_bytes) + " - KV " +
                           std::to_string(in.kv_bytes) + " - scratch " + std::to_string(in.scratch_bytes) +
                           " - margin " + std::to_string(mp.plan.margin_bytes) + ": " + choice);
}

}  // namespace

Result<std::unique_ptr<Model>> Model::open(const std::string& path, const ModelOptions& options) {
  MOTE_ASSIGN_OR_RETURN(std::unique_ptr<DataLoader> loader, open_mapped_file(path));
  return open(std::move(loader), options);
}

Result<std::unique_ptr<Model>> Model::open(std::unique_ptr<DataLoader> loader, const ModelOptions& options) {
  if (loader == nullptr) return invalid_argument("Model::open: no loader");
  const std::string path = loader->name();  // the file's path or "memory buffer", for messages
  // Reports `fraction`; a cancel request becomes the status every later phase returns.
  const Status cancelled_status(StatusCode::kCancelled, path + ": model open cancelled by the progress callback");
  auto report = [&](float fraction) -> Status {
    return !options.progress || options.progress(fraction) ? Status::ok() : cancelled_status;
  };
  MOTE_ASSIGN_OR_RETURN(std::unique_ptr<MoteFile> file, MoteFile::open(std::move(loader)));
  MOTE_RETURN_IF_ERROR(report(kMappedFraction));
  if (options.verify_checksums) {
    bool cancelled = false;
    auto on_segment = [&](uint64_t done, uint64_t total) {
      const float share = total > 0 ? float(double(done) / double(total)) : 1.0f;
      cancelled = !report(kMappedFraction + (kChecksumsFraction - kMappedFraction) * share);
      return !cancelled;
    };
    const bool budget = options.expert_budget_bytes > 0 || options.expert_budget_auto;
    Status st = file->verify_checksums(/*release_pages=*/budget, on_segment);
    if (cancelled) return cancelled_status;
    MOTE_RETURN_IF_ERROR(st);
  }
  auto hparams = HParams::from_config(file->config());
  if (!hparams) return Status(hparams.status().code(), path + ": " + hparams.status().message());
  // Before bind_weights sizes its per-layer tables by num_hidden_layers.
  if (Status st = check_layers_against_tensors(*file, *hparams); !st) return Status(st.code(), path + ": " + st.message());
  auto weights = bind_weights(*file, *hparams);
  if (!weights) return Status(weights.status().code(), path + ": " + weights.status().message());
  MOTE_RETURN_IF_ERROR(report(kBoundFraction));
  std::unique_ptr<Model> model(new Model());
  model->file_ = std::move(file);
  model->hparams_ = std::move(hparams).value();
  model->weights_ = std::move(weights).value();
  auto backend = backend::create_backend(options.backend);
  if (!backend) return Status(backend.status().code(), path + ": " + backend.status().message());
  model->backend_ = std::move(backend).value();
  if (options.vram_budget_bytes > kMaxVramBudgetBytes)
    return invalid_argument(path + ": vram_budget_bytes " + std::to_string(options.vram_budget_bytes) +
                            " is more than 1 PiB: not a device's memory");
  const auto place_start = std::chrono::steady_clock::now();
  auto placed = place_weights(*model->backend_, model->hparams_, model->weights_);
  const double place_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - place_start).count();
  if (!placed) return Status(placed.status().code(), path + ": " + placed.status().message());
  model->device_weights_ = std::move(placed).value();
  ExpertStoreOptions store;
  store.budget_bytes = options.expert_budget_bytes;
  if (options.expert_budget_auto || options.plan_session) {
    model->memory_plan_ = plan_memory(*model, options);
    const ModelMemoryPlan& mp = model->memory_plan_;
    if (options.expert_budget_auto) {
      if (!mp.status) return Status(mp.status.code(), path + ": automatic expert budget: " + mp.status.message());
      if (!mp.plan.fits) return Status(StatusCode::kOutOfMemory, path + ": " + mp.plan.error);
      store.budget_bytes = mp.plan.all_resident ? 0 : mp.plan.budget_bytes;
      log_plan(path, mp);
    }
  }
  store.policy = options.expert_policy;
  store.prefetch = options.expert_prefetch;
  store.hot_slots = options.expert_hot_slots;
  auto experts = ExpertStore::create(*model->file_, model->hparams_, model->weights_, store);
  if (!experts) return Status(experts.status().code(), path + ": " + experts.status().message());
  model->experts_ = std::move(experts).value();
  if (Status st = model->place_expert_tiers(options, place_seconds); !st)
    return Status(st.code(), path + ": " + st.message());
  MOTE_RETURN_IF_ERROR(model->file_->check_mapping());  // shrank while being checked and bound
  if (options.expert_learn && model->hparams_.n_routed_experts > 0) {
    const ModelIdentity identity{model->file_->header().file_size, model->file_->header().metadata_checksum};
    ExpertLearningOptions learn;
    learn.path = !options.expert_stats_path.empty()
                     ? options.expert_stats_path
                     : default_routing_stats_path(model->file_->loader().kind() == LoaderKind::kMemory ? "" : path,
                                                  identity);
    learn.pin_slots = options.expert_learn_pin;
    model->learning_ = std::make_unique<ExpertLearning>(*model->experts_, model->hparams_, identity, learn);
  }
  MOTE_RETURN_IF_ERROR(report(1.0f));
  log_opened(path, *model);
  return model;
}

Model::~Model() {
  if (!learning_) return;
  if (Status st = learning_->save(); !st) log(LogLevel::kWarn, "routing statistics not saved: " + st.message());
  learning_.reset();
}

Status Model::save_expert_stats() const { return learning_ ? learning_->save() : Status::ok(); }

uint64_t Model::dense_bytes() const {
  const fb::Model& m = file_->model();
  uint64_t total = 0;
  for (uint32_t i = 0; i < m.segments()->size(); ++i) total += file_->segment_size(i);
  if (m.expert_layers() != nullptr)
    for (const fb::ExpertLayer* el : *m.expert_layers())
      for (const fb::Expert* e : *el->experts()) total -= file_->segment_size(e->segment());
  return total;
}

namespace {

// Rss (bytes) of this process's mappings that lie inside [begin, end), from /proc/self/smaps;
// false if it cannot be read (no procfs).
bool smaps_rss(uintptr_t begin, uintptr_t end, uint64_t* out) {
  std::FILE* f = std::fopen("/proc/self/smaps", "r");
  if (f == nullptr) return false;
  char line[512];
  bool inside = false;
  uint64_t total = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    uintptr_t lo = 0, hi = 0;
    unsigned long long kb = 0;
    // A mapping's header line ("lo-hi perms offset dev inode path") starts a new entry.
    if (std::sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2) {
      inside = lo >= begin && hi <= end && lo < hi;
    } else if (inside && std::sscanf(line, "Rss: %llu kB", &kb) == 1) {
      total += uint64_t(kb) * 1024;
    }
  }
  std::fclose(f);
  *out = total;
  return true;
}

// Pages of [data, data + size) in the page cache (mincore): an upper bound of this process's
// share, used only without procfs.
uint64_t mincore_bytes(const uint8_t* data, uint64_t size) {
  const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data) / page * page;
  const uint64_t length = reinterpret_cast<uintptr_t>(data) + size - begin;
  std::vector<unsigned char> pages(size_t((length + page - 1) / page));
  if (mincore(reinterpret_cast<void*>(begin), size_t(length), pages.data()) != 0) return 0;
  uint64_t resident = 0;
  for (unsigned char p : pages) resident += (p & 1) ? page : 0;
  return std::min(resident, size);
}

}  // namespace

uint64_t Model::resident_bytes() const {
  uint64_t mapped = 0;
  const uint8_t* data = file_->mapping_data();
  const uint64_t size = file_->file_size();
  if (data != nullptr && size > 0 && file_->loader().kind() == LoaderKind::kMemory) {
    mapped = mincore_bytes(data, size);  // the caller's buffer: its pages in memory, whatever maps them
  } else if (data != nullptr && size > 0) {
    const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<uintptr_t>(data);  // page-aligned (mmap)
    // The mapping's last page extends past the file's end.
    if (!smaps_rss(begin, begin + (size + page - 1) / page * page, &mapped)) mapped = mincore_bytes(data, size);
  }
  const uint64_t slots = experts_->resident() ? 0 : uint64_t(experts_->slot_count()) * experts_->slot_bytes();
  return mapped + slots;
}

}  // namespace mote
