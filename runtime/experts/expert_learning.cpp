#include "experts/expert_learning.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/log.h"

namespace mote {
namespace {

// Tokens between two hot-pinning repins at decode (ExpertStore: repin period = 8 tokens' accesses):
// the seeded use counts are what an expert of that learned frequency holds in steady state
// (uses halve every period, so about twice one period's uses).
constexpr double kTokensPerRepin = 8.0;

std::vector<uint32_t> seed_uses(const RoutingStats& stats) {
  std::vector<uint32_t> uses(stats.counts.size(), 0);
  if (stats.tokens <= 0) return uses;
  for (size_t i = 0; i < uses.size(); ++i) {
    const double per_token = double(stats.counts[i]) / stats.tokens;
    uses[i] = uint32_t(std::lround(std::min(2.0 * kTokensPerRepin * per_token, 1e6)));
  }
  return uses;
}

}  // namespace

int64_t default_pin_slots(const ExpertStore& store, const HParams& hp) {
  int64_t per_token = 0;  // experts one decoded token acquires over all MoE layers
  for (int64_t l = 0; l < hp.n_layers; ++l) per_token += store.is_moe_layer(l) ? hp.n_experts_per_tok : 0;
  const int64_t slots = store.slot_count();
  return std::max<int64_t>(std::min(slots / 2, slots - per_token), 0);
}

std::vector<int64_t> hottest_first(const RoutingStats& stats) {
  std::vector<int64_t> order;
  for (size_t i = 0; i < stats.counts.size(); ++i)
    if (stats.counts[i] > 0) order.push_back(int64_t(i));
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return stats.counts[size_t(a)] > stats.counts[size_t(b)]; });
  return order;
}

ExpertLearning::ExpertLearning(ExpertStore& store, const HParams& hp, const ModelIdentity& identity,
                               const ExpertLearningOptions& options)
    : store_(store), hp_(hp), options_(options) {
  learned_.model = identity;
  learned_.n_layers = hp.n_layers;
  learned_.n_experts = hp.n_routed_experts;
  learned_.counts.assign(size_t(std::max<int64_t>(hp.n_layers * hp.n_routed_experts, 0)), 0.0f);
  if (options_.path.empty() || hp.n_routed_experts <= 0) return;
  auto loaded = load_routing_stats(options_.path, identity, hp.n_layers, hp.n_routed_experts);
  if (!loaded) {
    if (loaded.status().code() != StatusCode::kNotFound)
      log(LogLevel::kWarn, loaded.status().message() + "; starting with no learned routing (the file is replaced at close)");
    return;
  }
  learned_ = std::move(loaded).value();
  loaded_ = true;
  loaded_tokens_ = learned_.tokens;
  if (learned_.tokens > 0)
    for (float c : learned_.counts) loaded_shares_.push_back(float(double(c) / learned_.tokens));
  if (store_.resident() || learned_.empty()) return;
  const int64_t pin = options_.pin_slots >= 0 ? options_.pin_slots : default_pin_slots(store_, hp_);
  preload_started_ = store_.preload(hottest_first(learned_), pin, seed_uses(learned_));
  log(LogLevel::kInfo, options_.path + ": learned routing of " + std::to_string(int64_t(learned_.tokens)) +
                           " tokens; pre-loading " + std::to_string(preload_started_) + " experts");
}

Status ExpertLearning::save() {
  if (options_.path.empty() || hp_.n_routed_experts <= 0) return Status::ok();
  const std::vector<uint64_t> now = store_.routed_token_counts();
  const double tokens = store_.routed_tokens();
  std::vector<uint64_t> run = now;
  if (run.size() != learned_.counts.size()) return Status::ok();
  if (saved_counts_.size() == run.size())
    for (size_t i = 0; i < run.size(); ++i) run[i] -= std::min(run[i], saved_counts_[i]);
  const double new_tokens = tokens - saved_tokens_;
  if (new_tokens <= 0 || std::accumulate(run.begin(), run.end(), uint64_t(0)) == 0) return Status::ok();
  merge_routing_run(learned_, run, new_tokens);
  MOTE_RETURN_IF_ERROR(save_routing_stats(options_.path, learned_));
  saved_counts_ = now;
  saved_tokens_ = tokens;
  return Status::ok();
}

}  // namespace mote
