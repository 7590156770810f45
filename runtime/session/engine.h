// Engine: a Model together with what turns it into a text model: the tokenizer and the chat
// template family stored in the .mote file (blobs "tokenizer.json" + "tokenizer_config.json",
// or "tokenizer.model"; "chat_family" written by the converter, else detected from
// "chat_template"). Immutable after open(); thread-safe to share like the Model.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "core/status.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace mote {

struct EngineOptions {
  ModelOptions model;
  std::string chat_template;  // family name overriding the stored one ("" = stored/detected)
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> open(const std::string& path, const EngineOptions& options = {});
  // The model whose bytes `loader` holds (Model::open(loader)); the Engine owns it.
  static Result<std::unique_ptr<Engine>> open(std::unique_ptr<DataLoader> loader, const EngineOptions& options = {});

  const Model& model() const { return *model_; }
  // Null when the file carries no tokenizer (text calls then fail with a clear error).
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  Result<const Tokenizer*> require_tokenizer() const;
  // The chat family, or the error explaining why there is none (no template stored, or an
  // unrecognised one: the message says how to choose a family with --chat-template NAME).
  Result<ChatFamily> chat_family() const;
  // End-of-sequence ids: the model config's eos_token_ids plus the tokenizer's eos token.
  const std::vector<int32_t>& eos_ids() const { return eos_ids_; }

 private:
  Engine() = default;
  Status load_tokenizer();
  void resolve_chat_family(const std::string& override_name);

  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  Status tokenizer_status_;
  std::optional<ChatFamily> chat_family_;
  Status chat_status_;
  std::vector<int32_t> eos_ids_;
};

}  // namespace mote
