#include "converter/ckpt_builder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "common/test_util.h"
#include "core/half.h"

namespace mote::test {

namespace fs = std::filesystem;

std::string safetensors_header(const std::vector<StTensor>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const StTensor& t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.byte_size()}}};
    offset += t.byte_size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the format pads the header to 8 bytes
  return text;
}

static void write_u64(std::ofstream& out, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = uint8_t(v >> (8 * i));
  out.write(reinterpret_cast<const char*>(b), 8);
}

void write_safetensors(const fs::path& path, const std::vector<StTensor>& tensors) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path.string());
  const std::string header = safetensors_header(tensors);
  write_u64(out, header.size());
  out.write(header.data(), std::streamsize(header.size()));
  std::vector<uint8_t> buf;
  for (const StTensor& t : tensors) {
    if (!t.fill) {
      out.write(t.bytes.data(), std::streamsize(t.bytes.size()));
      continue;
    }
    buf.resize(1 << 20);
    for (uint64_t off = 0; off < t.fill_size; off += buf.size()) {
      const size_t n = size_t(std::min<uint64_t>(buf.size(), t.fill_size - off));
      t.fill(off, buf.data(), n);
      out.write(reinterpret_cast<const char*>(buf.data()), std::streamsize(n));
    }
  }
  if (!out) throw std::runtime_error("write failed: " + path.string());
}

void write_raw_safetensors(const fs::path& path, const std::string& header, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  write_u64(out, header.size());
  out.write(header.data(), std::streamsize(header.size()));
  out.write(data.data(), std::streamsize(data.size()));
}

std::vector<float> random_floats(size_t n, uint32_t seed, float scale) {
  std::vector<float> v(n);
  uint32_t x = seed * 2654435761u + 0x9e3779b9u;
  if (x == 0) x = 1;
  for (float& f : v) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    f = scale * (float(x >> 8) / float(1 << 23) - 1.0f);
  }
  return v;
}

std::string encode_floats(const std::vector<float>& values, const std::string& dtype) {
  if (dtype == "F32") return std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4);
  std::string out(values.size() * 2, '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t h = dtype == "BF16" ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
    std::memcpy(out.data() + 2 * i, &h, 2);
  }
  return out;
}

std::vector<float> decode_floats(const std::string& bytes, const std::string& dtype) {
  const size_t es = dtype == "F32" ? 4 : 2;
  std::vector<float> v(bytes.size() / es);
  for (size_t i = 0; i < v.size(); ++i) {
    if (es == 4) {
      std::memcpy(&v[i], bytes.data() + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, bytes.data() + 2 * i, 2);
      v[i] = dtype == "BF16" ? bf16_to_f32(h) : f16_to_f32(h);
    }
  }
  return v;
}

