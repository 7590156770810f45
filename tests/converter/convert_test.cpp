// End-to-end tests of mote-convert on tiny checkpoints built in C++ (ckpt_builder.h): layout,
// checksums, exact F32 round trip, F16/BF16/FP8 dequantisation, weight-type recipe, MTP aliasing,
// blobs, and the command line.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>

#include "converter/ckpt_builder.h"
#include "converter/convert_util.h"
#include "core/half.h"
#include "format/header.h"

namespace mote::test {
namespace {

namespace fs = std::filesystem;

// Checks the expert tables: every expert's gate/up/down in its own 4096-aligned segment, in
// that order, with the right roles, and no other tensor in that segment.
void check_expert_layout(const MoteFile& f, const std::set<uint32_t>& moe_layers, uint32_t experts) {
  const auto* layers = f.model().expert_layers();
  ASSERT_NE(layers, nullptr);
  ASSERT_EQ(layers->size(), moe_layers.size());
  std::set<uint32_t> segments;
  for (const fb::ExpertLayer* l : *layers) {
    EXPECT_TRUE(moe_layers.count(l->layer())) << l->layer();
    ASSERT_EQ(l->experts()->size(), experts);
    for (uint32_t e = 0; e < experts; ++e) {
      const fb::Expert* ex = l->experts()->Get(e);
      EXPECT_TRUE(segments.insert(ex->segment()).second) << "expert segment shared";
      EXPECT_EQ(f.segment_file_offset(ex->segment()) % 4096, 0u);
      const auto* tensors = f.model().tensors();
      const fb::Tensor* g = tensors->Get(ex->gate());
      const fb::Tensor* u = tensors->Get(ex->up());
      const fb::Tensor* d = tensors->Get(ex->down());
      const std::string p = "model.layers." + std::to_string(l->layer()) + ".mlp.experts." + std::to_string(e) + ".";
      EXPECT_EQ(g->name()->str(), p + "gate_proj.weight");
      EXPECT_EQ(u->name()->str(), p + "up_proj.weight");
      EXPECT_EQ(d->name()->str(), p + "down_proj.weight");
      EXPECT_EQ(g->role(), fb::TensorRole::ExpertGate);
      EXPECT_EQ(d->role(), fb::TensorRole::ExpertDown);
      EXPECT_EQ(d->expert(), int(e));
      EXPECT_LT(g->offset(), u->offset());
      EXPECT_LT(u->offset(), d->offset());
      EXPECT_EQ(d->offset() + d->size(), f.segment_size(ex->segment()));
    }
  }
  for (const fb::Tensor* t : *f.model().tensors()) {
    if (segments.count(t->segment())) {
      EXPECT_EQ(t->tensor_class(), fb::TensorClass::RoutedExpert) << t->name()->str();
    }
  }
}

TEST(ConverterTiny, F32RoundTripsBytesExactlyFromShards) {
  const fs::path dir = fresh_temp_dir("conv_f32");
  const TinyCheckpoint ck = make_tiny();
  ck.write(dir / "hf", 3);
  const CommandResult r = run_convert(dir / "hf", dir / "m.mote", {"--weights", "f32"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = open_mote(dir / "m.mote");
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->verify_checksums().is_ok());
  EXPECT_EQ(f->model().tensors()->size(), ck.tensors.size());
  for (const StTensor& t : ck.tensors) {
    EXPECT_EQ(tensor_bytes(*f, t.name), t.bytes) << t.name;
    EXPECT_EQ(f->find_tensor(t.name)->type(), fb::WeightType::F32);
  }
  check_expert_layout(*f, {1, 2}, 4);
  EXPECT_TRUE(f->model().has_mtp());
  EXPECT_EQ(f->config().num_nextn_predict_layers(), 1u);
  EXPECT_EQ(f->config().architecture(), fb::Architecture::DeepSeekV3);
  EXPECT_EQ(f->config().hidden_size(), 40u);
  EXPECT_EQ(f->config().rope_scaling()->type(), fb::RopeScalingType::Yarn);
  // MTP embedding and head are aliases of the main ones (identical source bytes).
  for (auto [mtp, main] : {std::pair<const char*, const char*>{"model.layers.2.embed_tokens.weight", "model.embed_tokens.weight"},
                           {"model.layers.2.shared_head.head.weight", "lm_head.weight"}}) {
    const fb::Tensor* a = f->find_tensor(mtp);
    const fb::Tensor* b = f->find_tensor(main);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->segment(), b->segment());
    EXPECT_EQ(a->offset(), b->offset());
  }
  EXPECT_EQ(f->find_tensor("model.layers.2.embed_tokens.weight")->role(), fb::TensorRole::MtpEmbedding);
  for (const char* blob : {"tokenizer.json", "tokenizer_config.json", "generation_config.json"})
    EXPECT_EQ(std::string(f->blob(blob)), read_file_bytes(dir / "hf" / blob)) << blob;
  EXPECT_EQ(std::string(f->blob("chat_template")), "{% for m in messages %}{{ m.content }}{% endfor %}");
  EXPECT_EQ(f->model().provenance()->source_dtype()->str(), "F32");
  EXPECT_EQ(fs::file_size(dir / "m.mote"), f->header().file_size);
  EXPECT_TRUE(files_containing(dir, ".tmp-").empty());
}

TEST(ConverterTiny, DefaultIsQ8WithF32NormsAndRouter) {
  const fs::path dir = fresh_temp_dir("conv_q8");
  const TinyCheckpoint ck = make_tiny();
  ck.write(dir / "hf");
  const CommandResult r = run_convert(dir / "hf", dir / "m.mote");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = open_mote(dir / "m.mote");
  ASSERT_TRUE(f);
  for (const fb::Tensor* t : *f->model().tensors()) {
    const bool plain = t->shape()->size() == 1 || t->tensor_class() == fb::TensorClass::Router ||
                       t->tensor_class() == fb::TensorClass::Norm;
    EXPECT_EQ(t->type(), plain ? fb::WeightType::F32 : fb::WeightType::Q8_0) << t->name()->str();
  }
  EXPECT_EQ(f->find_tensor("model.layers.1.mlp.gate.e_score_correction_bias")->type(), fb::WeightType::F32);
  EXPECT_EQ(f->find_tensor("model.layers.1.mlp.gate.weight")->type(), fb::WeightType::F32);
  // Dequantised Q8_0 stays within half a quantisation step of the source.
  for (const StTensor& t : ck.tensors) {
    const std::vector<float> src = decode_floats(t.bytes, "F32");
    const std::vector<float> got = tensor_f32(*f, t.name);
    ASSERT_EQ(got.size(), src.size()) << t.name;
    for (size_t i = 0; i < src.size(); ++i) ASSERT_NEAR(got[i], src[i], 0.5 * 1.1 / 127 + 1e-6) << t.name;
  }
}

TEST(ConverterTiny, PerClassWeightTypes) {
  const fs::path dir = fresh_temp_dir("conv_recipe");
  make_tiny().write(dir / "hf");
  const CommandResult r = run_convert(dir / "hf", dir / "m.mote",
                                      {"--weights", "bf16", "--expert-weights", "q4", "--attn-weights", "q8_0",
                                       "--shared-expert-weights", "f32", "--embed-weights", "q4_0",
                                       "--output-weights=f16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = open_mote(dir / "m.mote");
  ASSERT_TRUE(f);
  auto type = [&](const char* name) { return f->find_tensor(name)->type(); };
  EXPECT_EQ(type("model.layers.1.mlp.experts.0.up_proj.weight"), fb::WeightType::Q4_0);
  EXPECT_EQ(type("model.layers.2.mlp.experts.3.down_proj.weight"), fb::WeightType::Q4_0);
  EXPECT_EQ(type("model.layers.0.self_attn.q_b_proj.weight"), fb::WeightType::Q8_0);
  EXPECT_EQ(type("model.layers.0.self_attn.kv_b_proj.weight"), fb::WeightType::Q8_0);
  EXPECT_EQ(type("model.layers.1.mlp.shared_experts.down_proj.weight"), fb::WeightType::F32);
  EXPECT_EQ(type("model.embed_tokens.weight"), fb::WeightType::Q4_0);
  EXPECT_EQ(type("model.layers.2.embed_tokens.weight"), fb::WeightType::Q4_0);
  EXPECT_EQ(type("lm_head.weight"), fb::WeightType::F16);
  EXPECT_EQ(type("model.layers.0.mlp.down_proj.weight"), fb::WeightType::BF16);   // dense: --weights
  EXPECT_EQ(type("model.layers.2.eh_proj.weight"), fb::WeightType::BF16);          // eh_proj: --weights
  EXPECT_EQ(type("model.layers.0.self_attn.kv_a_layernorm.weight"), fb::WeightType::F32);
  const std::string recipe = f->model().provenance()->weight_recipe()->str();
  EXPECT_NE(recipe.find("routed_expert=q4_0"), std::string::npos) << recipe;
}

// The 2-bit recipe: `--expert-weights q2` puts routed experts in Q2_1 and leaves the rest at
// --weights; a q2 default (spelled q2_1) keeps lm_head at Q8_0 as the 4-bit default does.
TEST(ConverterTiny, Q2ExpertRecipe) {
  const fs::path dir = fresh_temp_dir("conv_q2");
  make_tiny().write(dir / "hf");
  const CommandResult r = run_convert(dir / "hf", dir / "m.mote", {"--weights", "q8_0", "--expert-weights", "q2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = open_mote(dir / "m.mote");
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->verify_checksums().is_ok());
  auto type = [&](const std::unique_ptr<MoteFile>& m, const char* name) { return m->find_tensor(name)->type(); };
  EXPECT_EQ(type(f, "model.layers.1.mlp.experts.0.up_proj.weight"), fb::WeightType::Q2_1);
  EXPECT_EQ(type(f, "model.layers.2.mlp.experts.3.down_proj.weight"), fb::WeightType::Q2_1);
  EXPECT_EQ(type(f, "model.layers.1.mlp.shared_experts.down_proj.weight"), fb::WeightType::Q8_0);
  EXPECT_EQ(type(f, "model.layers.0.self_attn.q_b_proj.weight"), fb::WeightType::Q8_0);
  EXPECT_EQ(type(f, "lm_head.weight"), fb::WeightType::Q8_0);
  const std::string recipe = f->model().provenance()->weight_recipe()->str();
  EXPECT_NE(recipe.find("routed_expert=q2_1"), std::string::npos) << recipe;

  const CommandResult r2 = run_convert(dir / "hf", dir / "all.mote", {"--weights", "q2_1"});
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  auto g = open_mote(dir / "all.mote");
  ASSERT_TRUE(g);
  EXPECT_EQ(type(g, "model.layers.0.self_attn.q_b_proj.weight"), fb::WeightType::Q2_1);
  EXPECT_EQ(type(g, "lm_head.weight"), fb::WeightType::Q8_0);
}

TEST(ConverterTiny, HalfAndFp8InputsDequantiseExactly) {
  const fs::path dir = fresh_temp_dir("conv_fp8");
  TinySpec spec;
  spec.moe_intermediate = 136;  // expert matrices span two 128-blocks, the second partial
  TinyCheckpoint ck = make_tiny(spec);
  ck.recode([](const std::string& n) { return n.find("self_attn") != std::string::npos; }, "BF16");
  ck.recode([](const std::string& n) { return n.find("layers.0.mlp") != std::string::npos; }, "F16");
  ck.recode([](const std::string& n) { return n.find("experts") != std::string::npos; }, "F8_E4M3");
  ck.write(dir / "hf", 2);
  const CommandResult r = run_convert(dir / "hf", dir / "m.mote", {"--weights", "f32"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("not used"), std::string::npos) << "scales must count as used: " << r.err;
  auto f = open_mote(dir / "m.mote");
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->verify_checksums().is_ok());
  size_t checked_fp8 = 0;
  for (const StTensor& t : ck.tensors) {
    if (t.name.find("_scale_inv") != std::string::npos) {
      EXPECT_EQ(f->find_tensor(t.name), nullptr) << "scale stored: " << t.name;
      continue;
    }
    std::vector<float> want;
    if (t.dtype == "F8_E4M3") {
      const std::vector<float> s = decode_floats(ck.find(t.name + "_scale_inv")->bytes, "F32");
      const uint64_t cols = t.shape[1], scols = (cols + 127) / 128;
      for (size_t i = 0; i < t.bytes.size(); ++i)
        want.push_back(fp8_e4m3_to_f32(uint8_t(t.bytes[i])) * s[(i / cols / 128) * scols + (i % cols) / 128]);
      ++checked_fp8;
    } else {
      want = decode_floats(t.bytes, t.dtype);
    }
    EXPECT_EQ(tensor_f32(*f, t.name), want) << t.name << " (" << t.dtype << ")";
  }
  EXPECT_EQ(checked_fp8, 2u * 4u * 3u + 2u * 3u);  // routed + shared experts of layers 1 and 2
  const std::string dtypes = f->model().provenance()->source_dtype()->str();
  EXPECT_EQ(dtypes, "BF16+F16+F32+F8_E4M3");
}

TEST(ConverterTiny, DistinctMtpTensorsAreStored) {
  const fs::path dir = fresh_temp_dir("conv_mtp_distinct");
  TinySpec spec;
  spec.mtp_shares = false;
  const TinyCheckpoint ck = make_tiny(spec);
  ck.write(dir / "hf");
  const CommandResult r = run_convert(dir / "hf", dir / "m.mote", {"--weights", "f32"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = open_mote(dir / "m.mote");
  ASSERT_TRUE(f);
  const fb::Tensor* a = f->find_tensor("model.layers.2.embed_tokens.weight");
  const fb::Tensor* b = f->find_tensor("model.embed_tokens.weight");
  EXPECT_TRUE(a->segment() != b->segment() || a->offset() != b->offset());
  EXPECT_EQ(tensor_bytes(*f, "model.layers.2.embed_tokens.weight"),
            const_cast<TinyCheckpoint&>(ck).find("model.layers.2.embed_tokens.weight")->bytes);
  EXPECT_EQ(tensor_bytes(*f, "model.layers.2.shared_head.head.weight"),
            const_cast<TinyCheckpoint&>(ck).find("model.layers.2.shared_head.head.weight")->bytes);
}

TEST(ConverterTiny, MtpDroppedByFlagOrAbsentFromCheckpoint) {
  const fs::path dir = fresh_temp_dir("conv_no_mtp");
  make_tiny().write(dir / "hf");
  CommandResult r = run_convert(dir / "hf", dir / "a.mote", {"--no-mtp"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("not used"), std::string::npos) << r.err;  // the skipped layer-2 tensors
  auto f = open_mote(dir / "a.mote");
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->model().has_mtp());
  EXPECT_EQ(f->config().num_nextn_predict_layers(), 0u);
  EXPECT_EQ(f->find_tensor("model.layers.2.eh_proj.weight"), nullptr);
  check_expert_layout(*f, {1}, 4);

  TinySpec spec;
  spec.mtp_tensors = false;  // config declares 1 MTP layer, checkpoint has none
  make_tiny(spec).write(dir / "hf2");
  r = run_convert(dir / "hf2", dir / "b.mote");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("MTP layer skipped"), std::string::npos) << r.err;
  f = open_mote(dir / "b.mote");
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->model().has_mtp());
  EXPECT_EQ(f->config().num_nextn_predict_layers(), 0u);
}

TEST(ConverterTiny, DeepSeekV2LiteLayout) {
  const fs::path dir = fresh_temp_dir("conv_v2");
  TinySpec spec;
  spec.model_type = "deepseek_v2";
  spec.q_lora = 0;
  spec.topk_method = "group_limited_greedy";
  spec.scoring = "softmax";
  spec.shared = 2;
  const TinyCheckpoint ck = make_tiny(spec);
  ck.write(dir / "hf");
  const CommandResult r = run_convert(dir / "hf", dir / "m.mote", {"--weights", "q4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = open_mote(dir / "m.mote");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->config().architecture(), fb::Architecture::DeepSeekV2);
  EXPECT_EQ(f->config().q_lora_rank(), 0u);
  EXPECT_EQ(f->config().topk_method(), fb::TopkMethod::GroupLimitedGreedy);
  EXPECT_EQ(f->model().tensors()->size(), ck.tensors.size());
  EXPECT_NE(f->find_tensor("model.layers.0.self_attn.q_proj.weight"), nullptr);
  EXPECT_EQ(f->find_tensor("model.layers.1.mlp.shared_experts.up_proj.weight")->shape()->Get(0), 48u);
  EXPECT_FALSE(f->model().has_mtp());
  check_expert_layout(*f, {1}, 4);
}

TEST(ConverterTiny, TiedEmbeddingsWithoutLmHead) {
  const fs::path dir = fresh_temp_dir("conv_tied");
  TinySpec spec;
  spec.nextn = 0;
  TinyCheckpoint ck = make_tiny(spec);
  ck.config["tie_word_embeddings"] = true;
  ck.remove("lm_head.weight");
  ck.write(dir / "hf");
  CommandResult r = run_convert(dir / "hf", dir / "a.mote");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = open_mote(dir / "a.mote");
  ASSERT_TRUE(f);
  const fb::Tensor* head = f->find_tensor("lm_head.weight");
  const fb::Tensor* embed = f->find_tensor("model.embed_tokens.weight");
  ASSERT_TRUE(head && embed);
  EXPECT_EQ(head->role(), fb::TensorRole::Output);
  EXPECT_EQ(head->segment(), embed->segment());
  EXPECT_EQ(head->offset(), embed->offset());
  EXPECT_TRUE(f->config().tie_word_embeddings());
  // A different output type converts the embedding a second time.
  r = run_convert(dir / "hf", dir / "b.mote", {"--output-weights", "f32"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  f = open_mote(dir / "b.mote");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->find_tensor("lm_head.weight")->type(), fb::WeightType::F32);
  EXPECT_EQ(tensor_bytes(*f, "lm_head.weight"), ck.find("model.embed_tokens.weight")->bytes);
}

TEST(ConverterTiny, ExtraTensorsAreIgnoredWithANote) {
  const fs::path dir = fresh_temp_dir("conv_extra");
  TinyCheckpoint ck = make_tiny();
  ck.tensors.push_back({"model.rotary_emb.inv_freq", "F32", {2}, encode_floats({1, 2}, "F32"), {}, 0});
  ck.tensors.push_back({"model.layers.0.step", "I64", {1}, std::string(8, '\0'), {}, 0});
  ck.write(dir / "hf");
  const CommandResult r = run_convert(dir / "hf", dir / "m.mote");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("2 checkpoint tensor(s) not used"), std::string::npos) << r.err;
  auto f = open_mote(dir / "m.mote");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->find_tensor("model.rotary_emb.inv_freq"), nullptr);
}

TEST(ConverterTiny, ChatTemplateFileWinsAndMissingTokenizerIsFine) {
  const fs::path dir = fresh_temp_dir("conv_blobs");
  make_tiny().write(dir / "hf", 1, /*tokenizer=*/false);
  CommandResult r = run_convert(dir / "hf", dir / "a.mote");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = open_mote(dir / "a.mote");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->model().blobs()->size(), 0u);
  write_file_bytes(dir / "hf" / "chat_template.jinja", "{{ bos_token }}");
  write_file_bytes(dir / "hf" / "tokenizer_config.json", R"({"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]})");
  r = run_convert(dir / "hf", dir / "b.mote");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  f = open_mote(dir / "b.mote");
  ASSERT_TRUE(f);
  EXPECT_EQ(std::string(f->blob("chat_template")), "{{ bos_token }}");
  fs::remove(dir / "hf" / "chat_template.jinja");
  r = run_convert(dir / "hf", dir / "c.mote");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  f = open_mote(dir / "c.mote");
  ASSERT_TRUE(f);
  EXPECT_EQ(std::string(f->blob("chat_template")), "D");
}

TEST(ConverterCli, ProgressAndSummaryOnStderr) {
  const fs::path dir = fresh_temp_dir("cli_progress");
  make_tiny().write(dir / "hf");
  CommandResult r = run_convert(dir / "hf", dir / "a.mote", {}, /*quiet=*/false);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("\r["), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tensors"), std::string::npos);
  EXPECT_NE(r.err.find("mote-convert: wrote"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
  r = run_convert(dir / "hf", dir / "b.mote", {"--chunk-mb", "1", "--threads", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << "--quiet still printed progress";
  EXPECT_EQ(read_file_bytes(dir / "a.mote").size(), read_file_bytes(dir / "b.mote").size());
}

TEST(ConverterCli, UsageErrorsExitWithStatus2) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"dir"},
      {"dir", "-o"},
      {"dir", "-o", "x.mote", "--weights"},
      {"dir", "-o", "x.mote", "--weights", "q3"},
      {"dir", "-o", "x.mote", "--expert-weights", "int8"},
      {"dir", "-o", "x.mote", "--frobnicate"},
      {"dir", "-o", "x.mote", "--chunk-mb", "0"},
      {"dir", "-o", "x.mote", "--chunk-mb", "abc"},
      {"dir", "other", "-o", "x.mote"},
  };
  const std::vector<std::string> needles = {"missing input", "missing -o", "missing value for -o",
                                            "missing value for --weights", "unknown weight type 'q3'",
                                            "unknown weight type 'int8' for --expert-weights",
                                            "unknown option --frobnicate", "invalid value '0' for --chunk-mb",
                                            "invalid value 'abc'", "unexpected argument 'other'"};
  for (size_t i = 0; i < cases.size(); ++i) {
    std::vector<std::string> argv = {MOTE_CONVERT_BIN};
    argv.insert(argv.end(), cases[i].begin(), cases[i].end());
    const CommandResult r = run_command(argv);
    EXPECT_EQ(r.exit_code, 2) << i << ": " << r.err;
    EXPECT_EQ(r.err.rfind("mote-convert: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needles[i]), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("usage"), std::string::npos) << r.err;
  }
  const CommandResult help = run_command({MOTE_CONVERT_BIN, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--expert-weights"), std::string::npos);
}

}  // namespace
}  // namespace mote::test
