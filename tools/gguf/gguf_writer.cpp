#include "gguf_writer.h"

#include <cstring>
#include <stdexcept>

namespace mote::gguf {
namespace {

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian hosts only (x86-64, aarch64), as the .mote format
  out.append(b, sizeof(T));
}

void put_string(std::string& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out.append(s.data(), s.size());
}

uint64_t align_up(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

}  // namespace

const char* ggml_type_name(GgmlType type) {
  switch (type) {
    case GgmlType::F32: return "F32";
    case GgmlType::F16: return "F16";
    case GgmlType::Q4_0: return "Q4_0";
    case GgmlType::Q8_0: return "Q8_0";
    case GgmlType::BF16: return "BF16";
  }
  return "?";
}

int64_t ggml_block_size(GgmlType type) {
  return type == GgmlType::Q4_0 || type == GgmlType::Q8_0 ? 32 : 1;
}

int64_t ggml_block_bytes(GgmlType type) {
  switch (type) {
    case GgmlType::F32: return 4;
    case GgmlType::F16: return 2;
    case GgmlType::BF16: return 2;
    case GgmlType::Q4_0: return 18;  // f16 d + 16 bytes of nibbles
    case GgmlType::Q8_0: return 34;  // f16 d + 32 int8
  }
  return 0;
}

uint64_t ggml_tensor_bytes(GgmlType type, const std::vector<int64_t>& ne) {
  if (ne.empty() || ne[0] % ggml_block_size(type) != 0)
    throw std::invalid_argument("gguf: row length not a multiple of the block size");
  uint64_t n = uint64_t(ne[0] / ggml_block_size(type)) * uint64_t(ggml_block_bytes(type));
  for (size_t i = 1; i < ne.size(); ++i) n *= uint64_t(ne[i]);
  return n;
}

void Metadata::key(std::string_view k, ValueType type) {
  put_string(bytes_, k);
  put<uint32_t>(bytes_, uint32_t(type));
  ++count_;
}

void Metadata::add_u32(std::string_view k, uint32_t v) { key(k, ValueType::U32); put(bytes_, v); }
void Metadata::add_i32(std::string_view k, int32_t v) { key(k, ValueType::I32); put(bytes_, v); }
void Metadata::add_f32(std::string_view k, float v) { key(k, ValueType::F32); put(bytes_, v); }
void Metadata::add_bool(std::string_view k, bool v) { key(k, ValueType::Bool); put<uint8_t>(bytes_, v ? 1 : 0); }
void Metadata::add_string(std::string_view k, std::string_view v) { key(k, ValueType::String); put_string(bytes_, v); }

void Metadata::add_string_array(std::string_view k, const std::vector<std::string>& v) {
  key(k, ValueType::Array);
  put<uint32_t>(bytes_, uint32_t(ValueType::String));
  put<uint64_t>(bytes_, v.size());
  for (const std::string& s : v) put_string(bytes_, s);
}

void Metadata::add_i32_array(std::string_view k, const std::vector<int32_t>& v) {
  key(k, ValueType::Array);
  put<uint32_t>(bytes_, uint32_t(ValueType::I32));
  put<uint64_t>(bytes_, v.size());
  for (int32_t x : v) put(bytes_, x);
}

std::string encode_header(const Metadata& meta, std::vector<TensorInfo>& tensors, uint64_t* data_bytes) {
  std::string out = "GGUF";
  put<uint32_t>(out, kVersion);
  put<int64_t>(out, int64_t(tensors.size()));
  put<int64_t>(out, int64_t(meta.count()));
  out += meta.bytes();
  uint64_t offset = 0;
  for (TensorInfo& t : tensors) {
    t.offset = offset;
    offset = align_up(offset + t.bytes, kAlignment);
    put_string(out, t.name);
    put<uint32_t>(out, uint32_t(t.ne.size()));
    for (int64_t n : t.ne) put<int64_t>(out, n);
    put<uint32_t>(out, uint32_t(t.type));
    put<uint64_t>(out, t.offset);
  }
  out.resize(align_up(out.size(), kAlignment), '\0');
  *data_bytes = offset;
  return out;
}

}  // namespace mote::gguf