StTensor* TinyCheckpoint::find(const std::string& name) {
  for (StTensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

void TinyCheckpoint::remove(const std::string& name) {
  tensors.erase(std::remove_if(tensors.begin(), tensors.end(), [&](const StTensor& t) { return t.name == name; }),
                tensors.end());
}

void TinyCheckpoint::recode(const std::function<bool(const std::string&)>& pred, const std::string& dtype) {
  std::vector<StTensor> scales;
  for (StTensor& t : tensors) {
    if (t.dtype != "F32" || t.fill || !pred(t.name)) continue;
    const std::vector<float> v = decode_floats(t.bytes, "F32");
    if (dtype != "F8_E4M3") {
      t.bytes = encode_floats(v, dtype);
      t.dtype = dtype;
      continue;
    }
    // Random E4M3 codes (no NaN codes 0x7f / 0xff) and positive block scales.
    const std::vector<float> r = random_floats(v.size(), uint32_t(v.size()) ^ 0x5eed);
    t.bytes.assign(v.size(), '\0');
    for (size_t i = 0; i < v.size(); ++i) {
      uint8_t code = uint8_t(int((r[i] + 1.0f) * 127.99f));
      if ((code & 0x7f) == 0x7f) code ^= 1;
      t.bytes[i] = char(code);
    }
    t.dtype = "F8_E4M3";
    const uint64_t rows = t.shape[0], cols = t.shape[1];
    const std::vector<uint64_t> sshape = {(rows + 127) / 128, (cols + 127) / 128};
    std::vector<float> s = random_floats(sshape[0] * sshape[1], uint32_t(rows * 31 + cols));
    for (float& x : s) x = 0.002f + 0.001f * std::fabs(x);
    scales.push_back({t.name + "_scale_inv", "F32", sshape, encode_floats(s, "F32"), {}, 0});
  }
  for (auto& s : scales) tensors.push_back(std::move(s));
}

void TinyCheckpoint::write(const fs::path& dir, int shards, bool tokenizer) const {
  fs::create_directories(dir);
  write_file_bytes(dir / "config.json", config.dump(2));
  if (shards <= 1) {
    write_safetensors(dir / "model.safetensors", tensors);
  } else {
    nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
    for (int s = 0; s < shards; ++s) {
      char name[64];
      std::snprintf(name, sizeof(name), "model-%05d-of-%05d.safetensors", s + 1, shards);
      std::vector<StTensor> part;
      for (size_t i = size_t(s); i < tensors.size(); i += size_t(shards)) {
        part.push_back(tensors[i]);
        index["weight_map"][tensors[i].name] = name;
      }
      write_safetensors(dir / name, part);
    }
    write_file_bytes(dir / "model.safetensors.index.json", index.dump(2));
  }
  if (tokenizer) {
    write_file_bytes(dir / "tokenizer.json", R"({"version":"1.0","model":{"type":"BPE","vocab":{"<s>":0,"</s>":1},"merges":[]}})");
    write_file_bytes(dir / "tokenizer_config.json",
                     R"({"bos_token":"<s>","chat_template":"{% for m in messages %}{{ m.content }}{% endfor %}"})");
    write_file_bytes(dir / "generation_config.json", R"({"bos_token_id":0,"eos_token_id":1})");
  }
}

nlohmann::json tiny_config(const TinySpec& s) {
  nlohmann::json c = {
      {"architectures", {s.model_type == "deepseek_v3" ? "DeepseekV3ForCausalLM" : "DeepseekV2ForCausalLM"}},
      {"model_type", s.model_type}, {"vocab_size", s.vocab}, {"hidden_size", s.hidden},
      {"intermediate_size", s.intermediate}, {"moe_intermediate_size", s.moe_intermediate},
      {"num_hidden_layers", s.layers}, {"num_attention_heads", s.heads},
      {"num_key_value_heads", s.heads}, {"kv_lora_rank", s.kv_lora},
      {"qk_nope_head_dim", s.nope}, {"qk_rope_head_dim", s.rope}, {"v_head_dim", s.v_head},
      {"n_routed_experts", s.experts}, {"n_shared_experts", s.shared},
      {"num_experts_per_tok", s.topk}, {"first_k_dense_replace", s.first_dense},
      {"moe_layer_freq", 1}, {"n_group", s.n_group}, {"topk_group", s.topk_group},
      {"topk_method", s.topk_method}, {"scoring_func", s.scoring}, {"norm_topk_prob", true},
      {"routed_scaling_factor", 2.5}, {"rms_norm_eps", 1e-6}, {"rope_theta", 10000.0},
      {"max_position_embeddings", 256}, {"bos_token_id", 0}, {"eos_token_id", 1},
      {"tie_word_embeddings", false}, {"hidden_act", "silu"}, {"torch_dtype", "float32"},
      {"rope_scaling", {{"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 64},
                        {"beta_fast", 32}, {"beta_slow", 1}, {"mscale", 1.0}, {"mscale_all_dim", 1.0}}}};
  c["q_lora_rank"] = s.q_lora > 0 ? nlohmann::json(s.q_lora) : nlohmann::json(nullptr);
  if (s.model_type == "deepseek_v3") c["num_nextn_predict_layers"] = s.nextn;
  return c;
}

}  // namespace mote::test

namespace mote::test {

namespace {

uint32_t name_seed(const std::string& name) {
  uint32_t h = 2166136261u;
  for (char c : name) h = (h ^ uint8_t(c)) * 16777619u;
  return h;
}

// Tensors above this size are generated lazily (StTensor::fill).
constexpr uint64_t kLazyBytes = uint64_t(16) << 20;

// F32 values in [-0.5, 0.5) from a hash of (seed, element index); `offset` and `bytes` are
// multiples of 4.
void fill_pattern(uint32_t seed, uint64_t offset, uint8_t* dst, size_t bytes) {
  for (size_t i = 0; i < bytes; i += 4) {
    uint64_t k = (offset + i) / 4 * 0x9e3779b97f4a7c15ull + seed;
    k ^= k >> 29;
    const float v = float(uint32_t(k * 0xbf58476d1ce4e5b9ull >> 40)) / float(1 << 24) - 0.5f;
    std::memcpy(dst + i, &v, 4);
  }
}

struct TinyWriter {
  const TinySpec& s;
  TinyCheckpoint& ck;

  void add(const std::string& name, std::vector<uint64_t> shape, bool norm = false) {
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    if (n * 4 > kLazyBytes) {
      // Large tensors are generated while writing, so building them costs no memory.
      const uint32_t seed = name_seed(name);
      StTensor t{name, "F32", std::move(shape), "", {}, n * 4};
      t.fill = [seed](uint64_t offset, uint8_t* dst, size_t bytes) { fill_pattern(seed, offset, dst, bytes); };
      ck.tensors.push_back(std::move(t));
      return;
    }
    std::vector<float> v = random_floats(n, name_seed(name), norm ? 0.1f : 0.5f);
    if (norm)
      for (float& x : v) x += 1.0f;
    ck.tensors.push_back({name, "F32", std::move(shape), encode_floats(v, "F32"), {}, 0});
  }
  void copy(const std::string& name, const std::string& from) {
    StTensor t = *ck.find(from);
    t.name = name;
    ck.tensors.push_back(std::move(t));
  }

  void layer(uint32_t L) {
    const uint64_t H = s.hidden, nh = s.heads, qk = s.nope + s.rope;
    const std::string p = "model.layers." + std::to_string(L) + ".";
    const bool mtp = L >= s.layers;
    if (mtp) {
      if (s.mtp_shares) copy(p + "embed_tokens.weight", "model.embed_tokens.weight");
      else add(p + "embed_tokens.weight", {s.vocab, H});
      add(p + "enorm.weight", {H}, true);
      add(p + "hnorm.weight", {H}, true);
      add(p + "eh_proj.weight", {H, 2 * H});
      add(p + "shared_head.norm.weight", {H}, true);
      if (s.mtp_shares) copy(p + "shared_head.head.weight", "lm_head.weight");
      else add(p + "shared_head.head.weight", {s.vocab, H});
    }
    add(p + "input_layernorm.weight", {H}, true);
    add(p + "post_attention_layernorm.weight", {H}, true);
    if (s.q_lora > 0) {
      add(p + "self_attn.q_a_proj.weight", {s.q_lora, H});
      add(p + "self_attn.q_a_layernorm.weight", {s.q_lora}, true);
      add(p + "self_attn.q_b_proj.weight", {nh * qk, s.q_lora});
    } else {
      add(p + "self_attn.q_proj.weight", {nh * qk, H});
    }
    add(p + "self_attn.kv_a_proj_with_mqa.weight", {s.kv_lora + s.rope, H});
    add(p + "self_attn.kv_a_layernorm.weight", {s.kv_lora}, true);
    add(p + "self_attn.kv_b_proj.weight", {nh * (s.nope + s.v_head), s.kv_lora});
    add(p + "self_attn.o_proj.weight", {H, nh * s.v_head});
    if (!mtp && L < s.first_dense) {
      add(p + "mlp.gate_proj.weight", {s.intermediate, H});
      add(p + "mlp.up_proj.weight", {s.intermediate, H});
      add(p + "mlp.down_proj.weight", {H, s.intermediate});
      return;
    }
    add(p + "mlp.gate.weight", {s.experts, H});
    if (s.topk_method == "noaux_tc") add(p + "mlp.gate.e_score_correction_bias", {s.experts});
    for (uint32_t e = 0; e < s.experts; ++e) {
      const std::string ep = p + "mlp.experts." + std::to_string(e) + ".";
      add(ep + "gate_proj.weight", {s.moe_intermediate, H});
      add(ep + "up_proj.weight", {s.moe_intermediate, H});
      add(ep + "down_proj.weight", {H, s.moe_intermediate});
    }
    if (s.shared > 0) {
      const uint64_t S = uint64_t(s.shared) * s.moe_intermediate;
      add(p + "mlp.shared_experts.gate_proj.weight", {S, H});
      add(p + "mlp.shared_experts.up_proj.weight", {S, H});
      add(p + "mlp.shared_experts.down_proj.weight", {H, S});
    }
  }
};

}  // namespace

TinyCheckpoint make_tiny(const TinySpec& s) {
  TinyCheckpoint ck;
  ck.config = tiny_config(s);
  TinyWriter w{s, ck};
  w.add("model.embed_tokens.weight", {s.vocab, s.hidden});
  w.add("model.norm.weight", {s.hidden}, true);
  w.add("lm_head.weight", {s.vocab, s.hidden});
  const uint32_t total = s.layers + (s.mtp_tensors && s.model_type == "deepseek_v3" ? s.nextn : 0);
  for (uint32_t L = 0; L < total; ++L) w.layer(L);
  return ck;
}

}  // namespace mote::test
