#include "mote_to_gguf.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <stdexcept>

namespace mote::gguf {
namespace {

namespace fs = std::filesystem;
using R = fb::TensorRole;

struct Family {
  fb::Architecture arch;
  const char* gguf_arch;
  const char* pre;            // tokenizer.ggml.pre of the family's tokenizer (llama.cpp's name)
  bool expert_ff_key;         // writes ARCH.expert_feed_forward_length (else feed_forward_length is the expert width)
};

// llama.cpp's architectures that take the Hugging Face q/k rows as they are (NEOX RoPE); Mixtral
// ("llama", normal RoPE) would need q/k rows permuted and is not supported.
constexpr Family kFamilies[] = {
    {fb::Architecture::Qwen3Moe, "qwen3moe", "qwen2", true},
    {fb::Architecture::Qwen2Moe, "qwen2moe", "qwen2", true},
    {fb::Architecture::Olmoe, "olmoe", "olmo", false},
};

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error(msg); }

// The GGUF name suffix of a per-layer tensor role, or nullptr when llama.cpp has no such tensor.
const char* layer_name(R role) {
  switch (role) {
    case R::AttnNorm: return "attn_norm.weight";
    case R::FfnNorm: return "ffn_norm.weight";
    case R::AttnQ: return "attn_q.weight";
    case R::AttnK: return "attn_k.weight";
    case R::AttnV: return "attn_v.weight";
    case R::AttnOut: return "attn_output.weight";
    case R::AttnQNorm: return "attn_q_norm.weight";
    case R::AttnKNorm: return "attn_k_norm.weight";
    case R::AttnQBias: return "attn_q.bias";
    case R::AttnKBias: return "attn_k.bias";
    case R::AttnVBias: return "attn_v.bias";
    case R::Router: return "ffn_gate_inp.weight";
    case R::FfnGate: return "ffn_gate.weight";
    case R::FfnUp: return "ffn_up.weight";
    case R::FfnDown: return "ffn_down.weight";
    case R::SharedGate: return "ffn_gate_shexp.weight";
    case R::SharedUp: return "ffn_up_shexp.weight";
    case R::SharedDown: return "ffn_down_shexp.weight";
    case R::SharedExpertGate: return "ffn_gate_inp_shexp.weight";
    default: return nullptr;
  }
}

GgmlType ggml_type_of(const MoteFile& file, const fb::Tensor& t) {
  switch (t.type()) {
    case fb::WeightType::F32: return GgmlType::F32;
    case fb::WeightType::F16: return GgmlType::F16;
    case fb::WeightType::BF16: return GgmlType::BF16;
    case fb::WeightType::Q8_0: return GgmlType::Q8_0;
    case fb::WeightType::Q4_0: return GgmlType::Q4_0;
    default:
      fail(file.path() + ": tensor " + t.name()->str() + " is " + fb::EnumNameWeightType(t.type()) +
           ": GGUF output supports F32, F16, BF16, Q8_0 and Q4_0 (convert with --weights q8_0 or q4)");
  }
}

// ne (ggml order) of one .mote tensor: PyTorch [out, in] -> {in, out}; [n] -> {n}.
std::vector<int64_t> ne_of(const fb::Tensor& t) {
  std::vector<int64_t> ne;
  for (size_t i = t.shape()->size(); i-- > 0;) ne.push_back(int64_t(t.shape()->Get(uint32_t(i))));
  return ne;
}

PlannedTensor planned(const MoteFile& file, std::string name, std::vector<const fb::Tensor*> parts) {
  const fb::Tensor& first = *parts.front();
  PlannedTensor p;
  p.parts = std::move(parts);
  p.info.name = std::move(name);
  p.info.type = ggml_type_of(file, first);
  p.info.ne = ne_of(first);
  if (p.info.ne.size() == 1 && (p.info.type == GgmlType::F16 || p.info.type == GgmlType::BF16)) {
    p.info.type = GgmlType::F32;  // norms and biases: ggml's element-wise ops want F32
    p.to_f32 = true;
  }
  for (const fb::Tensor* t : p.parts)
    if (t->type() != first.type() || ne_of(*t) != p.info.ne)
      fail(file.path() + ": tensor " + t->name()->str() + " differs in type or shape from " + first.name()->str() +
           " (stacked as " + p.info.name + ")");
  if (p.parts.size() > 1) p.info.ne.push_back(int64_t(p.parts.size()));
  const int64_t block = ggml_block_size(p.info.type);
  if (p.info.ne[0] % block != 0)
    fail(file.path() + ": tensor " + first.name()->str() + " has rows of " + std::to_string(p.info.ne[0]) +
         " elements, not a multiple of " + std::to_string(block) + ": ggml's " + ggml_type_name(p.info.type) +
         " rows cannot hold mote's padded last block");
  p.info.bytes = ggml_tensor_bytes(p.info.type, p.info.ne);
  return p;
}

const Family& family_of(const MoteFile& file) {
  for (const Family& f : kFamilies)
    if (f.arch == file.config().architecture()) return f;
  fail(file.path() + ": architecture " + fb::EnumNameArchitecture(file.config().architecture()) +
       " has no GGUF mapping here (supported: Qwen3Moe, Qwen2Moe, Olmoe)");
}

// general.file_type (llama_ftype) from the routed experts' type: most of the bytes.
uint32_t file_type(GgmlType experts) {
  switch (experts) {
    case GgmlType::F32: return 0;   // LLAMA_FTYPE_ALL_F32
    case GgmlType::F16: return 1;   // MOSTLY_F16
    case GgmlType::Q4_0: return 2;  // MOSTLY_Q4_0
    case GgmlType::Q8_0: return 7;  // MOSTLY_Q8_0
    case GgmlType::BF16: return 32; // MOSTLY_BF16
  }
  return 0;
}

void add_model_metadata(const MoteFile& file, const Family& fam, const Options& o, GgmlType expert_type, Metadata* m) {
  const fb::ModelConfig& c = file.config();
  const std::string a = fam.gguf_arch;
  if (c.rope_scaling() != nullptr && c.rope_scaling()->type() != fb::RopeScalingType::None)
    fail(file.path() + ": rope_scaling " + fb::EnumNameRopeScalingType(c.rope_scaling()->type()) +
         " is not mapped to GGUF yet");
  if (c.sliding_window() != 0) fail(file.path() + ": sliding_window is not mapped to GGUF yet");
  const uint32_t head_dim = c.head_dim() != 0 ? c.head_dim() : c.hidden_size() / std::max(1u, c.num_attention_heads());
  m->add_string("general.architecture", a);
  m->add_string("general.type", "model");
  m->add_string("general.name", o.name);
  m->add_u32(a + ".block_count", c.num_hidden_layers());
  m->add_u32(a + ".context_length", uint32_t(std::min<uint64_t>(c.max_position_embeddings(), UINT32_MAX)));
  m->add_u32(a + ".embedding_length", c.hidden_size());
  m->add_u32(a + ".feed_forward_length", fam.expert_ff_key ? c.intermediate_size() : c.moe_intermediate_size());
  m->add_u32(a + ".attention.head_count", c.num_attention_heads());
  m->add_u32(a + ".attention.head_count_kv", c.num_key_value_heads());
  m->add_f32(a + ".rope.freq_base", c.rope_theta());
  m->add_f32(a + ".attention.layer_norm_rms_epsilon", c.rms_norm_eps());
  m->add_u32(a + ".expert_count", c.n_routed_experts());
  m->add_u32(a + ".expert_used_count", c.num_experts_per_tok());
  m->add_u32(a + ".attention.key_length", head_dim);
  m->add_u32(a + ".attention.value_length", head_dim);
  m->add_u32("general.file_type", file_type(expert_type));
  if (fam.expert_ff_key) m->add_u32(a + ".expert_feed_forward_length", c.moe_intermediate_size());
  if (fam.arch == fb::Architecture::Qwen2Moe) {
    const uint32_t shared = c.shared_expert_intermediate_size() != 0 ? c.shared_expert_intermediate_size()
                                                                     : c.n_shared_experts() * c.moe_intermediate_size();
    m->add_u32(a + ".expert_shared_feed_forward_length", shared);
  }
  m->add_u32("general.quantization_version", 2);
}

}  // namespace

