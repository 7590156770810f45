// Mixtral (transformers' MixtralConfig / modeling_mixtral.py): model_type "mixtral".
// Config: num_local_experts, the per-expert width is intermediate_size, top-2 always
// renormalised (no norm_topk_prob key), sliding_window on every layer when set (null: full).
// Tensors: block_sparse_moe.gate, block_sparse_moe.experts.E.{w1 = gate, w3 = up, w2 = down}.
#include "arch/family.h"
#include "arch/gqa.h"

namespace mote::convert {
namespace {

using detail::Fields;

void parse_mixtral_keys(const Fields& f, HfConfig& c) { c.sliding_window = f.u32("sliding_window", 0, true); }

constexpr detail::GqaFamilyTraits kTraits{
    .defaults = {32000, 4096, 32, 32, 8, 8, 2, 14336, 0, 0, 1e6f, 1e-5f, 131072, 1, 2},
    .local_experts_key = true,
    .always_renormalise = true,
    .parse_keys = parse_mixtral_keys,
};

constexpr GqaNaming kNames{"block_sparse_moe.", "w1", "w3", "w2"};

}  // namespace

extern const ConverterFamily kMixtralConverter = {
    .architecture = fb::Architecture::Mixtral,
    .model_type = "mixtral",
    .gqa = true,
    .dense = false,
    .fused_experts = false,
    .parse_config = [](const detail::json& root, const Fields& f, HfConfig& c) { detail::parse_gqa_config(root, f, c, kTraits); },
    .expected_tensors = [](const HfConfig& c, bool) { return gqa_expected_tensors(c, kNames); },
};

}  // namespace mote::convert
