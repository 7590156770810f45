#include "hf/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "hf/error.h"

namespace mote::convert {

namespace {

struct DtypeEntry {
  StDtype dtype;
  const char* name;
  uint64_t size;
};

constexpr DtypeEntry kDtypes[] = {
    {StDtype::F32, "F32", 4},         {StDtype::F16, "F16", 2},   {StDtype::BF16, "BF16", 2},
    {StDtype::F8_E4M3, "F8_E4M3", 1}, {StDtype::F8_E5M2, "F8_E5M2", 1},
    {StDtype::F64, "F64", 8},         {StDtype::BOOL, "BOOL", 1}, {StDtype::U8, "U8", 1},
    {StDtype::I8, "I8", 1},           {StDtype::U16, "U16", 2},   {StDtype::I16, "I16", 2},
    {StDtype::U32, "U32", 4},         {StDtype::I32, "I32", 4},   {StDtype::U64, "U64", 8},
    {StDtype::I64, "I64", 8},
};

// A non-negative JSON integer, or throws naming `what`.
uint64_t json_u64(const nlohmann::json& v, const std::string& what) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return uint64_t(v.get<int64_t>());
  fail(what + " must be a non-negative integer, got " + v.dump());
}

StTensorInfo parse_entry(const std::string& name, const nlohmann::json& v, uint64_t data_size,
                         const std::string& file) {
  const std::string where = "tensor " + name + " in " + file;
  if (!v.is_object()) fail(where + ": header entry is not an object");
  StTensorInfo t;
  t.name = name;
  const auto dtype = v.find("dtype");
  if (dtype == v.end() || !dtype->is_string()) fail(where + ": missing or non-string 'dtype'");
  if (!parse_st_dtype(dtype->get<std::string>(), &t.dtype))
    fail("unsupported dtype " + dtype->get<std::string>() + " for tensor " + name + " in file " + file);
  const auto shape = v.find("shape");
  if (shape == v.end() || !shape->is_array()) fail(where + ": missing or non-array 'shape'");
  uint64_t count = 1;
  for (const auto& d : *shape) {
    t.shape.push_back(json_u64(d, where + ": shape dimension"));
    if (__builtin_mul_overflow(count, t.shape.back(), &count)) fail(where + ": shape overflows");
  }
  const auto offsets = v.find("data_offsets");
  if (offsets == v.end() || !offsets->is_array() || offsets->size() != 2)
    fail(where + ": 'data_offsets' must be an array [begin, end]");
  t.begin = json_u64((*offsets)[0], where + ": data_offsets");
  t.end = json_u64((*offsets)[1], where + ": data_offsets");
  if (t.begin > t.end || t.end > data_size)
    fail(where + ": data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
         "] lie outside the data area (" + std::to_string(data_size) + " bytes; file truncated?)");
  uint64_t bytes = 0;
  const bool overflow = __builtin_mul_overflow(count, st_dtype_size(t.dtype), &bytes);
  if (overflow || bytes != t.end - t.begin)
    fail(where + ": data_offsets span " + std::to_string(t.end - t.begin) + " bytes but dtype " +
         st_dtype_name(t.dtype) + " and shape " + shape_string(t.shape) + " need " +
         (overflow ? std::string("more than 2^64") : std::to_string(bytes)));
  return t;
}

}  // namespace

const char* st_dtype_name(StDtype dtype) {
  for (const auto& e : kDtypes)
    if (e.dtype == dtype) return e.name;
  return "?";
}

uint64_t st_dtype_size(StDtype dtype) {
  for (const auto& e : kDtypes)
    if (e.dtype == dtype) return e.size;
  return 0;
}

bool parse_st_dtype(std::string_view text, StDtype* out) {
  for (const auto& e : kDtypes) {
    if (text == e.name) {
      *out = e.dtype;
      return true;
    }
  }
  return false;
}

bool st_dtype_decodable(StDtype dtype) {
  return dtype == StDtype::F32 || dtype == StDtype::F16 || dtype == StDtype::BF16 ||
         dtype == StDtype::F8_E4M3;
}

