// Test-side checkpoint builder: writes safetensors files and tiny DeepSeek-V3/V2 checkpoint
// folders from C++ (no Python), so converter tests control every byte of their input.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mote::test {

// One tensor of a safetensors file.
struct StTensor {
  std::string name;
  std::string dtype = "F32";    // safetensors dtype string
  std::vector<uint64_t> shape;
  std::string bytes;            // raw little-endian bytes, unless `fill` is set
  // Generated tensors: fill(offset, dst, n) writes bytes [offset, offset + n); size fill_size.
  std::function<void(uint64_t offset, uint8_t* dst, size_t n)> fill;
  uint64_t fill_size = 0;
  uint64_t byte_size() const { return fill ? fill_size : bytes.size(); }
};

// The JSON header for `tensors` laid out back to back in order (data_offsets from 0).
std::string safetensors_header(const std::vector<StTensor>& tensors);
// Writes [u64 header length][header][data]; generated tensors are streamed 1 MiB at a time.
void write_safetensors(const std::filesystem::path& path, const std::vector<StTensor>& tensors);
// Writes an arbitrary header text and data bytes (for damaged files).
void write_raw_safetensors(const std::filesystem::path& path, const std::string& header,
                           const std::string& data);

// Deterministic values in [-scale, scale] (xorshift), reproducible from `seed`.
std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f);
// f32 values <-> "F32" / "F16" / "BF16" bytes (round to nearest even when encoding).
std::string encode_floats(const std::vector<float>& values, const std::string& dtype);
std::vector<float> decode_floats(const std::string& bytes, const std::string& dtype);

// A tiny DeepSeek config. Defaults: deepseek_v3 with q-LoRA, noaux_tc, 1 dense + 1 MoE layer,
// 1 MTP layer; dims deliberately not multiples of 32 to exercise block padding.
struct TinySpec {
  std::string model_type = "deepseek_v3";
  uint32_t vocab = 50, hidden = 40, intermediate = 72, moe_intermediate = 24;
  uint32_t layers = 2, nextn = 1, heads = 2, q_lora = 24, kv_lora = 16;
  uint32_t nope = 8, rope = 4, v_head = 8;
  uint32_t experts = 4, shared = 1, topk = 2, first_dense = 1, n_group = 2, topk_group = 1;
  std::string topk_method = "noaux_tc";
  std::string scoring = "sigmoid";
  bool mtp_tensors = true;     // write the MTP layer's tensors when nextn > 0
  bool mtp_shares = true;      // MTP embed_tokens / shared_head.head identical to the main ones
};

struct TinyCheckpoint {
  nlohmann::json config;
  // All F32 as built; tensors over 16 MiB are generated lazily (`fill`), so a large checkpoint
  // costs no memory to build or write.
  std::vector<StTensor> tensors;

  StTensor* find(const std::string& name);
  void remove(const std::string& name);
  // Re-encodes the in-memory F32 tensors whose name passes `pred` as "F16"/"BF16", or as "F8_E4M3" with
  // random codes and a random positive <name>_scale_inv [ceil(r/128), ceil(c/128)] (F32).
  void recode(const std::function<bool(const std::string&)>& pred, const std::string& dtype);
  // Writes config.json, model.safetensors (shards == 1) or `shards` files plus
  // model.safetensors.index.json, and small tokenizer files when `tokenizer` is set.
  void write(const std::filesystem::path& dir, int shards = 1, bool tokenizer = true) const;
};

TinyCheckpoint make_tiny(const TinySpec& spec = {});
nlohmann::json tiny_config(const TinySpec& spec);

}  // namespace mote::test
