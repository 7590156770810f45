// The three DataLoaders (loader/data_loader.h) on the same bytes: mapped file, pread (buffered
// and O_DIRECT) and memory (borrowed and copied). Odd offsets and lengths read the right bytes;
// ranges outside the data are kOutOfRange errors naming the loader; view() is in range only;
// read_at from many threads at once gives every thread its bytes; reader() reads the same bytes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/test_util.h"
#include "cpu/file_reader.h"
#include "loader/data_loader.h"

namespace fs = std::filesystem;
using namespace mote;

namespace {

enum class Kind { kMapped, kPreadBuffered, kPreadDirect, kMemory, kMemoryCopy };

constexpr uint64_t kSize = 3 * 4096 + 123;  // not a multiple of the page size

std::string pattern() {
  std::string s(kSize, '\0');
  for (uint64_t i = 0; i < kSize; ++i) s[i] = char((i * 131 + i / 7) & 0xff);
  return s;
}

class DataLoaderTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    bytes_ = pattern();
    dir_ = mote::test::fresh_temp_dir("data_loader_" + std::to_string(int(GetParam())));
    path_ = dir_ / "data.bin";
    mote::test::write_file_bytes(path_, bytes_);
    // An aligned buffer for the borrowing memory loader (kMemoryLoaderAlign).
    ASSERT_EQ(posix_memalign(&buffer_, 4096, kSize), 0);
    std::memcpy(buffer_, bytes_.data(), kSize);
    auto loader = open();
    ASSERT_TRUE(loader.is_ok()) << loader.status().to_string();
    loader_ = std::move(loader).value();
  }
  void TearDown() override {
    loader_.reset();
    std::free(buffer_);
    fs::remove_all(dir_);
  }
  Result<std::unique_ptr<DataLoader>> open() {
    switch (GetParam()) {
      case Kind::kMapped: return open_mapped_file(path_.string());
      case Kind::kPreadBuffered: return open_pread_file(path_.string(), false);
      case Kind::kPreadDirect: return open_pread_file(path_.string(), true);
      case Kind::kMemory: return open_memory(buffer_, kSize);
      case Kind::kMemoryCopy: return open_memory(bytes_.data() + 1, kSize - 1, /*copy=*/true);
    }
    return internal_error("kind");
  }
  uint64_t size() const { return GetParam() == Kind::kMemoryCopy ? kSize - 1 : kSize; }
  // The expected byte at loader offset i.
  char at(uint64_t i) const { return bytes_[GetParam() == Kind::kMemoryCopy ? i + 1 : i]; }

  std::string bytes_;
  fs::path dir_, path_;
  void* buffer_ = nullptr;
  std::unique_ptr<DataLoader> loader_;
};

TEST_P(DataLoaderTest, SizeNameAndKind) {
  EXPECT_EQ(loader_->size(), size());
  const bool memory = GetParam() == Kind::kMemory || GetParam() == Kind::kMemoryCopy;
  EXPECT_EQ(loader_->name(), memory ? "memory buffer" : path_.string());
  EXPECT_EQ(loader_->kind(), memory ? LoaderKind::kMemory
                                    : GetParam() == Kind::kMapped ? LoaderKind::kMappedFile : LoaderKind::kPread);
  if (GetParam() != Kind::kPreadDirect) {
    EXPECT_FALSE(loader_->direct_io());
  }
  EXPECT_TRUE(loader_->check().is_ok());
}

TEST_P(DataLoaderTest, OddOffsetsAndLengthsReadTheRightBytes) {
  const uint64_t cases[][2] = {{0, 1}, {1, 7}, {3, 4095}, {4095, 4098}, {4096, 4096}, {7, size() - 7},
                               {size() - 1, 1}, {0, size()}, {size(), 0}, {123, 0}};
  for (const auto& c : cases) {
    std::vector<char> got(c[1] + 1, 'x');
    ASSERT_TRUE(loader_->read_at(c[0], got.data(), c[1]).is_ok()) << c[0] << " +" << c[1];
    for (uint64_t i = 0; i < c[1]; ++i) ASSERT_EQ(got[i], at(c[0] + i)) << "offset " << c[0] + i;
    EXPECT_EQ(got[c[1]], 'x') << "wrote past len without capacity";
  }
}

TEST_P(DataLoaderTest, AlignedReadWithCapacityMayUseDirectIo) {
  auto buf = AlignedBuffer::allocate(2 * 4096);
  ASSERT_TRUE(buf.is_ok());
  ASSERT_TRUE(loader_->read_at(4096, buf->data(), 5000, buf->size()).is_ok());
  for (uint64_t i = 0; i < 5000; ++i) ASSERT_EQ(char(buf->data()[i]), at(4096 + i)) << i;
}

TEST_P(DataLoaderTest, OutOfRangeReadsAreErrorsNamingTheLoader) {
  std::vector<char> got(64);
  const uint64_t cases[][2] = {{size(), 1}, {size() - 3, 4}, {size() + 100, 0}, {~uint64_t(0), 2}, {1, ~uint64_t(0)}};
  for (const auto& c : cases) {
    const Status st = loader_->read_at(c[0], got.data(), c[1]);
    ASSERT_FALSE(st.is_ok()) << c[0] << " +" << c[1];
    EXPECT_EQ(st.code(), StatusCode::kOutOfRange);
    EXPECT_NE(st.message().find(loader_->name()), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("outside"), std::string::npos) << st.message();
  }
}

