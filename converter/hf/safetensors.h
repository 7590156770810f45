// Reader for the safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the data
// area; data_offsets are relative to the start of the data area.
//
// Everything in the header is validated on open (length against the file size, JSON syntax and
// field types, known dtype, offsets inside the data area and equal to dtype size x prod(shape),
// all with overflow-safe arithmetic). Tensor bytes are read with pread into caller buffers,
// never mmapped: mapped pages would count in the converter's RSS.
//
// Errors throw ConvertError (hf/error.h). SafetensorsFile owns its descriptor; not copyable.
// read() is const and uses pread only, so concurrent reads are safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mote::convert {

// Every dtype the safetensors format defines. The converter decodes F32, F16, BF16 and F8_E4M3;
// the others are parsed (so their offsets are validated) but rejected when a needed tensor
// uses them.
enum class StDtype : uint8_t {
  F32, F16, BF16, F8_E4M3, F8_E5M2, F64, BOOL, U8, I8, U16, I16, U32, I32, U64, I64,
};

const char* st_dtype_name(StDtype dtype);
uint64_t st_dtype_size(StDtype dtype);  // bytes per element
bool parse_st_dtype(std::string_view text, StDtype* out);
// True for the dtypes the converter can turn into f32 (F32, F16, BF16, F8_E4M3).
bool st_dtype_decodable(StDtype dtype);

struct StTensorInfo {
  std::string name;
  StDtype dtype = StDtype::F32;
  std::vector<uint64_t> shape;  // as in the header; [] is a scalar
  uint64_t begin = 0;           // byte range relative to the data area
  uint64_t end = 0;
  uint64_t size() const { return end - begin; }
};

// Parses and validates a header. `json` is the header text, `data_size` the number of bytes
// after the header, `file` the path used in messages. Tensors are returned sorted by name.
std::vector<StTensorInfo> parse_safetensors_header(std::string_view json, uint64_t data_size,
                                                   const std::string& file);

class SafetensorsFile {
 public:
  // Opens and validates `path`; throws ConvertError naming the file on any problem.
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t file_size() const { return file_size_; }
  uint64_t data_offset() const { return data_offset_; }  // 8 + header length
  const std::vector<StTensorInfo>& tensors() const { return tensors_; }
  // Tensor by name or nullptr (binary search).
  const StTensorInfo* find(std::string_view name) const;
  // A file with no descriptor whose tensor bytes are produced on demand by `gen` (mote-synth's
  // direct .mote output feeds the converter generated weights through this). `tensors` need not
  // be sorted; their [begin, end) ranges are virtual (only their sizes matter). read() bounds-
  // checks and calls gen(tensor, offset, dst, size); prefetch does nothing. `gen` must be
  // thread-safe if reads are made concurrently.
  using Generator = std::function<void(const StTensorInfo& t, uint64_t offset, void* dst, uint64_t size)>;
  static std::unique_ptr<SafetensorsFile> generated(const std::string& path, std::vector<StTensorInfo> tensors,
                                                    Generator gen);
  // Reads bytes [offset, offset + size) of tensor `t` into dst; throws on a short read.
  void read(const StTensorInfo& t, uint64_t offset, void* dst, uint64_t size) const;
  // Asks the kernel to start reading bytes [offset, offset + size) of `t` into the page cache
  // (posix_fadvise WILLNEED) and returns without waiting: the converter calls it for the next
  // chunk while it quantises the current one. Best effort: errors are ignored. Thread-safe.
  void prefetch(const StTensorInfo& t, uint64_t offset, uint64_t size) const;

  // Upper bound on the JSON header we accept (the format's own limit is 100 MB).
  static constexpr uint64_t kMaxHeaderBytes = uint64_t(256) << 20;

 private:
  SafetensorsFile() = default;
  std::string path_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
  uint64_t data_offset_ = 0;
  std::vector<StTensorInfo> tensors_;
  Generator gen_;  // set only for generated() files
};

// pread until `size` bytes are read; throws naming `what` and `path` on error or end of file.
void pread_exact(int fd, void* dst, uint64_t size, uint64_t offset, const std::string& path,
                 const std::string& what);

}  // namespace mote::convert
