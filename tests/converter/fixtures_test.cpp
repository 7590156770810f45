// Converts every Python-generated fixture checkpoint under tests/fixtures/<name>/ (any folder
// with a config.json) with each --weights type and checks the result opens, verifies and keeps
// the expected tensor count. Skipped when no fixture exists yet.
#include <gtest/gtest.h>

#include "converter/convert_util.h"

namespace mote::test {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> fixture_dirs() {
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(MOTE_FIXTURES_DIR, ec))
    if (fs::exists(e.path() / "config.json")) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

TEST(ConverterFixtures, EveryFixtureConvertsWithEveryWeightType) {
  const auto dirs = fixture_dirs();
  if (dirs.empty()) GTEST_SKIP() << "no fixtures in " << MOTE_FIXTURES_DIR;
  const fs::path work = fresh_temp_dir("fixtures_convert");
  for (const fs::path& dir : dirs) {
    size_t tensors = 0;
    for (const char* type : {"f32", "bf16", "q8_0", "q4"}) {
      const fs::path out = work / (dir.filename().string() + "_" + type + ".mote");
      const CommandResult r = run_convert(dir, out, {"--weights", type});
      ASSERT_EQ(r.exit_code, 0) << dir << " --weights " << type << ": " << r.err;
      auto f = open_mote(out);
      ASSERT_TRUE(f) << dir;
      EXPECT_TRUE(f->verify_checksums().is_ok()) << dir;
      if (tensors == 0) tensors = f->model().tensors()->size();
      EXPECT_EQ(f->model().tensors()->size(), tensors) << dir << " " << type;
      std::printf("[ConverterFixtures] %s --weights %s: %zu tensors, %s MTP, %.1f KB\n",
                  dir.filename().c_str(), type, size_t(f->model().tensors()->size()),
                  f->model().has_mtp() ? "with" : "no", double(fs::file_size(out)) / 1e3);
      fs::remove(out);
    }
  }
}

}  // namespace
}  // namespace mote::test
