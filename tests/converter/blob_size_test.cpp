// Blobs of any size are stored byte for byte with verifying checksums: tokenizer files of
// 1 MiB - 1, 1 MiB and 1 MiB + 1 bytes (the converter streams blobs in 1 MiB pieces; before
// 93e8cad every piece was written at offset 0 and anything over 1 MiB aborted the conversion),
// and the real 28 MB gpt-oss tokenizer.json.
#include <gtest/gtest.h>

#include "converter/ckpt_builder.h"
#include "converter/convert_util.h"

namespace mote::test {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMiB = size_t(1) << 20;

// Valid JSON of exactly `size` bytes: `json` followed by spaces (trailing whitespace is legal).
std::string padded(const std::string& json, size_t size) {
  std::string s = json;
  s.resize(size, ' ');
  return s;
}

void convert_and_check_blobs(const fs::path& dir, const std::vector<std::string>& names) {
  const CommandResult r = run_convert(dir / "hf", dir / "m.mote");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = open_mote(dir / "m.mote");
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->verify_checksums().is_ok());
  for (const std::string& name : names) {
    const std::string want = read_file_bytes(dir / "hf" / name);
    const std::string_view got = f->blob(name);
    EXPECT_EQ(got.size(), want.size()) << name;
    EXPECT_TRUE(got == want) << name << " differs";
  }
}

TEST(ConverterBlobs, SizesAroundTheOneMiBPiece) {
  for (size_t size : {kMiB - 1, kMiB, kMiB + 1}) {
    SCOPED_TRACE(size);
    const fs::path dir = fresh_temp_dir("blob_" + std::to_string(size));
    make_tiny().write(dir / "hf");
    const fs::path hf = dir / "hf";
    write_file_bytes(hf / "tokenizer.json", padded(read_file_bytes(hf / "tokenizer.json"), size));
    write_file_bytes(hf / "tokenizer_config.json", padded(read_file_bytes(hf / "tokenizer_config.json"), size + 1));
    write_file_bytes(hf / "generation_config.json", padded(read_file_bytes(hf / "generation_config.json"), 2 * size));
    convert_and_check_blobs(dir, {"tokenizer.json", "tokenizer_config.json", "generation_config.json"});
    fs::remove_all(dir);
  }
}

TEST(ConverterBlobs, RealGptOssTokenizer) {
  const fs::path src = fs::path(MOTE_SHARED_DATA_DIR) / "tokenizers" / "gpt-oss";
  if (!fs::exists(src / "tokenizer.json")) GTEST_SKIP() << "no " << src;
  const fs::path dir = fresh_temp_dir("blob_gpt_oss");
  make_tiny().write(dir / "hf");
  for (const char* name : {"tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(src / name, dir / "hf" / name, fs::copy_options::overwrite_existing);
  ASSERT_GT(fs::file_size(dir / "hf" / "tokenizer.json"), 27000000u);  // 28 MB, 27 pieces
  convert_and_check_blobs(dir, {"tokenizer.json", "tokenizer_config.json"});
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mote::test
