// mote inspect FILE: a summary of a .mote file for a person; all metadata as one JSON object with
// --json (what scripts and tests parse). Reads the file format directly: the C API exposes only
// a model's basic figures (mote_model_info), not tensors, segments or blobs.

#include <cstdio>
#include <map>
#include <string>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "format/mote_file.h"

namespace mote::cli {

namespace {

nlohmann::json config_json(const fb::ModelConfig& c) {
  nlohmann::json j;
  j["model_type"] = c.model_type() ? c.model_type()->str() : "";
  j["vocab_size"] = c.vocab_size();
  j["hidden_size"] = c.hidden_size();
  j["intermediate_size"] = c.intermediate_size();
  j["moe_intermediate_size"] = c.moe_intermediate_size();
  j["num_hidden_layers"] = c.num_hidden_layers();
  j["num_nextn_predict_layers"] = c.num_nextn_predict_layers();
  j["num_attention_heads"] = c.num_attention_heads();
  j["num_key_value_heads"] = c.num_key_value_heads();
  j["q_lora_rank"] = c.q_lora_rank();
  j["kv_lora_rank"] = c.kv_lora_rank();
  j["qk_nope_head_dim"] = c.qk_nope_head_dim();
  j["qk_rope_head_dim"] = c.qk_rope_head_dim();
  j["v_head_dim"] = c.v_head_dim();
  j["head_dim"] = c.head_dim();
  j["sliding_window"] = c.sliding_window();
  j["qk_norm"] = fb::EnumNameQkNorm(c.qk_norm());
  j["attention_bias"] = c.attention_bias();
  j["shared_expert_intermediate_size"] = c.shared_expert_intermediate_size();
  j["n_routed_experts"] = c.n_routed_experts();
  j["n_shared_experts"] = c.n_shared_experts();
  j["num_experts_per_tok"] = c.num_experts_per_tok();
  j["first_k_dense_replace"] = c.first_k_dense_replace();
  j["moe_layer_freq"] = c.moe_layer_freq();
  j["n_group"] = c.n_group();
  j["topk_group"] = c.topk_group();
  j["topk_method"] = fb::EnumNameTopkMethod(c.topk_method());
  j["scoring_func"] = fb::EnumNameScoringFunc(c.scoring_func());
  j["norm_topk_prob"] = c.norm_topk_prob();
  j["routed_scaling_factor"] = c.routed_scaling_factor();
  j["rms_norm_eps"] = c.rms_norm_eps();
  j["rope_theta"] = c.rope_theta();
  if (const fb::RopeScaling* r = c.rope_scaling()) {
    j["rope_scaling"] = {{"type", fb::EnumNameRopeScalingType(r->type())},
                         {"factor", r->factor()},
                         {"original_max_position_embeddings", r->original_max_position_embeddings()},
                         {"beta_fast", r->beta_fast()},
                         {"beta_slow", r->beta_slow()},
                         {"mscale", r->mscale()},
                         {"mscale_all_dim", r->mscale_all_dim()},
                         {"low_freq_factor", r->low_freq_factor()},
                         {"high_freq_factor", r->high_freq_factor()}};
  }
  j["max_position_embeddings"] = c.max_position_embeddings();
  j["bos_token_id"] = c.bos_token_id();
  nlohmann::json eos = nlohmann::json::array();
  if (c.eos_token_ids())
    for (int id : *c.eos_token_ids()) eos.push_back(id);
  j["eos_token_ids"] = eos;
  return j;
}

// Bytes by accounting class. Aliased tensors (same segment and offset) count once.
nlohmann::json bytes_json(const MoteFile& file) {
  const fb::Model& m = file.model();
  const uint32_t n_main = m.config()->num_hidden_layers();
  uint64_t dense = 0, routed = 0, mtp = 0, mtp_routed = 0;
  std::map<std::string, uint64_t> by_class;
  std::map<std::pair<uint32_t, uint64_t>, bool> seen;
  for (const fb::Tensor* t : *m.tensors()) {
    if (!seen.emplace(std::make_pair(t->segment(), t->offset()), true).second) continue;
    const bool is_mtp = t->layer() >= 0 && uint32_t(t->layer()) >= n_main;
    const bool is_routed = t->tensor_class() == fb::TensorClass::RoutedExpert;
    by_class[fb::EnumNameTensorClass(t->tensor_class())] += t->size();
    if (is_mtp) {
      mtp += t->size();
      if (is_routed) mtp_routed += t->size();
    } else if (is_routed) {
      routed += t->size();
    } else {
      dense += t->size();
    }
  }
  return {{"dense", dense}, {"routed_experts", routed}, {"mtp", mtp},
          {"mtp_routed_experts", mtp_routed}, {"by_class", by_class}};
}

// Storage layout per tensor class, e.g. {"RoutedExpert": "q4_0 x16 rows", "Attention":
// "q8_0 x16 rows,q8_0 row-major"}: which tensors the converter wrote in row groups (format 2).
std::map<std::string, std::string> layout_by_class(const fb::Model& m) {
  std::map<std::string, std::string> out;
  for (const fb::Tensor* t : *m.tensors()) {
    std::string& s = out[fb::EnumNameTensorClass(t->tensor_class())];
    const int32_t group = MoteFile::row_group(*t);
    const std::string name = std::string(weight_type_name(WeightType(t->type()))) +
                             (group > 1 ? " x" + std::to_string(group) + " rows" : " row-major");
    if (("," + s + ",").find("," + name + ",") == std::string::npos) s += s.empty() ? name : "," + name;
  }
  return out;
}

std::string human_bytes(uint64_t n) {
  char buf[32];
  if (n >= (1ull << 30)) std::snprintf(buf, sizeof(buf), "%.2f GiB", double(n) / double(1ull << 30));
  else if (n >= (1ull << 20)) std::snprintf(buf, sizeof(buf), "%.1f MiB", double(n) / double(1ull << 20));
  else if (n >= (1ull << 10)) std::snprintf(buf, sizeof(buf), "%.1f KiB", double(n) / double(1ull << 10));
  else std::snprintf(buf, sizeof(buf), "%llu B", (unsigned long long)n);
  return buf;
}

void print_model_lines(const MoteFile& file) {
  const fb::Model& m = file.model();
  const fb::ModelConfig& c = *m.config();
  std::printf("file          %s (%s, format %u)\n", file.path().c_str(), human_bytes(file.file_size()).c_str(),
              unsigned(file.header().format_version));
  std::printf("architecture  %s (%s)\n", fb::EnumNameArchitecture(c.architecture()),
              c.model_type() ? c.model_type()->c_str() : "?");
  std::printf("layers        %u%s, hidden %u, attention heads %u (kv %u)\n", c.num_hidden_layers(),
              m.has_mtp() ? " + MTP" : "", c.hidden_size(), c.num_attention_heads(), c.num_key_value_heads());
  const size_t moe_layers = m.expert_layers() ? m.expert_layers()->size() : 0;
  if (c.n_routed_experts() > 0)
    std::printf("experts       %u routed (top %u per token), %u shared, in %zu MoE layers\n", c.n_routed_experts(),
                c.num_experts_per_tok(), c.n_shared_experts(), moe_layers);
  else
    std::printf("experts       none (dense)\n");
  std::printf("vocabulary    %llu tokens, context %llu positions\n", (unsigned long long)c.vocab_size(),
              (unsigned long long)c.max_position_embeddings());
}

void print_tensor_lines(const MoteFile& file) {
  const fb::Model& m = file.model();
  uint64_t total = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> types;  // tensors, bytes
  for (const fb::Tensor* t : *m.tensors()) {
    auto& [count, bytes] = types[weight_type_name(WeightType(t->type()))];
    ++count, bytes += t->size(), total += t->size();
  }
  std::printf("tensors       %u, %s in %u segments\n", m.tensors()->size(), human_bytes(total).c_str(),
              m.segments()->size());
  for (const auto& [type, entry] : types)
    std::printf("  %-11s %llu tensors, %s\n", type.c_str(), (unsigned long long)entry.first,
                human_bytes(entry.second).c_str());
  const nlohmann::json bytes = bytes_json(file);
  std::printf("memory        dense %s, routed experts %s, MTP %s\n", human_bytes(bytes["dense"].get<uint64_t>()).c_str(),
              human_bytes(bytes["routed_experts"].get<uint64_t>()).c_str(), human_bytes(bytes["mtp"].get<uint64_t>()).c_str());
}

void print_summary(const MoteFile& file) {
  print_model_lines(file);
  print_tensor_lines(file);
  const bool hf = !file.blob("tokenizer.json").empty(), spm = !file.blob("tokenizer.model").empty();
  std::printf("tokenizer     %s\n", hf ? "tokenizer.json" : spm ? "tokenizer.model (SentencePiece)" : "none");
  const std::string_view family = file.blob("chat_family");
  const bool jinja = !file.blob("chat_template").empty();
  std::printf("chat template %s\n", !family.empty() ? std::string(family).c_str()
                                     : jinja          ? "present, family not recognised (use --chat-template NAME)"
                                                      : "none");
  if (const fb::Provenance* p = file.model().provenance())
    std::printf("converted     from %s (%s), weights %s\n", p->source() ? p->source()->c_str() : "?",
                p->source_dtype() ? p->source_dtype()->c_str() : "?",
                p->weight_recipe() ? p->weight_recipe()->c_str() : "?");
}

}  // namespace

int cmd_inspect(const Args& args) {
  auto opened = MoteFile::open(args.positional[0]);
  if (!opened) {
    std::fprintf(stderr, "mote: error: %s\n", opened.status().to_string().c_str());
    return 1;
  }
  if (!args.has("--json")) {
    print_summary(**opened);
    return 0;
  }
  const MoteFile& file = **opened;
  const fb::Model& m = file.model();
  nlohmann::json j;
  j["file"] = file.path();
  j["file_size"] = file.file_size();
  j["format_version"] = file.header().format_version;
  j["architecture"] = fb::EnumNameArchitecture(m.config()->architecture());
  j["hyperparameters"] = config_json(*m.config());
  j["has_mtp"] = m.has_mtp();
  j["tensor_count"] = m.tensors()->size();
  j["segment_count"] = m.segments()->size();

  uint64_t experts_total = 0;
  nlohmann::json layers = nlohmann::json::array();
  if (m.expert_layers()) {
    for (const fb::ExpertLayer* l : *m.expert_layers()) {
      experts_total += l->experts()->size();
      layers.push_back({{"layer", l->layer()}, {"experts", l->experts()->size()}});
    }
  }
  j["moe_layer_count"] = layers.size();
  j["expert_count"] = experts_total;
  j["expert_layers"] = layers;
  j["bytes"] = bytes_json(file);

  std::map<std::string, std::map<std::string, uint64_t>> types;
  for (const fb::Tensor* t : *m.tensors()) {
    auto& entry = types[fb::EnumNameWeightType(t->type())];
    entry["tensors"] += 1;
    entry["bytes"] += t->size();
  }
  j["weight_types"] = types;
  std::map<std::string, std::string> class_types;
  for (const fb::Tensor* t : *m.tensors()) {
    std::string& s = class_types[fb::EnumNameTensorClass(t->tensor_class())];
    const std::string name = fb::EnumNameWeightType(t->type());
    if (s.find(name) == std::string::npos) s += s.empty() ? name : "," + name;
  }
  j["weight_types_by_class"] = class_types;
  j["layout_by_class"] = layout_by_class(m);
  nlohmann::json blobs = nlohmann::json::array();
  if (m.blobs())
    for (const fb::Blob* b : *m.blobs()) blobs.push_back(b->name()->str());
  j["blobs"] = blobs;
  if (const fb::Provenance* p = m.provenance()) {
    j["provenance"] = {{"source", p->source() ? p->source()->str() : ""},
                       {"source_dtype", p->source_dtype() ? p->source_dtype()->str() : ""},
                       {"converter_version", p->converter_version() ? p->converter_version()->str() : ""},
                       {"weight_recipe", p->weight_recipe() ? p->weight_recipe()->str() : ""},
                       {"created_unix", p->created_unix()}};
  }
  std::printf("%s\n", j.dump(2).c_str());
  return 0;
}

}  // namespace mote::cli
