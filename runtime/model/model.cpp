#include "model/model.h"

namespace mote {

Result<std::unique_ptr<Model>> Model::open(const std::string& path, const ModelOptions& options) {
  MOTE_ASSIGN_OR_RETURN(std::unique_ptr<MoteFile> file, MoteFile::open(path));
  if (options.verify_checksums) MOTE_RETURN_IF_ERROR(file->verify_checksums());
  auto hparams = HParams::from_config(file->config());
  if (!hparams) return Status(hparams.status().code(), path + ": " + hparams.status().message());
  auto weights = bind_weights(*file, *hparams);
  if (!weights) return Status(weights.status().code(), path + ": " + weights.status().message());
  std::unique_ptr<Model> model(new Model());
  model->file_ = std::move(file);
  model->hparams_ = std::move(hparams).value();
  model->weights_ = std::move(weights).value();
  ExpertStoreOptions store;
  store.budget_bytes = options.expert_budget_bytes;
  store.policy = options.expert_policy;
  auto experts = ExpertStore::create(*model->file_, model->hparams_, model->weights_, store);
  if (!experts) return Status(experts.status().code(), path + ": " + experts.status().message());
  model->experts_ = std::move(experts).value();
  return model;
}

}  // namespace mote
