// GGUF version 3 encoding: the key/value metadata and tensor table that llama.cpp reads
// (layout as described by ggml's gguf.h; all integers little-endian):
//   "GGUF", u32 version 3, i64 tensor count, i64 key count,
//   keys:    string key, u32 value type, value (arrays: u32 element type, u64 count, elements),
//   tensors: string name, u32 n_dims, i64 ne[n_dims] (ne[0] = the innermost, contiguous dimension),
//            u32 ggml type, u64 offset of the data relative to the data area,
//   padding to `alignment`, then the data area (each tensor starts at a multiple of alignment).
// Strings are a u64 byte count and the bytes, no terminator.
// Not thread-safe; owns its buffers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mote::gguf {

// gguf_type (value types of metadata).
enum class ValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9,
  U64 = 10, I64 = 11, F64 = 12,
};

// ggml_type values of the tensor types this tool writes.
enum class GgmlType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, BF16 = 30 };

inline constexpr uint32_t kVersion = 3;
inline constexpr uint32_t kAlignment = 32;  // GGUF_DEFAULT_ALIGNMENT (no general.alignment key)

const char* ggml_type_name(GgmlType type);
// Elements per block and bytes per block (1 and the element size for plain types).
int64_t ggml_block_size(GgmlType type);
int64_t ggml_block_bytes(GgmlType type);
// Bytes of a tensor of `ne` elements (ne[0] must be a multiple of the block size).
uint64_t ggml_tensor_bytes(GgmlType type, const std::vector<int64_t>& ne);

// Metadata, encoded as it is added (keys in insertion order; the caller keeps them unique).
class Metadata {
 public:
  void add_u32(std::string_view key, uint32_t v);
  void add_i32(std::string_view key, int32_t v);
  void add_f32(std::string_view key, float v);
  void add_bool(std::string_view key, bool v);
  void add_string(std::string_view key, std::string_view v);
  void add_string_array(std::string_view key, const std::vector<std::string>& v);
  void add_i32_array(std::string_view key, const std::vector<int32_t>& v);

  uint64_t count() const { return count_; }
  const std::string& bytes() const { return bytes_; }

 private:
  void key(std::string_view k, ValueType type);
  std::string bytes_;
  uint64_t count_ = 0;
};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // ggml order: ne[0] = columns (contiguous), then rows, then experts
  GgmlType type = GgmlType::F32;
  uint64_t bytes = 0;       // ggml_tensor_bytes(type, ne)
  uint64_t offset = 0;      // in the data area; set by encode_header
};

// Assigns every tensor's offset (in order, each aligned to kAlignment) and returns the whole
// header: magic .. tensor table .. padding, so the data area starts at the returned size.
// *data_bytes receives the size of the data area (the last tensor padded to kAlignment).
std::string encode_header(const Metadata& meta, std::vector<TensorInfo>& tensors, uint64_t* data_bytes);

}  // namespace mote::gguf