Plan plan_gguf(const MoteFile& file, const Options& options) {
  const Family& fam = family_of(file);
  const fb::ModelConfig& c = file.config();
  const int64_t n_layers = c.num_hidden_layers();
  if (fam.arch == fb::Architecture::Qwen3Moe && !c.norm_topk_prob())
    fail(file.path() + ": qwen3_moe with norm_topk_prob false: llama.cpp's qwen3moe always renormalises");
  if (fam.arch == fb::Architecture::Olmoe && c.norm_topk_prob())
    fail(file.path() + ": olmoe with norm_topk_prob true: llama.cpp's olmoe never renormalises");
  if (c.first_k_dense_replace() != 0 || c.moe_layer_freq() > 1)
    fail(file.path() + ": dense layers among MoE layers are not mapped to GGUF");

  Plan plan;
  std::map<std::pair<int, int>, const fb::Tensor*> by_role;  // (layer, role) -> tensor; layer -1 = global
  for (const fb::Tensor* t : *file.model().tensors()) {
    if (t->expert() >= 0) continue;  // routed experts come from expert_layers
    if (t->layer() >= n_layers) {
      plan.notes.push_back("left out " + t->name()->str() + " (MTP layer: llama.cpp's " + fam.gguf_arch + " has none)");
      continue;
    }
    const bool known_global = t->role() == R::TokenEmbedding || t->role() == R::OutputNorm || t->role() == R::Output;
    if (t->layer() < 0 ? !known_global : layer_name(t->role()) == nullptr)
      fail(file.path() + ": tensor " + t->name()->str() + " (role " + fb::EnumNameTensorRole(t->role()) +
           ") has no llama.cpp " + fam.gguf_arch + " tensor");
    if (!by_role.emplace(std::make_pair(t->layer(), int(t->role())), t).second)
      fail(file.path() + ": two tensors with role " + std::string(fb::EnumNameTensorRole(t->role())) + " in layer " +
           std::to_string(t->layer()));
  }
  auto global = [&](R role) -> const fb::Tensor* {
    auto it = by_role.find({-1, int(role)});
    return it == by_role.end() ? nullptr : it->second;
  };
  const fb::Tensor* embd = global(R::TokenEmbedding);
  if (embd == nullptr) fail(file.path() + ": no token embedding");
  plan.tensors.push_back(planned(file, "token_embd.weight", {embd}));

  GgmlType expert_type = plan.tensors.back().info.type;
  std::map<int64_t, const fb::ExpertLayer*> expert_layers;
  for (const fb::ExpertLayer* el : *file.model().expert_layers())
    if (int64_t(el->layer()) < n_layers) expert_layers[el->layer()] = el;
  for (int64_t l = 0; l < n_layers; ++l) {
    const std::string prefix = "blk." + std::to_string(l) + ".";
    for (auto it = by_role.lower_bound({int(l), 0}); it != by_role.end() && it->first.first == l; ++it)
      plan.tensors.push_back(planned(file, prefix + layer_name(R(it->first.second)), {it->second}));
    auto el = expert_layers.find(l);
    if (el == expert_layers.end()) fail(file.path() + ": layer " + std::to_string(l) + " has no routed experts");
    const auto* experts = el->second->experts();
    const auto* tensors = file.model().tensors();
    for (const char* proj : {"gate", "up", "down"}) {
      std::vector<const fb::Tensor*> parts;
      for (const fb::Expert* e : *experts) {
        const uint32_t i = proj[0] == 'g' ? e->gate() : proj[0] == 'u' ? e->up() : e->down();
        parts.push_back(tensors->Get(i));
      }
      plan.tensors.push_back(planned(file, prefix + "ffn_" + proj + "_exps.weight", parts));
      expert_type = plan.tensors.back().info.type;
    }
  }
  const fb::Tensor* norm = global(R::OutputNorm);
  if (norm == nullptr) fail(file.path() + ": no output norm");
  plan.tensors.push_back(planned(file, "output_norm.weight", {norm}));
  const fb::Tensor* out = global(R::Output);
  // Tied embeddings (no lm_head, or one aliasing the embedding's bytes): llama.cpp reuses token_embd.
  const bool tied = out == nullptr || (out->segment() == embd->segment() && out->offset() == embd->offset());
  if (!tied) plan.tensors.push_back(planned(file, "output.weight", {out}));
  else if (fam.arch == fb::Architecture::Olmoe) fail(file.path() + ": olmoe with tied embeddings: llama.cpp's olmoe needs output.weight");

  Options o = options;
  if (o.name.empty()) o.name = fs::path(file.path()).stem().string();
  add_model_metadata(file, fam, o, expert_type, &plan.meta);
  add_tokenizer_metadata(file, tokenizer_files(file, o.tokenizer_dir), o.pre.empty() ? fam.pre : o.pre, &plan.meta);
  return plan;
}

}  // namespace mote::gguf
