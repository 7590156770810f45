// A corrupt or truncated .mote file is a clear error status naming the problem, never a crash:
// checked in-process (MoteFile::open) and through the CLI (exit code 1, one-line message).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "common/test_util.h"
#include "format/checksum.h"
#include "format/header.h"
#include "format/mote_file.h"

namespace fs = std::filesystem;
using namespace mote;
using mote::test::read_file_bytes;
using mote::test::run_command;
using mote::test::write_file_bytes;

namespace {

class BadMoteFileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = mote::test::fresh_temp_dir("bad_mote_file");
    const fs::path good = dir_ / "good.mote";
    auto r = run_command({MOTE_CONVERT_BIN, std::string(MOTE_FIXTURES_DIR) + "/ds3_tiny", "-o",
                          good.string(), "--weights", "q8_0", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    good_ = read_file_bytes(good);
  }

  FileHeader header_of(const std::string& bytes) {
    FileHeader h;
    std::memcpy(&h, bytes.data(), sizeof(h));
    return h;
  }
  // Rewrites the header's metadata checksum so a metadata edit reaches the deeper checks.
  void fix_metadata_checksum(std::string& bytes) {
    FileHeader h = header_of(bytes);
    h.metadata_checksum = checksum64(bytes.data() + h.metadata_offset, h.metadata_size);
    std::memcpy(bytes.data(), &h, sizeof(h));
  }

  // Writes `bytes`, expects MoteFile::open and `mote inspect` to fail with `needle` in the message.
  void expect_rejected(const std::string& name, const std::string& bytes, const std::string& needle) {
    const fs::path path = dir_ / (name + ".mote");
    write_file_bytes(path, bytes);
    auto opened = MoteFile::open(path.string());
    ASSERT_FALSE(opened.is_ok()) << name;
    EXPECT_NE(opened.status().message().find(needle), std::string::npos)
        << name << ": " << opened.status().to_string();
    EXPECT_NE(opened.status().message().find(path.string()), std::string::npos) << "names the file";
    auto r = run_command({MOTE_CLI_BIN, "inspect", path.string()});
    EXPECT_EQ(r.exit_code, 1) << name << " (a signal shows as 128+N)";
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one-line error: " << r.err;
  }

  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static inline fs::path dir_;
  static inline std::string good_;
};

TEST_F(BadMoteFileTest, GoodFileOpensAndChecksumsVerify) {
  const fs::path path = dir_ / "good_copy.mote";
  write_file_bytes(path, good_);
  auto opened = MoteFile::open(path.string());
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  EXPECT_TRUE((*opened)->verify_checksums().is_ok());
}

TEST_F(BadMoteFileTest, EmptyAndTinyFiles) {
  expect_rejected("empty", "", "smaller than the 64-byte header");
  expect_rejected("tiny", good_.substr(0, 10), "smaller than the 64-byte header");
}

TEST_F(BadMoteFileTest, BadMagicAndVersion) {
  std::string bytes = good_;
  bytes[0] = 'X';
  expect_rejected("magic", bytes, "bad magic");
  bytes = good_;
  FileHeader h = header_of(bytes);
  h.format_version = 99;
  std::memcpy(bytes.data(), &h, sizeof(h));
  expect_rejected("version", bytes, "format version 99");
}

TEST_F(BadMoteFileTest, TruncatedAtEveryRegion) {
  const FileHeader h = header_of(good_);
  for (uint64_t cut : {uint64_t(64), h.metadata_offset + h.metadata_size / 2, h.data_offset,
                       uint64_t(good_.size()) - 1}) {
    expect_rejected("truncated_" + std::to_string(cut), good_.substr(0, cut), "truncated");
  }
}

TEST_F(BadMoteFileTest, MetadataCorruption) {
  const FileHeader h = header_of(good_);
  std::string bytes = good_;
  bytes[h.metadata_offset + h.metadata_size / 2] ^= 0x5a;
  expect_rejected("metadata_flip", bytes, "metadata checksum mismatch");
  // Same flip with a matching checksum must still fail verification or load safely; a garbage
  // root offset is the harshest case.
  bytes = good_;
  uint32_t root = 0xfffffff0u;
  std::memcpy(bytes.data() + h.metadata_offset, &root, 4);
  fix_metadata_checksum(bytes);
  expect_rejected("metadata_root", bytes, "FlatBuffer fails verification");
}

TEST_F(BadMoteFileTest, SegmentOutsideTheFile) {
  // Find the first segment struct {offset, size, checksum} inside the FlatBuffer and make its
  // size run past the end of the data area.
  const FileHeader h = header_of(good_);
  const fs::path path = dir_ / "probe.mote";
  write_file_bytes(path, good_);
  auto opened = MoteFile::open(path.string());
  ASSERT_TRUE(opened.is_ok());
  const fb::Segment* seg = (*opened)->model().segments()->Get(0);
  const uint64_t pattern[3] = {seg->offset(), seg->size(), seg->checksum()};
  std::string bytes = good_;
  const size_t at = bytes.find(std::string(reinterpret_cast<const char*>(pattern), 24), h.metadata_offset);
  ASSERT_NE(at, std::string::npos);
  const uint64_t huge = ~uint64_t(0) - 8;  // offset + size overflows: must not wrap around
  std::memcpy(bytes.data() + at + 8, &huge, 8);
  fix_metadata_checksum(bytes);
  expect_rejected("segment_bounds", bytes, "lies outside the data area");
}

TEST_F(BadMoteFileTest, SegmentChecksumMismatchIsFoundOnDemand) {
  const FileHeader h = header_of(good_);
  std::string bytes = good_;
  bytes[h.data_offset + 100] ^= 0x01;
  const fs::path path = dir_ / "data_flip.mote";
  write_file_bytes(path, bytes);
  auto opened = MoteFile::open(path.string());
  ASSERT_TRUE(opened.is_ok()) << "weights are only checked on demand";
  const Status st = (*opened)->verify_checksums();
  EXPECT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("checksum mismatch in segment"), std::string::npos) << st.message();
}

TEST_F(BadMoteFileTest, MissingFile) {
  auto opened = MoteFile::open((dir_ / "does_not_exist.mote").string());
  ASSERT_FALSE(opened.is_ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kNotFound);
}

}  // namespace
