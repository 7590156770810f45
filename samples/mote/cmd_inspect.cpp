// mote inspect FILE: metadata of a .mote file as one JSON object on stdout.
#include <cstdio>
#include <map>
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

}  // namespace

int cmd_inspect(const Args& args) {
  auto opened = MoteFile::open(args.positional[0]);
  if (!opened) {
    std::fprintf(stderr, "mote: error: %s\n", opened.status().to_string().c_str());
    return 1;
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
