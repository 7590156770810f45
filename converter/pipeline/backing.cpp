#include "pipeline/backing.h"

#include <algorithm>
#include <string_view>

#include "hf/error.h"

namespace mote::convert {

namespace {

// The decimal index starting at name[pos] ("12." -> 12), or -1 if none.
int64_t index_at(std::string_view name, size_t pos) {
  int64_t v = 0;
  size_t i = pos;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9' && i - pos < 10; ++i) v = v * 10 + (name[i] - '0');
  return i > pos && i < name.size() && name[i] == '.' ? v : -1;
}

[[noreturn]] void no_layer(const std::string& config_path, const char* field, uint64_t value, uint64_t layer) {
  fail(config_path + ": field '" + field + "' is " + std::to_string(value) + " but the checkpoint has no tensor model.layers." +
       std::to_string(layer) + ".*");
}

// Layer `l` exists and, when MoE, backs cfg.n_routed_experts experts.
void check_layer(const HfConfig& cfg, const CheckpointExtent& x, uint64_t l, const char* field, uint64_t value,
                 const std::string& config_path) {
  const auto it = x.layers.find(l);
  if (it == x.layers.end()) no_layer(config_path, field, value, l);
  if (cfg.is_dense() || !cfg.is_moe_layer(uint32_t(l))) return;
  const uint64_t backed = it->second.backed_experts();
  if (cfg.n_routed_experts > backed)
    fail(config_path + ": field '" + cfg.experts_key + "' is " + std::to_string(cfg.n_routed_experts) +
         " but model.layers." + std::to_string(l) + " has tensors for at most " + std::to_string(backed) +
         " routed experts");
}

}  // namespace

CheckpointExtent checkpoint_extent(const Checkpoint& ck) {
  constexpr std::string_view kLayers = "model.layers.", kExperts = ".experts.";
  CheckpointExtent x;
  for (const TensorRef& t : ck.tensors()) {
    const std::string_view n = t.info->name;
    if (n.substr(0, kLayers.size()) != kLayers) continue;
    const int64_t layer = index_at(n, kLayers.size());
    if (layer < 0) continue;
    LayerExtent& e = x.layers[uint64_t(layer)];
    const size_t at = n.find(kExperts);
    if (at == std::string_view::npos) continue;
    if (index_at(n, at + kExperts.size()) >= 0) ++e.expert_tensors;
    else if (!t.info->shape.empty()) e.fused_experts = std::max<uint64_t>(e.fused_experts, t.info->shape[0]);
  }
  return x;
}

void check_backed(const HfConfig& cfg, const CheckpointExtent& x, const std::string& config_path) {
  // num_hidden_layers <= kMaxLayers (hf/config_fields.h), so this loop is bounded.
  for (uint64_t l = 0; l < cfg.num_hidden_layers; ++l)
    check_layer(cfg, x, l, "num_hidden_layers", cfg.num_hidden_layers, config_path);
}

uint32_t backed_mtp_layers(const HfConfig& cfg, const CheckpointExtent& x, const std::string& config_path) {
  const uint64_t first = cfg.num_hidden_layers, n = cfg.num_nextn_predict_layers;
  if (n == 0 || !x.layers.count(first)) return 0;
  for (uint64_t l = first; l < first + n; ++l) check_layer(cfg, x, l, "num_nextn_predict_layers", n, config_path);
  return uint32_t(n);
}

}  // namespace mote::convert
