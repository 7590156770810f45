// Unit tests of the safetensors reader (converter/hf/safetensors.h) and the sharded checkpoint.
#include <gtest/gtest.h>

#include <string>

#include "common/test_util.h"
#include "converter/ckpt_builder.h"
#include "hf/checkpoint.h"
#include "hf/error.h"
#include "hf/safetensors.h"

namespace mote::test {
namespace {

using convert::ConvertError;
using convert::SafetensorsFile;
using convert::StDtype;
namespace fs = std::filesystem;

// Runs fn, expecting a ConvertError whose message contains `needle`.
template <typename Fn>
void expect_error(Fn fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const ConvertError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

std::vector<StTensor> two_tensors() {
  return {{"a.weight", "F32", {2, 3}, encode_floats({1, 2, 3, 4, 5, 6}, "F32"), {}, 0},
          {"b.bias", "BF16", {4}, encode_floats({1, -2, 0.5f, 8}, "BF16"), {}, 0}};
}

TEST(ConverterSafetensors, ReadsAGoodFile) {
  const fs::path dir = fresh_temp_dir("st_good");
  write_safetensors(dir / "m.safetensors", two_tensors());
  auto f = SafetensorsFile::open((dir / "m.safetensors").string());
  ASSERT_EQ(f->tensors().size(), 2u);
  const auto* a = f->find("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, StDtype::F32);
  EXPECT_EQ(a->shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(a->size(), 24u);
  float v[6];
  f->read(*a, 0, v, sizeof(v));
  EXPECT_EQ(v[5], 6.0f);
  const auto* b = f->find("b.bias");
  ASSERT_NE(b, nullptr);
  uint16_t h[4];
  f->read(*b, 0, h, sizeof(h));
  EXPECT_EQ(h[1], 0xc000);  // bf16(-2)
  EXPECT_EQ(f->find("missing"), nullptr);
  EXPECT_EQ(f->find("__metadata__"), nullptr);
}

TEST(ConverterSafetensors, RejectsFileShorterThanHeaderLength) {
  const fs::path p = fresh_temp_dir("st_short") / "m.safetensors";
  write_file_bytes(p, std::string("\x10\x00\x00", 3));
  expect_error([&] { SafetensorsFile::open(p.string()); }, "shorter than the 8-byte header length");
}

TEST(ConverterSafetensors, RejectsTruncatedHeader) {
  const fs::path p = fresh_temp_dir("st_trunc_header") / "m.safetensors";
  write_safetensors(p, two_tensors());
  std::string bytes = read_file_bytes(p);
  write_file_bytes(p, bytes.substr(0, 20));  // cut inside the JSON header
  expect_error([&] { SafetensorsFile::open(p.string()); }, "exceeds the file size");
}

TEST(ConverterSafetensors, RejectsHeaderLengthBeyondFile) {
  const fs::path p = fresh_temp_dir("st_len") / "m.safetensors";
  std::string bytes(8, '\0');
  const uint64_t huge = uint64_t(1) << 40;
  std::memcpy(bytes.data(), &huge, 8);
  write_file_bytes(p, bytes + "{}");
  expect_error([&] { SafetensorsFile::open(p.string()); }, "header length 1099511627776 exceeds the file size");
}

TEST(ConverterSafetensors, RejectsMalformedJson) {
  const fs::path p = fresh_temp_dir("st_json") / "m.safetensors";
  write_raw_safetensors(p, R"({"a": {"dtype": "F32", "shape": [1], )", std::string(4, '\0'));
  expect_error([&] { SafetensorsFile::open(p.string()); }, "malformed safetensors header");
  write_raw_safetensors(p, R"([1, 2])", "");
  expect_error([&] { SafetensorsFile::open(p.string()); }, "root is not an object");
  write_raw_safetensors(p, R"({"a": {"dtype": "F32", "shape": "x", "data_offsets": [0, 4]}})", std::string(4, '\0'));
  expect_error([&] { SafetensorsFile::open(p.string()); }, "'shape'");
  write_raw_safetensors(p, R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", std::string(4, '\0'));
  expect_error([&] { SafetensorsFile::open(p.string()); }, "data_offsets");
  write_raw_safetensors(p, R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", std::string(4, '\0'));
  expect_error([&] { SafetensorsFile::open(p.string()); }, "non-negative integer");
}

TEST(ConverterSafetensors, RejectsOffsetsOutsideTheDataArea) {
  const fs::path p = fresh_temp_dir("st_offsets") / "m.safetensors";
  write_raw_safetensors(p, R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", std::string(8, '\0'));
  expect_error([&] { SafetensorsFile::open(p.string()); }, "lie outside the data area (8 bytes");
  write_raw_safetensors(p, R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})", std::string(8, '\0'));
  expect_error([&] { SafetensorsFile::open(p.string()); }, "lie outside the data area");
  write_raw_safetensors(p, R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [18446744073709551615, 18446744073709551615]}})",
                        std::string(8, '\0'));
  expect_error([&] { SafetensorsFile::open(p.string()); }, "lie outside the data area");
}

TEST(ConverterSafetensors, RejectsOffsetsInconsistentWithShape) {
  const fs::path p = fresh_temp_dir("st_incons") / "m.safetensors";
  write_raw_safetensors(p, R"({"a": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 8]}})", std::string(16, '\0'));
  expect_error([&] { SafetensorsFile::open(p.string()); }, "span 8 bytes but dtype BF16 and shape [2,3] need 12");
  // A shape whose byte count overflows 64 bits.
  write_raw_safetensors(p, R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})",
                        std::string(16, '\0'));
  expect_error([&] { SafetensorsFile::open(p.string()); }, "overflow");
  write_raw_safetensors(p, R"({"a": {"dtype": "F32", "shape": [4611686018427387904], "data_offsets": [0, 8]}})",
                        std::string(16, '\0'));
  expect_error([&] { SafetensorsFile::open(p.string()); }, "more than 2^64");
}

TEST(ConverterSafetensors, RejectsUnknownDtype) {
  const fs::path p = fresh_temp_dir("st_dtype") / "m.safetensors";
  write_raw_safetensors(p, R"({"w": {"dtype": "Q7_K", "shape": [4], "data_offsets": [0, 4]}})", std::string(8, '\0'));
  expect_error([&] { SafetensorsFile::open(p.string()); }, "unsupported dtype Q7_K for tensor w in file " + p.string());
}

TEST(ConverterSafetensors, ParsesEveryKnownDtypeAndEmptyTensors) {
  const std::string json =
      R"({"a": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]},
          "b": {"dtype": "F8_E4M3", "shape": [3], "data_offsets": [16, 19]},
          "c": {"dtype": "F32", "shape": [0, 5], "data_offsets": [19, 19]},
          "__metadata__": {"k": "v"}})";
  auto t = convert::parse_safetensors_header(json, 19, "x");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].dtype, StDtype::I64);
  EXPECT_FALSE(convert::st_dtype_decodable(StDtype::I64));
  EXPECT_TRUE(convert::st_dtype_decodable(StDtype::F8_E4M3));
  EXPECT_EQ(t[2].size(), 0u);
}

