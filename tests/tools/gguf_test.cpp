// mote-to-gguf (tools/gguf): a .mote file as GGUF for llama.cpp. llama.cpp is not available in CI,
// so this parses the GGUF back with a small reader and checks its structure: header, the
// metadata keys llama.cpp's qwen3moe loader reads, the tokenizer arrays, the tensor table (names,
// ggml shapes, types, 32-byte aligned non-overlapping offsets, data area size), and that every
// tensor dequantises from the GGUF exactly as from the .mote (row groups de-interleaved, experts
// stacked). Also the one-line refusals: no tokenizer, an unsupported family, rows that are not a
// multiple of 32. The comparison against llama.cpp itself is scripts/gguf-compare.sh.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "format/mote_file.h"
#include "kernels/quant.h"

namespace fs = std::filesystem;
using mote::test::run_command;

namespace {

#if defined(MOTE_TO_GGUF_BIN) && defined(MOTE_SYNTH_BIN)
#define MOTE_GGUF_AVAILABLE 1
const std::string kToGguf = MOTE_TO_GGUF_BIN, kSynth = MOTE_SYNTH_BIN;
#else
const std::string kToGguf, kSynth;
#endif

// Qwen3-MoE with every width a multiple of 32 (ggml's Q rows) and of 16 (mote's row groups), the
// real vocabulary size so the real Qwen3 tokenizer fits.
[[maybe_unused]] const char* kConfig = R"({"architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe",
  "vocab_size": 151936, "hidden_size": 64, "intermediate_size": 128, "moe_intermediate_size": 32,
  "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32,
  "num_experts": 4, "num_experts_per_tok": 2, "norm_topk_prob": true, "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0, "max_position_embeddings": 4096, "bos_token_id": 151643,
  "eos_token_id": 151645, "tie_word_embeddings": false, "decoder_sparse_step": 1,
  "mlp_only_layers": [], "use_sliding_window": false, "sliding_window": null, "rope_scaling": null})";

// GGUF v3 reader (layout in tools/gguf/gguf_writer.h).
struct Gguf {
  struct Value {
    uint32_t type = 0;
    uint64_t u = 0;          // unsigned / bool scalars
    float f = 0;
    std::string s;
    uint32_t array_type = 0;
    std::vector<std::string> strings;
    std::vector<int64_t> ints;
  };
  struct Tensor {
    std::vector<int64_t> ne;
    uint32_t type = 0;
    uint64_t offset = 0;
  };
  std::string bytes;
  size_t pos = 0;
  uint32_t version = 0;
  std::map<std::string, Value> keys;
  std::vector<std::string> order;  // tensor names in file order
  std::map<std::string, Tensor> tensors;
  uint64_t data_start = 0;

