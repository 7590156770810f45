#include "converter/convert_util.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "kernels/quant.h"

namespace mote::test {

namespace fs = std::filesystem;

CommandResult run_convert(const fs::path& in, const fs::path& out, const std::vector<std::string>& extra,
                          bool quiet) {
  std::vector<std::string> argv = {MOTE_CONVERT_BIN, in.string(), "-o", out.string()};
  if (quiet) argv.push_back("--quiet");
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run_command(argv);
}

std::unique_ptr<MoteFile> open_mote(const fs::path& path) {
  auto r = MoteFile::open(path.string());
  if (!r.is_ok()) {
    ADD_FAILURE() << "cannot open " << path << ": " << r.status().to_string();
    return nullptr;
  }
  return std::move(r).value();
}

std::string tensor_bytes(const MoteFile& file, const std::string& name) {
  const fb::Tensor* t = file.find_tensor(name);
  if (t == nullptr) return "";
  const uint8_t* p = file.segment_data(t->segment()) + t->offset();
  return std::string(reinterpret_cast<const char*>(p), t->size());
}

std::vector<float> tensor_f32(const MoteFile& file, const std::string& name) {
  const fb::Tensor* t = file.find_tensor(name);
  if (t == nullptr) return {};
  const WeightView v = file.view(*t);
  std::vector<float> out(size_t(v.rows * v.cols));
  for (int64_t r = 0; r < v.rows; ++r) dequantize_view_piece(v, r, 0, v.cols, out.data() + r * v.cols);
  return out;
}

void expect_convert_error(const fs::path& in, const fs::path& out_dir, const std::string& needle,
                          const std::vector<std::string>& extra) {
  fs::create_directories(out_dir);
  const CommandResult r = run_convert(in, out_dir / "out.mote", extra);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("mote-convert: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err << "\nexpected: " << needle;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "error must be one line: " << r.err;
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(out_dir)) left.push_back(e.path().filename().string());
  EXPECT_TRUE(left.empty()) << "left behind in " << out_dir << ": " << (left.empty() ? "" : left[0]);
}

}  // namespace mote::test