TEST(ConverterSafetensors, ShortReadAfterTruncationIsAnError) {
  const fs::path p = fresh_temp_dir("st_read") / "m.safetensors";
  write_safetensors(p, two_tensors());
  auto f = SafetensorsFile::open(p.string());
  fs::resize_file(p, fs::file_size(p) - 4);  // cut after open: the read must fail cleanly
  uint16_t h[4];
  expect_error([&] { f->read(*f->find("b.bias"), 0, h, sizeof(h)); }, "unexpected end of file");
}

TEST(ConverterCheckpoint, ReadsShardedIndex) {
  const fs::path dir = fresh_temp_dir("ck_sharded");
  TinyCheckpoint ck = make_tiny();
  ck.write(dir, 3);
  auto c = convert::Checkpoint::open(dir.string());
  EXPECT_EQ(c->file_count(), 3u);
  EXPECT_EQ(c->tensors().size(), ck.tensors.size());
  EXPECT_TRUE(c->find("lm_head.weight"));
  EXPECT_FALSE(c->find("nope"));
}

TEST(ConverterCheckpoint, IndexNamingAMissingTensorOrBadShard) {
  const fs::path dir = fresh_temp_dir("ck_bad_index");
  write_safetensors(dir / "a.safetensors", two_tensors());
  write_file_bytes(dir / "model.safetensors.index.json", R"({"weight_map": {"a.weight": "a.safetensors", "zzz": "a.safetensors"}})");
  expect_error([&] { convert::Checkpoint::open(dir.string()); }, "tensor zzz listed in");
  write_file_bytes(dir / "model.safetensors.index.json", R"({"weight_map": {"a.weight": "../a.safetensors"}})");
  expect_error([&] { convert::Checkpoint::open(dir.string()); }, "invalid shard");
  write_file_bytes(dir / "model.safetensors.index.json", R"({"weight_map": {"a.weight": "b.safetensors"}})");
  expect_error([&] { convert::Checkpoint::open(dir.string()); }, "cannot open");
  write_file_bytes(dir / "model.safetensors.index.json", R"({"weight_map": 3})");
  expect_error([&] { convert::Checkpoint::open(dir.string()); }, "weight_map");
  fs::remove(dir / "model.safetensors.index.json");
  expect_error([&] { convert::Checkpoint::open(dir.string()); }, "no model.safetensors");
}

}  // namespace
}  // namespace mote::test
