#include "model/model.h"

#include "model/hparams_limits.h"

namespace mote {

Result<std::unique_ptr<Model>> Model::open(const std::string& path, const ModelOptions& options) {
  MOTE_ASSIGN_OR_RETURN(std::unique_ptr<MoteFile> file, MoteFile::open(path));
  if (options.verify_checksums)
    MOTE_RETURN_IF_ERROR(file->verify_checksums(/*release_pages=*/options.expert_budget_bytes > 0));
  auto hparams = HParams::from_config(file->config());
  if (!hparams) return Status(hparams.status().code(), path + ": " + hparams.status().message());
  // Before bind_weights sizes its per-layer tables by num_hidden_layers.
  if (Status st = check_layers_against_tensors(*file, *hparams); !st) return Status(st.code(), path + ": " + st.message());
  auto weights = bind_weights(*file, *hparams);
  if (!weights) return Status(weights.status().code(), path + ": " + weights.status().message());
  std::unique_ptr<Model> model(new Model());
  model->file_ = std::move(file);
  model->hparams_ = std::move(hparams).value();
  model->weights_ = std::move(weights).value();
  ExpertStoreOptions store;
  store.budget_bytes = options.expert_budget_bytes;
  store.policy = options.expert_policy;
  store.prefetch = options.expert_prefetch;
  store.hot_slots = options.expert_hot_slots;
  auto experts = ExpertStore::create(*model->file_, model->hparams_, model->weights_, store);
  if (!experts) return Status(experts.status().code(), path + ": " + experts.status().message());
  model->experts_ = std::move(experts).value();
  MOTE_RETURN_IF_ERROR(model->file_->check_mapping());  // shrank while being checked and bound
  return model;
}

uint64_t Model::dense_bytes() const {
  const fb::Model& m = file_->model();
  uint64_t total = 0;
  for (uint32_t i = 0; i < m.segments()->size(); ++i) total += file_->segment_size(i);
  if (m.expert_layers() != nullptr)
    for (const fb::ExpertLayer* el : *m.expert_layers())
      for (const fb::Expert* e : *el->experts()) total -= file_->segment_size(e->segment());
  return total;
}

}  // namespace mote
