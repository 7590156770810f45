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

}  // namespace

CheckpointExtent checkpoint_extent(const Checkpoint& ck) {
  constexpr std::string_view kLayers = "model.layers.", kExperts = ".experts.";
  CheckpointExtent x;
  for (const TensorRef& t : ck.tensors()) {
    const std::string_view n = t.info->name;
    if (n.substr(0, kLayers.size()) == kLayers)
      x.layers = std::max<int64_t>(int64_t(x.layers), index_at(n, kLayers.size()) + 1);
    const size_t e = n.find(kExperts);
    if (e == std::string_view::npos) continue;
    const int64_t idx = index_at(n, e + kExperts.size());
    if (idx >= 0) x.experts = std::max<uint64_t>(x.experts, uint64_t(idx) + 1);
    else if (!t.info->shape.empty()) x.experts = std::max<uint64_t>(x.experts, t.info->shape[0]);  // fused [E, ...]
  }
  return x;
}

void check_backed(const HfConfig& cfg, const CheckpointExtent& x, const std::string& config_path) {
  if (cfg.num_hidden_layers > x.layers)
    fail(config_path + ": field 'num_hidden_layers' is " + std::to_string(cfg.num_hidden_layers) +
         " but the checkpoint has no tensor model.layers." + std::to_string(x.layers) + ".* (it holds " +
         std::to_string(x.layers) + " layer(s))");
  bool any_moe = false;  // layers < num_hidden_layers <= x.layers here: bounded by the checkpoint
  for (uint32_t l = cfg.first_k_dense_replace; l < cfg.num_hidden_layers && !any_moe; ++l) any_moe = cfg.is_moe_layer(l);
  if (cfg.is_dense() || !any_moe || cfg.n_routed_experts <= x.experts) return;
  fail(config_path + ": field '" + cfg.experts_key + "' is " +
       std::to_string(cfg.n_routed_experts) + " but the checkpoint holds tensors for " + std::to_string(x.experts) +
       " routed expert(s)");
}

uint32_t backed_mtp_layers(const HfConfig& cfg, const CheckpointExtent& x, const std::string& config_path) {
  const uint64_t present = x.layers > cfg.num_hidden_layers ? x.layers - cfg.num_hidden_layers : 0;
  if (present == 0 || cfg.num_nextn_predict_layers <= present) return present == 0 ? 0 : cfg.num_nextn_predict_layers;
  fail(config_path + ": field 'num_nextn_predict_layers' is " + std::to_string(cfg.num_nextn_predict_layers) +
       " but the checkpoint has no tensor model.layers." + std::to_string(x.layers) + ".* (it holds " +
       std::to_string(present) + " MTP layer(s))");
}

}  // namespace mote::convert
