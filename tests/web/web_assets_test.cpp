// The web page compiled into the binary (mote_web_assets) and the expert view JSON
// (mote_experts_view) on the demo model, through libmote only.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/test_util.h"
#include "experts_view.h"
#include "mote/mote.h"
#include "web_assets.h"

namespace fs = std::filesystem;

namespace {

const fs::path kWebDir = fs::path(MOTE_TEST_SOURCE_DIR) / ".." / "samples" / "mote" / "serve" / "web";
const fs::path kDemo = fs::path(MOTE_TEST_SOURCE_DIR) / ".." / "samples" / "models" / "mote-demo";

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(WebAssets, RootIsIndexHtml) {
  const mote::serve::WebAsset* root = mote::serve::find_web_asset("/");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->path, "/index.html");
  EXPECT_EQ(root->mime.substr(0, 9), "text/html");
  EXPECT_EQ(mote::serve::find_web_asset("/index.html"), root);
  EXPECT_EQ(mote::serve::find_web_asset(""), root);
  EXPECT_EQ(mote::serve::find_web_asset("/?autosend=hi"), root);
}

TEST(WebAssets, MimeTypes) {
  const auto* js = mote::serve::find_web_asset("/app.js");
  ASSERT_NE(js, nullptr);
  EXPECT_EQ(js->mime.substr(0, 22), "application/javascript");
  const auto* css = mote::serve::find_web_asset("/style.css");
  ASSERT_NE(css, nullptr);
  EXPECT_EQ(css->mime.substr(0, 8), "text/css");
}

TEST(WebAssets, UnknownAndTraversalAreNull) {
  for (const char* p : {"/nope", "/../etc/passwd", "/..%2Fetc%2Fpasswd", "/web/index.html", "index.html",
                        "/index.html/", "/README.md", "//index.html", "/app.js/../index.html", "/APP.JS",
                        "/v1/experts"})
    EXPECT_EQ(mote::serve::find_web_asset(p), nullptr) << p;
}

TEST(WebAssets, BodiesEqualTheSourcesByteForByte) {
  for (const char* name : {"index.html", "app.js", "style.css"}) {
    const auto* a = mote::serve::find_web_asset(std::string("/") + name);
    ASSERT_NE(a, nullptr) << name;
    const std::string src = read_file(kWebDir / name);
    ASSERT_FALSE(src.empty()) << name;
    EXPECT_EQ(a->body.size(), src.size()) << name;
    EXPECT_TRUE(a->body == src) << name;
  }
}

TEST(WebAssets, PageCarriesTheDomContract) {
  const std::string html(mote::serve::find_web_asset("/")->body);
  for (const char* id : {"id=\"prompt\"", "id=\"send\"", "id=\"stop\"", "id=\"messages\"", "id=\"status\"",
                         "id=\"expert-panel\"", "id=\"heatmap\"", "id=\"hit-rate\"", "id=\"bytes-per-token\"",
                         "id=\"memory\"", "id=\"temperature\"", "id=\"top-p\"", "id=\"max-tokens\"", "id=\"seed\"",
                         "id=\"system\"", "id=\"api-key\"", "src=\"app.js\"", "href=\"style.css\""})
    EXPECT_NE(html.find(id), std::string::npos) << id;
  EXPECT_EQ(html.find("http://"), std::string::npos) << "no CDN";
  EXPECT_EQ(html.find("https://"), std::string::npos) << "no CDN";
}

class ExpertsViewTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = mote::test::fresh_temp_dir("web_experts_view");
    path_ = (dir_ / "demo.mote").string();
    auto r = mote::test::run_command({MOTE_CONVERT_BIN, kDemo.string(), "-o", path_, "--weights", "q8_0", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static inline fs::path dir_;
  static inline std::string path_;
};

TEST_F(ExpertsViewTest, NullModelIsAnErrorObject) {
  const auto j = nlohmann::json::parse(mote::serve::experts_view_json(nullptr));
  ASSERT_TRUE(j.contains("error"));
  EXPECT_TRUE(j["error"]["message"].is_string());
}

TEST_F(ExpertsViewTest, ShapeOnTheDemoModel) {
  for (const uint64_t budget_div : {0, 4}) {
    uint64_t budget = 0;
    if (budget_div > 0) {
      mote_model* m = nullptr;
      ASSERT_EQ(mote_model_open(path_.c_str(), nullptr, &m), MOTE_OK) << mote_last_error();
      mote_expert_stats st{};
      ASSERT_EQ(mote_model_get_expert_stats(m, &st), MOTE_OK);
      budget = st.total_bytes / budget_div;
      mote_model_destroy(m);
    }
    mote_model_params p = mote_model_params_default();
    p.expert_budget_bytes = budget;
    mote_model* model = nullptr;
    ASSERT_EQ(mote_model_open(path_.c_str(), &p, &model), MOTE_OK) << mote_last_error();
    mote_session_params sp = mote_session_params_default();
    sp.mtp = 0;
    mote_session* s = nullptr;
    ASSERT_EQ(mote_session_create(model, &sp, &s), MOTE_OK) << mote_last_error();
    mote_generate_params g = mote_generate_params_default();
    g.max_tokens = 12;
    g.ignore_eos = 1;
    const char* prompt = "Once upon a time";
    ASSERT_EQ(mote_generate(s, prompt, std::strlen(prompt), &g, nullptr, nullptr), MOTE_OK) << mote_last_error();
    ASSERT_EQ(mote_model_wait_expert_io(model), MOTE_OK);

    const std::string text = mote::serve::experts_view_json(model);
    const auto j = nlohmann::json::parse(text);
    SCOPED_TRACE(text.substr(0, 400));
    ASSERT_EQ(j["n_layers"], 3);
    ASSERT_EQ(j["n_experts"], 16);
    EXPECT_EQ(j["top_k"], 2);
    EXPECT_EQ(j["model_layers"], 4);
    ASSERT_TRUE(j["layers"].is_array());
    ASSERT_EQ(j["layers"].size(), 3u);
    uint64_t uses = 0;
    int resident = 0;
    for (size_t r = 0; r < 3; ++r) {
      const auto& row = j["layers"][r];
      EXPECT_EQ(row["layer"], int(r) + 1);
      for (const char* key : {"uses", "resident", "pinned"}) {
        ASSERT_TRUE(row[key].is_array()) << key;
        ASSERT_EQ(row[key].size(), 16u) << key;
      }
      for (size_t e = 0; e < 16; ++e) {
        uses += row["uses"][e].get<uint64_t>();
        const int res = row["resident"][e];
        EXPECT_TRUE(res == 0 || res == 1);
        resident += res;
        EXPECT_EQ(row["pinned"][e], 0);
      }
    }
    const auto& st = j["stats"];
    for (const char* key : {"accesses", "hits", "misses", "prefetch_hits", "bytes_read", "io_stall_ms",
                            "budget_bytes", "slot_count", "total_bytes"})
      EXPECT_TRUE(st.contains(key) && st[key].is_number()) << key;
    EXPECT_EQ(st["accesses"].get<uint64_t>(), uses);
    EXPECT_EQ(st["hits"].get<uint64_t>() + st["misses"].get<uint64_t>(), uses);
    EXPECT_EQ(st["budget_bytes"].get<uint64_t>(), budget);
    if (budget == 0) {
      EXPECT_EQ(resident, 3 * 16);
      EXPECT_EQ(st["slot_count"], 0);
    } else {
      EXPECT_GT(st["slot_count"].get<int>(), 0);
      EXPECT_LE(resident, st["slot_count"].get<int>());
      EXPECT_GT(resident, 0);
    }
    mote_session_destroy(s);
    mote_model_destroy(model);
  }
}

}  // namespace