TEST_P(DataLoaderTest, ViewIsInRangeOnlyAndOnlyWhereTheBytesAreInMemory) {
  const uint8_t* whole = loader_->view(0, size());
  if (GetParam() == Kind::kPreadBuffered || GetParam() == Kind::kPreadDirect) {
    EXPECT_EQ(whole, nullptr);
    return;
  }
  ASSERT_NE(whole, nullptr);
  const uint8_t* part = loader_->view(4097, 33);
  ASSERT_EQ(part, whole + 4097);
  for (uint64_t i = 0; i < 33; ++i) EXPECT_EQ(char(part[i]), at(4097 + i));
  EXPECT_EQ(loader_->view(size() - 1, 2), nullptr);
  EXPECT_EQ(loader_->view(~uint64_t(0), 1), nullptr);
  if (GetParam() == Kind::kMemory) {
    EXPECT_EQ(whole, buffer_) << "a borrowing memory loader copies nothing";
  }
  if (GetParam() == Kind::kMemoryCopy) {
    EXPECT_NE(whole, reinterpret_cast<const uint8_t*>(bytes_.data() + 1));
  }
}

TEST_P(DataLoaderTest, ConcurrentReadsFromThreads) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<int> bad(kThreads, 0);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::vector<char> got(4096 + 64);
      for (int i = 0; i < 200; ++i) {
        const uint64_t len = 1 + uint64_t(t * 977 + i * 61) % 4096;
        const uint64_t off = uint64_t(t * 389 + i * 1031) % (size() - len);
        if (!loader_->read_at(off, got.data(), len).is_ok()) {
          ++bad[size_t(t)];
          continue;
        }
        for (uint64_t k = 0; k < len; ++k)
          if (got[k] != at(off + k)) {
            ++bad[size_t(t)];
            break;
          }
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(bad[size_t(t)], 0) << "thread " << t;
}

TEST_P(DataLoaderTest, ReaderReadsTheSameBytes) {
  auto reader = loader_->reader(/*direct_io=*/false);
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  EXPECT_EQ((*reader)->size(), size());
  EXPECT_EQ((*reader)->name(), loader_->name());
  const bool memory = GetParam() == Kind::kMemory || GetParam() == Kind::kMemoryCopy;
  EXPECT_EQ((*reader)->kind(), memory ? LoaderKind::kMemory : LoaderKind::kPread) << "file readers bypass the mapping";
  std::vector<char> got(1000);
  ASSERT_TRUE((*reader)->read_at(17, got.data(), got.size()).is_ok());
  for (uint64_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], at(17 + i));
  if (GetParam() == Kind::kMemory) {
    EXPECT_EQ((*reader)->view(0, 1), static_cast<const uint8_t*>(buffer_));
  }
}

std::string kind_name(const ::testing::TestParamInfo<Kind>& info) {
  static const char* const kNames[] = {"Mapped", "PreadBuffered", "PreadDirect", "Memory", "MemoryCopy"};
  return kNames[int(info.param)];
}

INSTANTIATE_TEST_SUITE_P(Loaders, DataLoaderTest,
                         ::testing::Values(Kind::kMapped, Kind::kPreadBuffered, Kind::kPreadDirect, Kind::kMemory,
                                           Kind::kMemoryCopy),
                         kind_name);

TEST(DataLoaderOpen, MissingFilesAreNotFound) {
  const std::string missing = (fs::path(MOTE_TEST_TMP) / "no-such-loader-file.bin").string();
  auto mapped = open_mapped_file(missing);
  ASSERT_FALSE(mapped.is_ok());
  EXPECT_EQ(mapped.status().code(), StatusCode::kNotFound);
  auto pread = open_pread_file(missing);
  ASSERT_FALSE(pread.is_ok());
  EXPECT_EQ(pread.status().code(), StatusCode::kNotFound);
  EXPECT_NE(pread.status().message().find(missing), std::string::npos);
}

TEST(DataLoaderOpen, MemoryArgumentsAreChecked) {
  auto null_data = open_memory(nullptr, 10);
  ASSERT_FALSE(null_data.is_ok());
  EXPECT_EQ(null_data.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(null_data.status().message().find("memory buffer"), std::string::npos);
  alignas(64) static char block[128] = {};
  auto misaligned = open_memory(block + 1, 64);
  ASSERT_FALSE(misaligned.is_ok());
  EXPECT_EQ(misaligned.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(misaligned.status().message().find("aligned"), std::string::npos);
  auto copied = open_memory(block + 1, 64, /*copy=*/true);
  ASSERT_TRUE(copied.is_ok()) << "a copy may start anywhere";
  auto empty = open_memory(block, 0);
  ASSERT_TRUE(empty.is_ok());
  EXPECT_EQ((*empty)->size(), 0u);
  char c = 0;
  EXPECT_EQ((*empty)->read_at(0, &c, 1).code(), StatusCode::kOutOfRange);
}

}  // namespace
