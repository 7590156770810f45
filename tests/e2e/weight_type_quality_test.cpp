// Quality of each weight type against F32 (issue 5): mean KL(p_F32 || p_type) over positions and
// the top-1 agreement of the logits, on the random fixtures and on the trained demo model (the
// first 256 held-out tokens), with the default (fast) kernels. Prints the table the README
// quotes and checks bounds per type.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/test_util.h"
#include "model/model.h"
#include "session/engine.h"
#include "session/session.h"

namespace fs = std::filesystem;

namespace mote {
namespace {

struct Recipe {
  const char* name;
  std::vector<std::string> flags;
  double max_kl;       // bound on the mean KL (nats), every model
  double min_top1;     // bound on the top-1 agreement, trained model only (the random fixtures
                       // have 8-12 positions with near ties: one flip is 8-12%)
};

const Recipe kRecipes[] = {
    {"bf16", {"--weights", "bf16"}, 1e-4, 0.99},
    {"q8_0", {"--weights", "q8_0"}, 3e-3, 0.95},
    {"q8_0+q4 experts", {"--weights", "q8_0", "--expert-weights", "q4"}, 2e-2, 0.9},
    {"q4", {"--weights", "q4"}, 1e-1, 0.8},
    // Q2_1's round-trip RMS error on gaussian data is ~3.7x Q4_0's (tests/kernels/q2_1_test.cpp)
    // and KL grows about as its square: ~13x the q4-experts KL (<= 6e-3 measured) is ~8e-2;
    // measured at most 7.0e-2 (ds3_bias), 2.0e-2 / 0.910 top-1 on the trained model.
    {"q8_0+q2 experts", {"--weights", "q8_0", "--expert-weights", "q2"}, 1.5e-1, 0.85},
};

std::vector<float> all_logits(const fs::path& file, const std::vector<int32_t>& ids) {
  auto m = Model::open(file.string());
  EXPECT_TRUE(m) << m.status().to_string();
  SessionOptions o;
  o.max_context = int64_t(ids.size());
  auto s = Session::create(**m, o);
  std::vector<float> logits(ids.size() * size_t((*m)->hparams().vocab_size));
  EXPECT_TRUE((*s)->prefill(ids, logits.data(), LogitsMode::kAll));
  return logits;
}

// Mean over rows of KL(softmax(a) || softmax(b)) and the fraction of rows with the same argmax.
std::pair<double, double> compare(const std::vector<float>& a, const std::vector<float>& b, int64_t vocab) {
  const int64_t rows = int64_t(a.size()) / vocab;
  double kl = 0;
  int64_t same = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = a.data() + r * vocab;
    const float* y = b.data() + r * vocab;
    double mx = x[0], my = y[0];
    int64_t ax = 0, ay = 0;
    for (int64_t i = 1; i < vocab; ++i) {
      if (x[i] > mx) mx = x[i], ax = i;
      if (y[i] > my) my = y[i], ay = i;
    }
    double zx = 0, zy = 0;
    for (int64_t i = 0; i < vocab; ++i) zx += std::exp(x[i] - mx), zy += std::exp(y[i] - my);
    const double lx = std::log(zx) + mx, ly = std::log(zy) + my;
    for (int64_t i = 0; i < vocab; ++i) {
      const double lpx = x[i] - lx;
      kl += std::exp(lpx) * (lpx - (y[i] - ly));
    }
    same += ax == ay;
  }
  return {kl / double(rows), double(same) / double(rows)};
}

TEST(WeightTypeQuality, KlAndTop1AgainstF32) {
  const fs::path dir = test::fresh_temp_dir("weight_quality");
  struct Model_ {
    std::string name;
    fs::path source;
    std::vector<int32_t> ids;
  };
  std::vector<Model_> models;
  for (const std::string f : {"ds3_tiny", "ds3_bias", "ds2_lite", "qwen3_moe_tiny", "olmoe_tiny", "mixtral_swa"}) {
    const auto ref = nlohmann::json::parse(test::read_file_bytes(fs::path(MOTE_FIXTURES_DIR) / f / "reference.json"));
    models.push_back({f, fs::path(MOTE_FIXTURES_DIR) / f, ref["ids"].get<std::vector<int32_t>>()});
  }
  {
    const fs::path demo = fs::path(MOTE_TEST_SOURCE_DIR) / ".." / "samples" / "models" / "mote-demo";
    auto e = Engine::open([&] {
      const fs::path out = dir / "demo_f32.mote";
      test::run_command({MOTE_CONVERT_BIN, demo.string(), "-o", out.string(), "--weights", "f32", "--quiet"});
      return out.string();
    }());
    ASSERT_TRUE(e) << e.status().to_string();
    std::vector<int32_t> ids;
    ASSERT_TRUE((*e)->tokenizer()->encode(test::read_file_bytes(demo / "heldout.txt").substr(0, 2000), true, &ids));
    // MOTE_TEST_SCALE=small (qemu-aarch64): the first 64 tokens of the held-out text, not 256.
    ids.resize(std::min<size_t>(ids.size(), test::scaled<size_t>(256, 64)));
    models.push_back({"demo (trained)", demo, ids});
  }
  std::printf("| model | %s |\n", "bf16 KL / top-1 | q8_0 | q8_0 + q4 experts | q4 | q8_0 + q2 experts");
  for (const Model_& m : models) {
    const fs::path f32 = dir / "f32.mote";
    ASSERT_EQ(test::run_command({MOTE_CONVERT_BIN, m.source.string(), "-o", f32.string(), "--weights", "f32", "--quiet"}).exit_code, 0);
    const std::vector<float> ref = all_logits(f32, m.ids);
    const int64_t vocab = int64_t(ref.size() / m.ids.size());
    std::string row = "| " + m.name + " |";
    for (const Recipe& r : kRecipes) {
      const fs::path out = dir / "typed.mote";
      std::vector<std::string> argv = {MOTE_CONVERT_BIN, m.source.string(), "-o", out.string(), "--quiet"};
      argv.insert(argv.end(), r.flags.begin(), r.flags.end());
      ASSERT_EQ(test::run_command(argv).exit_code, 0) << r.name;
      const auto [kl, top1] = compare(ref, all_logits(out, m.ids), vocab);
      char cell[64];
      std::snprintf(cell, sizeof(cell), " %.2e / %.3f |", kl, top1);
      row += cell;
      EXPECT_LT(kl, r.max_kl) << m.name << " " << r.name;
      if (m.name == "demo (trained)") {
        EXPECT_GE(top1, r.min_top1) << m.name << " " << r.name;
      }
    }
    std::printf("%s\n", row.c_str());
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mote
