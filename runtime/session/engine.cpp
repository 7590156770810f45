#include "session/engine.h"

#include <algorithm>

namespace mote {

Result<std::unique_ptr<Engine>> Engine::open(const std::string& path, const EngineOptions& options) {
  MOTE_ASSIGN_OR_RETURN(std::unique_ptr<DataLoader> loader, open_mapped_file(path));
  return open(std::move(loader), options);
}

Result<std::unique_ptr<Engine>> Engine::open(std::unique_ptr<DataLoader> loader, const EngineOptions& options) {
  std::unique_ptr<Engine> engine(new Engine());
  auto model = Model::open(std::move(loader), options.model);
  if (!model) return model.status();
  engine->model_ = std::move(model).value();
  engine->tokenizer_status_ = engine->load_tokenizer();
  if (!options.chat_template.empty()) {
    auto family = chat_family_from_name(options.chat_template);
    if (!family) return family.status();
  }
  engine->resolve_chat_family(options.chat_template);
  const auto& config = engine->model_->file().config();
  if (config.eos_token_ids())
    for (int32_t id : *config.eos_token_ids()) engine->eos_ids_.push_back(id);
  if (engine->tokenizer_)
    for (int32_t id : engine->tokenizer_->eos_ids())
      if (std::find(engine->eos_ids_.begin(), engine->eos_ids_.end(), id) == engine->eos_ids_.end())
        engine->eos_ids_.push_back(id);
  return engine;
}

Status Engine::load_tokenizer() {
  const MoteFile& file = model_->file();
  const std::string_view json = file.blob("tokenizer.json");
  Result<std::unique_ptr<Tokenizer>> tok = not_found("");
  if (!json.empty()) {
    tok = Tokenizer::from_hf_json(json, file.blob("tokenizer_config.json"));
  } else if (const std::string_view spm = file.blob("tokenizer.model"); !spm.empty()) {
    tok = Tokenizer::from_sentencepiece_model(spm);
  } else {
    return not_found(file.path() + ": no tokenizer stored (convert a checkpoint folder that has tokenizer.json "
                     "or tokenizer.model)");
  }
  if (!tok) return Status(tok.status().code(), file.path() + ": tokenizer: " + tok.status().message());
  tokenizer_ = std::move(tok).value();
  if (tokenizer_->vocab_size() > model_->hparams().vocab_size)
    return invalid_argument(file.path() + ": tokenizer has " + std::to_string(tokenizer_->vocab_size()) +
                            " tokens but the model's vocab_size is " + std::to_string(model_->hparams().vocab_size));
  return Status::ok();
}

void Engine::resolve_chat_family(const std::string& override_name) {
  const MoteFile& file = model_->file();
  if (!override_name.empty()) {
    chat_family_ = chat_family_from_name(override_name).value();
    return;
  }
  if (const std::string_view stored = file.blob("chat_family"); !stored.empty()) {
    auto family = chat_family_from_name(stored);
    if (family) {
      chat_family_ = *family;
      return;
    }
  }
  const std::string_view jinja = file.blob("chat_template");
  if (jinja.empty()) {
    chat_status_ = not_found(file.path() + ": no chat template stored; choose one with --chat-template NAME (" +
                             chat_family_names() + ")");
    return;
  }
  auto family = detect_chat_family(jinja);
  if (family) {
    chat_family_ = *family;
  } else {
    chat_status_ = Status(family.status().code(), file.path() + ": " + family.status().message());
  }
}

Result<const Tokenizer*> Engine::require_tokenizer() const {
  if (!tokenizer_) return tokenizer_status_;
  return tokenizer_.get();
}

Result<ChatFamily> Engine::chat_family() const {
  if (chat_family_) return *chat_family_;
  return chat_status_;
}

}  // namespace mote
