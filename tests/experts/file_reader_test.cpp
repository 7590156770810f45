// platforms/cpu/file_reader: exact reads (O_DIRECT and buffered, aligned and unaligned), a read
// past the end of a truncated file is an error naming the file and offset, missing files.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "common/test_util.h"
#include "cpu/file_reader.h"

namespace fs = std::filesystem;

namespace mote {
namespace {

class FileReaderTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    dir_ = test::fresh_temp_dir(std::string("file_reader") + (GetParam() ? "_direct" : "_buffered"));
    path_ = dir_ / "data.bin";
    for (int i = 0; i < 20000; ++i) bytes_ += char(i * 7 + (i >> 8));
    test::write_file_bytes(path_, bytes_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_, path_;
  std::string bytes_;
};

TEST_P(FileReaderTest, ReadsExactRanges) {
  auto r = FileReader::open(path_.string(), GetParam());
  ASSERT_TRUE(r) << r.status().to_string();
  auto buf = AlignedBuffer::allocate(16384);
  ASSERT_TRUE(buf);
  // Aligned offset and buffer (O_DIRECT when enabled), a size that is not a block multiple.
  ASSERT_TRUE((*r)->read_exact(4096, 5000, buf->data(), buf->size()));
  EXPECT_EQ(std::memcmp(buf->data(), bytes_.data() + 4096, 5000), 0);
  // The tail segment: the aligned length runs past the end of the file.
  ASSERT_TRUE((*r)->read_exact(16384, 20000 - 16384, buf->data(), buf->size()));
  EXPECT_EQ(std::memcmp(buf->data(), bytes_.data() + 16384, 20000 - 16384), 0);
  // Unaligned offset and buffer: buffered.
  ASSERT_TRUE((*r)->read_exact(123, 777, buf->data() + 1, buf->size() - 1));
  EXPECT_EQ(std::memcmp(buf->data() + 1, bytes_.data() + 123, 777), 0);
}

TEST_P(FileReaderTest, TruncatedFileIsAnErrorNamingFileAndOffset) {
  auto r = FileReader::open(path_.string(), GetParam());
  ASSERT_TRUE(r);
  ASSERT_EQ(::truncate(path_.c_str(), 10000), 0);
  auto buf = AlignedBuffer::allocate(8192);
  Status st = (*r)->read_exact(8192, 4096, buf->data(), buf->size());
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_NE(st.message().find(path_.string()), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("offset 8192"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("end of file"), std::string::npos) << st.message();
  ASSERT_EQ(::truncate(path_.c_str(), 20000), 0);  // restored size: reads work again
  EXPECT_TRUE((*r)->read_exact(8192, 4096, buf->data(), buf->size()));
}

TEST_P(FileReaderTest, MissingFileIsAnError) {
  auto r = FileReader::open((dir_ / "nope.bin").string(), GetParam());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find("nope.bin"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Modes, FileReaderTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Direct" : "Buffered"; });

}  // namespace
}  // namespace mote