  template <class T>
  T get() {
    if (pos + sizeof(T) > bytes.size()) throw std::runtime_error("truncated");
    T v;
    std::memcpy(&v, bytes.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  std::string str() {
    const uint64_t n = get<uint64_t>();
    if (n > bytes.size() - pos) throw std::runtime_error("string past the end");
    pos += n;
    return bytes.substr(pos - n, n);
  }
  void scalar(uint32_t type, Value& v) {
    switch (type) {
      case 0: case 1: case 7: v.u = get<uint8_t>(); break;
      case 2: case 3: v.u = get<uint16_t>(); break;
      case 4: case 5: v.u = get<uint32_t>(); break;
      case 6: v.f = get<float>(); break;
      case 8: v.s = str(); break;
      case 10: case 11: case 12: v.u = get<uint64_t>(); break;
      default: throw std::runtime_error("bad value type " + std::to_string(type));
    }
  }
  explicit Gguf(const fs::path& path) : bytes(mote::test::read_file_bytes(path)) {
    if (bytes.compare(0, 4, "GGUF") != 0) throw std::runtime_error("no GGUF magic");
    pos = 4;
    version = get<uint32_t>();
    const int64_t n_tensors = get<int64_t>(), n_keys = get<int64_t>();
    for (int64_t i = 0; i < n_keys; ++i) {
      const std::string k = str();
      Value v;
      v.type = get<uint32_t>();
      if (v.type == 9) {
        v.array_type = get<uint32_t>();
        const uint64_t n = get<uint64_t>();
        for (uint64_t j = 0; j < n; ++j) {
          Value e;
          scalar(v.array_type, e);
          if (v.array_type == 8) v.strings.push_back(std::move(e.s));
          else v.ints.push_back(int64_t(e.u));
        }
      } else {
        scalar(v.type, v);
      }
      if (!keys.emplace(k, std::move(v)).second) throw std::runtime_error("duplicate key " + k);
    }
    for (int64_t i = 0; i < n_tensors; ++i) {
      const std::string name = str();
      Tensor t;
      const uint32_t dims = get<uint32_t>();
      for (uint32_t d = 0; d < dims; ++d) t.ne.push_back(get<int64_t>());
      t.type = get<uint32_t>();
      t.offset = get<uint64_t>();
      order.push_back(name);
      if (!tensors.emplace(name, t).second) throw std::runtime_error("duplicate tensor " + name);
    }
    data_start = (pos + 31) / 32 * 32;  // general.alignment absent: 32
  }
  uint64_t u32(const std::string& k) const {
    auto it = keys.find(k);
    if (it == keys.end()) throw std::runtime_error("missing key " + k);
    if (it->second.type != 4) throw std::runtime_error(k + " is not u32");
    return it->second.u;
  }
};

// ggml type -> (block elements, block bytes, mote type).
struct TypeInfo {
  int64_t block, bytes;
  mote::WeightType mote;
};
TypeInfo type_info(uint32_t t) {
  switch (t) {
    case 0: return {1, 4, mote::WeightType::F32};
    case 1: return {1, 2, mote::WeightType::F16};
    case 2: return {32, 18, mote::WeightType::Q4_0};
    case 8: return {32, 34, mote::WeightType::Q8_0};
    case 30: return {1, 2, mote::WeightType::BF16};
  }
  throw std::runtime_error("unexpected ggml type " + std::to_string(t));
}

class MoteToGguf : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
#ifdef MOTE_GGUF_AVAILABLE
    work_ = new fs::path(mote::test::fresh_temp_dir("mote_to_gguf"));
    const fs::path ckpt = *work_ / "ckpt", config = *work_ / "config.json";
    mote::test::write_file_bytes(config, kConfig);
    auto r = run_command({kSynth, "--config", config.string(), "-o", ckpt.string(), "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // Converted once without the tokenizer (refusal test), then with the real Qwen3 one.
    // MOTE_TEST_SCALE=small (qemu-aarch64): the 151936 x 64 token embedding is Q8_0, not Q4_0
    // (aarch64 has no SIMD Q4 encoder: each q4 conversion takes 36 s under qemu, q8_0 3 s, and each
    // of the 5 tests, one process each under ctest, converts twice). Every other matrix stays Q4_0.
    std::vector<std::string> types = {"--weights", "q4"};
    if (mote::test::small_scale()) types.insert(types.end(), {"--embed-weights", "q8_0"});
    std::vector<std::string> argv = {MOTE_CONVERT_BIN, ckpt.string(), "-o", (*work_ / "notok.mote").string(), "--quiet"};
    argv.insert(argv.end(), types.begin(), types.end());
    r = run_command(argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      fs::copy_file(fs::path(MOTE_SHARED_DATA_DIR) / "tokenizers/qwen3" / f, ckpt / f);
    argv[3] = (*work_ / "q4.mote").string();
    r = run_command(argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_command({kToGguf, (*work_ / "q4.mote").string(), (*work_ / "q4.gguf").string(), "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
#endif
  }
  static void TearDownTestSuite() {
    if (work_ != nullptr) fs::remove_all(*work_);
    delete work_;
    work_ = nullptr;
  }
  void SetUp() override {
#ifndef MOTE_GGUF_AVAILABLE
    GTEST_SKIP() << "mote-to-gguf / mote-synth not built (MOTE_BUILD_SAMPLES=OFF)";
#endif
    ASSERT_TRUE(work_ != nullptr && fs::exists(*work_ / "q4.gguf")) << "setup failed";
  }
  static fs::path* work_;
};
fs::path* MoteToGguf::work_ = nullptr;

TEST_F(MoteToGguf, HeaderKeysAndTokenizer) {
  const Gguf g(*work_ / "q4.gguf");
  EXPECT_EQ(g.version, 3u);
  EXPECT_EQ(g.keys.at("general.architecture").s, "qwen3moe");
  EXPECT_EQ(g.u32("qwen3moe.block_count"), 2u);
  EXPECT_EQ(g.u32("qwen3moe.context_length"), 4096u);
  EXPECT_EQ(g.u32("qwen3moe.embedding_length"), 64u);
  EXPECT_EQ(g.u32("qwen3moe.feed_forward_length"), 128u);
  EXPECT_EQ(g.u32("qwen3moe.expert_feed_forward_length"), 32u);
  EXPECT_EQ(g.u32("qwen3moe.expert_count"), 4u);
  EXPECT_EQ(g.u32("qwen3moe.expert_used_count"), 2u);
  EXPECT_EQ(g.u32("qwen3moe.attention.head_count"), 2u);
  EXPECT_EQ(g.u32("qwen3moe.attention.head_count_kv"), 1u);
  EXPECT_EQ(g.u32("qwen3moe.attention.key_length"), 32u);
  EXPECT_EQ(g.u32("qwen3moe.attention.value_length"), 32u);
  EXPECT_FLOAT_EQ(g.keys.at("qwen3moe.rope.freq_base").f, 1e6f);
  EXPECT_FLOAT_EQ(g.keys.at("qwen3moe.attention.layer_norm_rms_epsilon").f, 1e-6f);
  EXPECT_EQ(g.u32("general.file_type"), 2u);  // MOSTLY_Q4_0
  // Tokenizer: the real Qwen3 vocabulary padded to vocab_size, as convert_hf_to_gguf.py writes it.
  EXPECT_EQ(g.keys.at("tokenizer.ggml.model").s, "gpt2");
  EXPECT_EQ(g.keys.at("tokenizer.ggml.pre").s, "qwen2");
  const auto& tokens = g.keys.at("tokenizer.ggml.tokens").strings;
  const auto& types = g.keys.at("tokenizer.ggml.token_type").ints;
  ASSERT_EQ(tokens.size(), 151936u);
  ASSERT_EQ(types.size(), 151936u);
  EXPECT_EQ(tokens[0], "!");
  EXPECT_EQ(tokens[220], "\xC4\xA0");  // "Ġ"
  EXPECT_EQ(tokens[151645], "<|im_end|>");
  EXPECT_EQ(types[151645], 3);          // control
  EXPECT_EQ(tokens[151667], "<think>");
  EXPECT_EQ(types[151667], 4);          // user-defined
  EXPECT_EQ(tokens[151700], "[PAD151700]");
  EXPECT_EQ(types[151700], 5);          // unused
  EXPECT_EQ(types[1000], 1);
  const auto& merges = g.keys.at("tokenizer.ggml.merges").strings;
  ASSERT_EQ(merges.size(), 151387u);
  EXPECT_EQ(merges[0], "\xC4\xA0 \xC4\xA0");
  EXPECT_EQ(g.u32("tokenizer.ggml.eos_token_id"), 151645u);
  EXPECT_EQ(g.u32("tokenizer.ggml.bos_token_id"), 151643u);
  EXPECT_EQ(g.u32("tokenizer.ggml.padding_token_id"), 151643u);
  EXPECT_EQ(g.keys.at("tokenizer.ggml.add_bos_token").u, 0u);
  EXPECT_NE(g.keys.at("tokenizer.chat_template").s.find("<|im_start|>"), std::string::npos);
}

TEST_F(MoteToGguf, TensorTable) {
  const Gguf g(*work_ / "q4.gguf");
  std::map<std::string, std::vector<int64_t>> want = {
      {"token_embd.weight", {64, 151936}}, {"output_norm.weight", {64}}, {"output.weight", {64, 151936}}};
  for (int l = 0; l < 2; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    want[p + "attn_norm.weight"] = {64};
    want[p + "ffn_norm.weight"] = {64};
    want[p + "attn_q.weight"] = {64, 64};
    want[p + "attn_k.weight"] = {64, 32};
    want[p + "attn_v.weight"] = {64, 32};
    want[p + "attn_output.weight"] = {64, 64};
    want[p + "attn_q_norm.weight"] = {32};
    want[p + "attn_k_norm.weight"] = {32};
    want[p + "ffn_gate_inp.weight"] = {64, 4};
    want[p + "ffn_gate_exps.weight"] = {64, 32, 4};
    want[p + "ffn_up_exps.weight"] = {64, 32, 4};
    want[p + "ffn_down_exps.weight"] = {32, 64, 4};
  }
  ASSERT_EQ(g.tensors.size(), want.size());
  uint64_t end = 0;
  for (const std::string& name : g.order) {
    const Gguf::Tensor& t = g.tensors.at(name);
    ASSERT_TRUE(want.count(name)) << name;
    EXPECT_EQ(t.ne, want[name]) << name;
    const bool vector = t.ne.size() == 1 || name.find("ffn_gate_inp") != std::string::npos;
    // Q8_0: the lm_head, and the token embedding under MOTE_TEST_SCALE=small (SetUpTestSuite).
    const bool q8 = name == "output.weight" || (name == "token_embd.weight" && mote::test::small_scale());
    EXPECT_EQ(t.type, vector ? 0u : q8 ? 8u : 2u) << name;  // F32 / Q8_0 / Q4_0
    EXPECT_EQ(t.offset % 32, 0u) << name;
    EXPECT_GE(t.offset, end) << name << " overlaps the previous tensor";
    const TypeInfo ti = type_info(t.type);
    uint64_t bytes = uint64_t(t.ne[0] / ti.block * ti.bytes);
    for (size_t d = 1; d < t.ne.size(); ++d) bytes *= uint64_t(t.ne[d]);
    end = t.offset + bytes;
  }
  EXPECT_EQ(g.data_start + (end + 31) / 32 * 32, g.bytes.size()) << "data area size";
}

// Every GGUF row dequantises bit for bit as the .mote row it came from.
TEST_F(MoteToGguf, TensorsDequantiseAsInMote) {
  const Gguf g(*work_ / "q4.gguf");
  auto file = mote::MoteFile::open((*work_ / "q4.mote").string());
  ASSERT_TRUE(file) << file.status().message();
  const mote::MoteFile& m = **file;
  // The .mote tensors behind one GGUF name: (expert, tensor) pairs, expert -1 for plain tensors.
  std::map<std::string, std::vector<const mote::fb::Tensor*>> sources;
  for (const mote::fb::Tensor* t : *m.model().tensors()) {
    std::string n = t->name()->str();
    if (n == "model.embed_tokens.weight") sources["token_embd.weight"].push_back(t);
    else if (n == "lm_head.weight") sources["output.weight"].push_back(t);
    else if (n == "model.layers.0.self_attn.q_proj.weight") sources["blk.0.attn_q.weight"].push_back(t);
    else if (n == "model.layers.1.self_attn.k_proj.weight") sources["blk.1.attn_k.weight"].push_back(t);
    else if (n == "model.layers.1.self_attn.k_norm.weight") sources["blk.1.attn_k_norm.weight"].push_back(t);
    else if (n == "model.layers.0.mlp.gate.weight") sources["blk.0.ffn_gate_inp.weight"].push_back(t);
  }
  for (const mote::fb::ExpertLayer* el : *m.model().expert_layers())
    for (const mote::fb::Expert* e : *el->experts()) {
      const std::string p = "blk." + std::to_string(el->layer()) + ".";
      sources[p + "ffn_gate_exps.weight"].push_back(m.model().tensors()->Get(e->gate()));
      sources[p + "ffn_down_exps.weight"].push_back(m.model().tensors()->Get(e->down()));
    }
  ASSERT_EQ(sources.size(), 10u);
  int grouped = 0;
  for (const auto& [name, parts] : sources) {
    const Gguf::Tensor& t = g.tensors.at(name);
    const TypeInfo ti = type_info(t.type);
    const int64_t cols = t.ne[0];
    const uint64_t row_bytes = uint64_t(cols / ti.block * ti.bytes);
    const uint8_t* data = reinterpret_cast<const uint8_t*>(g.bytes.data()) + g.data_start + t.offset;
    std::vector<float> a(static_cast<size_t>(cols)), b(static_cast<size_t>(cols));
    int64_t row = 0;
    for (const mote::fb::Tensor* part : parts) {
      const mote::WeightView v = m.view(*part);
      ASSERT_EQ(v.type, ti.mote) << name;
      ASSERT_EQ(v.cols, cols) << name;
      grouped += v.grouped();
      for (int64_t r = 0; r < v.rows; ++r, ++row) {
        mote::dequantize_row(ti.mote, data + uint64_t(row) * row_bytes, cols, a.data());
        mote::dequantize_view_piece(v, r, 0, cols, b.data());
        ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << name << " row " << row;
      }
    }
    int64_t rows = 1;
    for (size_t d = 1; d < t.ne.size(); ++d) rows *= t.ne[d];
    EXPECT_EQ(row, rows) << name;
  }
  EXPECT_GT(grouped, 0) << "no row-grouped tensor was checked";
}

// One line on stderr, exit 1, naming the file and the reason.
void expect_refusal(const mote::test::CommandResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

// A .mote without tokenizer.json is refused, unless --tokenizer names the files; then the
// metadata equals that of the file that embeds the same tokenizer.
TEST_F(MoteToGguf, WithoutTokenizerNeedsTokenizerDir) {
  const fs::path out = *work_ / "notok.gguf";
  expect_refusal(run_command({kToGguf, (*work_ / "notok.mote").string(), out.string()}), "no tokenizer.json");
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(mote::test::files_containing(*work_, "notok.gguf.tmp").empty());
  const fs::path dir = fs::path(MOTE_SHARED_DATA_DIR) / "tokenizers/qwen3";
  auto r = run_command({kToGguf, (*work_ / "notok.mote").string(), out.string(), "--quiet", "--tokenizer", dir.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Gguf a(out), b(*work_ / "q4.gguf");
  for (const char* k : {"tokenizer.ggml.tokens", "tokenizer.ggml.merges"})
    EXPECT_EQ(a.keys.at(k).strings, b.keys.at(k).strings) << k;
  EXPECT_EQ(a.keys.at("tokenizer.ggml.token_type").ints, b.keys.at("tokenizer.ggml.token_type").ints);
  EXPECT_EQ(a.keys.at("tokenizer.chat_template").s, b.keys.at("tokenizer.chat_template").s);
  EXPECT_EQ(a.u32("tokenizer.ggml.eos_token_id"), b.u32("tokenizer.ggml.eos_token_id"));
}

TEST_F(MoteToGguf, RefusesUnsupportedFamilyAndRaggedRows) {
  const fs::path fixtures = MOTE_FIXTURES_DIR;
  const fs::path ds3 = *work_ / "ds3.mote", qwen = *work_ / "qwen_tiny.mote";
  auto r = run_command({MOTE_CONVERT_BIN, (fixtures / "ds3_tiny").string(), "-o", ds3.string(), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_refusal(run_command({kToGguf, ds3.string(), (*work_ / "ds3.gguf").string()}), "has no GGUF mapping");
  // qwen3_moe_tiny: moe_intermediate_size 40, so down_proj rows are 40 elements (mote pads them).
  r = run_command({MOTE_CONVERT_BIN, (fixtures / "qwen3_moe_tiny").string(), "-o", qwen.string(), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_refusal(run_command({kToGguf, qwen.string(), (*work_ / "qwen.gguf").string()}), "not a multiple of 32");
}

}  // namespace