std::vector<StTensorInfo> parse_safetensors_header(std::string_view json, uint64_t data_size,
                                                   const std::string& file) {
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(json.begin(), json.end());
  } catch (const nlohmann::json::exception& e) {
    fail(file + ": malformed safetensors header (invalid JSON): " + e.what());
  }
  if (!root.is_object()) fail(file + ": malformed safetensors header: JSON root is not an object");
  std::vector<StTensorInfo> tensors;
  tensors.reserve(root.size());
  for (const auto& [name, value] : root.items()) {
    if (name == "__metadata__") continue;
    tensors.push_back(parse_entry(name, value, data_size, file));
  }
  // nlohmann::json objects are std::map-backed, so items() is already sorted by name.
  std::sort(tensors.begin(), tensors.end(),
            [](const StTensorInfo& a, const StTensorInfo& b) { return a.name < b.name; });
  return tensors;
}

void pread_exact(int fd, void* dst, uint64_t size, uint64_t offset, const std::string& path,
                 const std::string& what) {
  auto* p = static_cast<uint8_t*>(dst);
  while (size > 0) {
    const ssize_t n = ::pread(fd, p, size_t(std::min<uint64_t>(size, uint64_t(1) << 30)), off_t(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(path + ": read error in " + what + ": " + std::strerror(errno));
    }
    if (n == 0) fail(path + ": unexpected end of file reading " + what + " (file truncated?)");
    p += n;
    size -= uint64_t(n);
    offset += uint64_t(n);
  }
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f->fd_ < 0) fail("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(f->fd_, &st) != 0) fail("cannot stat " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(path + ": not a regular file");
  f->file_size_ = uint64_t(st.st_size);
  if (f->file_size_ < 8)
    fail(path + ": truncated safetensors file (" + std::to_string(f->file_size_) +
         " bytes, shorter than the 8-byte header length)");
  uint8_t len_bytes[8];
  pread_exact(f->fd_, len_bytes, 8, 0, path, "the header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > f->file_size_ - 8)
    fail(path + ": safetensors header length " + std::to_string(header_len) +
         " exceeds the file size (" + std::to_string(f->file_size_) + " bytes; truncated or not a safetensors file)");
  if (header_len > kMaxHeaderBytes)
    fail(path + ": safetensors header length " + std::to_string(header_len) + " exceeds the 256 MiB limit");
  std::string json(size_t(header_len), '\0');
  pread_exact(f->fd_, json.data(), header_len, 8, path, "the header");
  f->data_offset_ = 8 + header_len;
  f->tensors_ = parse_safetensors_header(json, f->file_size_ - f->data_offset_, path);
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (fd_ >= 0) ::close(fd_);
}

const StTensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const StTensorInfo& t, std::string_view n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

void SafetensorsFile::read(const StTensorInfo& t, uint64_t offset, void* dst, uint64_t size) const {
  if (offset > t.size() || size > t.size() - offset)
    fail("internal: read past the end of tensor " + t.name);
  if (gen_) return gen_(t, offset, dst, size);
  pread_exact(fd_, dst, size, data_offset_ + t.begin + offset, path_, "tensor " + t.name);
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::generated(const std::string& path, std::vector<StTensorInfo> tensors,
                                                            Generator gen) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  std::sort(tensors.begin(), tensors.end(), [](const StTensorInfo& a, const StTensorInfo& b) { return a.name < b.name; });
  for (const StTensorInfo& t : tensors) f->file_size_ = std::max(f->file_size_, t.end);
  f->tensors_ = std::move(tensors);
  f->gen_ = std::move(gen);
  return f;
}

void SafetensorsFile::prefetch(const StTensorInfo& t, uint64_t offset, uint64_t size) const {
  if (fd_ < 0) return;
  if (offset >= t.size()) return;
  size = std::min(size, t.size() - offset);
  (void)::posix_fadvise(fd_, off_t(data_offset_ + t.begin + offset), off_t(size), POSIX_FADV_WILLNEED);
}

}  // namespace mote::convert
