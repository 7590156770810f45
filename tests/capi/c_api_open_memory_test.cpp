// mote_model_open_memory through libmote.so only: the bundled demo model (converted at q8_0)
// opened from a memory buffer holding the file's bytes must match the same file opened from
// disk: identical greedy text and bit-identical logits (mote_session_eval), with every expert
// resident and under an expert budget (misses then copy from the buffer: no file, no O_DIRECT).
// A session saved from the file model loads into the memory model (same model identity). Bad
// buffers (truncated, bit-flipped, misaligned) and NULL arguments are one-line errors naming
// "memory buffer", never a crash.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "mote/mote.h"

namespace fs = std::filesystem;

namespace {

const fs::path kDemo = fs::path(MOTE_TEST_SOURCE_DIR) / ".." / "samples" / "models" / "mote-demo";
constexpr uint64_t kBudget = 512 << 10;  // 4 slots of 104 KiB for 16 experts per layer: misses

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<uint8_t, FreeDeleter>;

// A page-aligned copy of `bytes` (what an app's mapped asset looks like).
Buffer aligned_copy(const std::string& bytes) {
  void* p = nullptr;
  if (posix_memalign(&p, 4096, bytes.size() + 1) != 0) return nullptr;
  std::memcpy(p, bytes.data(), bytes.size());
  return Buffer(static_cast<uint8_t*>(p));
}

int collect(void* user, int32_t, const char* text, size_t len) {
  static_cast<std::string*>(user)->append(text, len);
  return 0;
}

class OpenMemoryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = mote::test::fresh_temp_dir("capi_open_memory");
    path_ = (dir_ / "demo.mote").string();
    auto r = mote::test::run_command({MOTE_CONVERT_BIN, kDemo.string(), "-o", path_, "--weights", "q8_0", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    bytes_ = mote::test::read_file_bytes(path_);
    ASSERT_GT(bytes_.size(), 4096u);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static mote_model_params params(uint64_t budget, int verify = 0) {
    mote_model_params p = mote_model_params_default();
    p.expert_budget_bytes = budget;
    p.verify_checksums = verify;
    p.n_threads = 2;
    return p;
  }
  static mote_session* session(mote_model* model) {
    mote_session_params p = mote_session_params_default();
    p.max_context = 256;
    mote_session* s = nullptr;
    EXPECT_EQ(mote_session_create(model, &p, &s), MOTE_OK) << mote_last_error();
    return s;
  }
  // Greedy text of 24 tokens after a fixed prompt.
  static std::string greedy_text(mote_model* model) {
    mote_session* s = session(model);
    mote_generate_params g = mote_generate_params_default();
    g.max_tokens = 24;
    g.ignore_eos = 1;
    const std::string prompt = "Once upon a time, the little robot";
    std::string text;
    EXPECT_EQ(mote_generate(s, prompt.data(), prompt.size(), &g, collect, &text), MOTE_OK) << mote_last_error();
    mote_session_destroy(s);
    return text;
  }
  // Logits at every position of a fixed id sequence.
  static std::vector<float> logits(mote_model* model) {
    mote_model_info info{};
    EXPECT_EQ(mote_model_get_info(model, &info), MOTE_OK);
    const std::vector<int32_t> ids = {0, 5, 17, 42, 99, 7, 3, 250, 12, 64, 31, 8};
    std::vector<float> out(ids.size() * size_t(info.vocab_size));
    mote_session* s = session(model);
    EXPECT_EQ(mote_session_eval(s, ids.data(), ids.size(), 1, out.data(), out.size()), MOTE_OK) << mote_last_error();
    mote_session_destroy(s);
    return out;
  }
  // Opens the buffer; expects failure and returns the message.
  static std::string open_error(const void* data, size_t size, int verify = 0) {
    const mote_model_params p = params(0, verify);
    mote_model* m = reinterpret_cast<mote_model*>(uintptr_t(1));
    const mote_status st = mote_model_open_memory(data, size, &p, &m);
    EXPECT_NE(st, MOTE_OK);
    EXPECT_EQ(m, nullptr);
    if (st == MOTE_OK) mote_model_destroy(m);
    return mote_last_error();
  }

  static inline fs::path dir_;
  static inline std::string path_;
  static inline std::string bytes_;
};

TEST_F(OpenMemoryTest, SameTextAndLogitsAsTheFileResidentAndUnderABudget) {
  for (const uint64_t budget : {uint64_t(0), kBudget}) {
    SCOPED_TRACE("budget " + std::to_string(budget));
    const mote_model_params p = params(budget);
    mote_model* file = nullptr;
    ASSERT_EQ(mote_model_open(path_.c_str(), &p, &file), MOTE_OK) << mote_last_error();
    Buffer buffer = aligned_copy(bytes_);
    mote_model* memory = nullptr;
    ASSERT_EQ(mote_model_open_memory(buffer.get(), bytes_.size(), &p, &memory), MOTE_OK) << mote_last_error();
    mote_model_info fi{}, mi{};
    ASSERT_EQ(mote_model_get_info(file, &fi), MOTE_OK);
    ASSERT_EQ(mote_model_get_info(memory, &mi), MOTE_OK);
    EXPECT_EQ(mi.file_bytes, fi.file_bytes);
    EXPECT_EQ(mi.file_bytes, bytes_.size());

    const std::string text = greedy_text(file);
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(greedy_text(memory), text);
    const std::vector<float> a = logits(file), b = logits(memory);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "logits differ";

    mote_expert_stats fs_{}, ms{};
    ASSERT_EQ(mote_model_get_expert_stats(file, &fs_), MOTE_OK);
    ASSERT_EQ(mote_model_get_expert_stats(memory, &ms), MOTE_OK);
    EXPECT_EQ(ms.slot_count, fs_.slot_count);
    EXPECT_EQ(ms.direct_io, 0) << "a memory buffer is never read with O_DIRECT";
    if (budget > 0) {
      EXPECT_GT(ms.misses, 0u) << "the budget must make the memory model read experts into slots";
      EXPECT_GT(ms.bytes_read, 0u);
    }
    mote_model_destroy(memory);
    mote_model_destroy(file);
  }
}

TEST_F(OpenMemoryTest, VerifiesChecksumsLikeAFile) {
  Buffer buffer = aligned_copy(bytes_);
  const mote_model_params p = params(0, /*verify=*/1);
  mote_model* m = nullptr;
  ASSERT_EQ(mote_model_open_memory(buffer.get(), bytes_.size(), &p, &m), MOTE_OK) << mote_last_error();
  mote_model_destroy(m);
  // A flipped bit in the first segment's bytes (the data area's start) only a checksum check sees.
  uint64_t data_offset = 0;
  std::memcpy(&data_offset, bytes_.data() + 32, 8);
  ASSERT_LT(data_offset + 1, bytes_.size());
  Buffer flipped = aligned_copy(bytes_);
  flipped.get()[data_offset + 1] ^= 0x10;
  const std::string err = open_error(flipped.get(), bytes_.size(), /*verify=*/1);
  EXPECT_EQ(err.rfind("memory buffer: ", 0), 0u) << err;
  EXPECT_NE(err.find("checksum mismatch in segment"), std::string::npos) << err;
}

TEST_F(OpenMemoryTest, SessionSavedFromTheFileLoadsIntoTheMemoryModel) {
  mote_model* file = nullptr;
  ASSERT_EQ(mote_model_open(path_.c_str(), nullptr, &file), MOTE_OK) << mote_last_error();
  Buffer buffer = aligned_copy(bytes_);
  mote_model* memory = nullptr;
  ASSERT_EQ(mote_model_open_memory(buffer.get(), bytes_.size(), nullptr, &memory), MOTE_OK) << mote_last_error();
  mote_session* a = session(file);
  const std::string prompt = "The weather today";
  mote_generate_params g = mote_generate_params_default();
  g.max_tokens = 8;
  g.ignore_eos = 1;
  ASSERT_EQ(mote_generate(a, prompt.data(), prompt.size(), &g, nullptr, nullptr), MOTE_OK) << mote_last_error();
  const std::string saved = (dir_ / "a.session").string();
  ASSERT_EQ(mote_session_save(a, saved.c_str()), MOTE_OK) << mote_last_error();
  mote_session* b = session(memory);
  ASSERT_EQ(mote_session_load(b, saved.c_str()), MOTE_OK) << mote_last_error();
  // Both continue identically.
  std::string ta, tb;
  ASSERT_EQ(mote_generate(a, " and", 4, &g, collect, &ta), MOTE_OK) << mote_last_error();
  ASSERT_EQ(mote_generate(b, " and", 4, &g, collect, &tb), MOTE_OK) << mote_last_error();
  EXPECT_EQ(ta, tb);
  // And back: saved from the memory model, loaded into the file model.
  const std::string saved_b = (dir_ / "b.session").string();
  ASSERT_EQ(mote_session_save(b, saved_b.c_str()), MOTE_OK) << mote_last_error();
  ASSERT_EQ(mote_session_load(a, saved_b.c_str()), MOTE_OK) << mote_last_error();
  mote_session_destroy(a);
  mote_session_destroy(b);
  mote_model_destroy(memory);
  mote_model_destroy(file);
}

TEST_F(OpenMemoryTest, TruncatedBuffersAreOneLineErrorsNamingTheBuffer) {
  Buffer buffer = aligned_copy(bytes_);
  const size_t sizes[] = {0, 10, 63, 64, 4096, bytes_.size() / 2, bytes_.size() - 1};
  for (const size_t size : sizes) {
    const std::string err = open_error(buffer.get(), size);
    EXPECT_EQ(err.rfind("memory buffer: ", 0), 0u) << size << ": " << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
  EXPECT_NE(open_error(buffer.get(), 10).find("smaller than the 64-byte header"), std::string::npos);
  EXPECT_NE(open_error(buffer.get(), bytes_.size() - 1).find("truncated or appended"), std::string::npos);
}

TEST_F(OpenMemoryTest, BitFlippedBuffersAreOneLineErrorsNamingTheField) {
  uint64_t metadata_offset = 0, metadata_size = 0;
  std::memcpy(&metadata_offset, bytes_.data() + 16, 8);
  std::memcpy(&metadata_size, bytes_.data() + 24, 8);
  ASSERT_GT(metadata_size, 0u);
  struct Case {
    size_t offset;
    uint8_t mask;
    const char* words;
  };
  const Case cases[] = {
      {0, 0x01, "bad magic"},
      {8, 0x40, "format version"},
      {40, 0x01, "header says"},  // file_size
      {size_t(metadata_offset + metadata_size / 2), 0x08, "metadata checksum mismatch"},
  };
  for (const Case& c : cases) {
    Buffer flipped = aligned_copy(bytes_);
    flipped.get()[c.offset] ^= c.mask;
    const std::string err = open_error(flipped.get(), bytes_.size());
    EXPECT_EQ(err.rfind("memory buffer: ", 0), 0u) << err;
    EXPECT_NE(err.find(c.words), std::string::npos) << "byte " << c.offset << ": " << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  }
}

TEST_F(OpenMemoryTest, NullAndMisalignedArguments) {
  Buffer buffer = aligned_copy(bytes_);
  mote_model* m = nullptr;
  EXPECT_EQ(mote_model_open_memory(buffer.get(), bytes_.size(), nullptr, nullptr), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mote_last_error()).find("out_model is NULL"), std::string::npos) << mote_last_error();
  m = reinterpret_cast<mote_model*>(uintptr_t(1));
  EXPECT_EQ(mote_model_open_memory(nullptr, bytes_.size(), nullptr, &m), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(m, nullptr);
  EXPECT_NE(std::string(mote_last_error()).find("data is NULL"), std::string::npos) << mote_last_error();
  // Misaligned: the same bytes one past an aligned start.
  void* raw = nullptr;
  ASSERT_EQ(posix_memalign(&raw, 4096, bytes_.size() + 1), 0);
  Buffer shifted(static_cast<uint8_t*>(raw));
  std::memcpy(shifted.get() + 1, bytes_.data(), bytes_.size());
  const std::string err = open_error(shifted.get() + 1, bytes_.size());
  EXPECT_EQ(err.rfind("memory buffer: ", 0), 0u) << err;
  EXPECT_NE(err.find("aligned"), std::string::npos) << err;
  // Bad params are checked like mote_model_open's, naming this function.
  mote_model_params p = mote_model_params_default();
  p.n_threads = -1;
  EXPECT_EQ(mote_model_open_memory(buffer.get(), bytes_.size(), &p, &m), MOTE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mote_last_error()).find("mote_model_open_memory: n_threads"), std::string::npos)
      << mote_last_error();
}

}  // namespace
