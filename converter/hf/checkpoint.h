// The weights of a Hugging Face checkpoint folder: either one `model.safetensors`, or
// `model.safetensors.index.json` whose "weight_map" maps each tensor name to a shard file in the
// same folder. All shard headers are read and validated on open; no tensor bytes are read.
//
// Ownership: Checkpoint owns the open shard files; TensorRef pointers stay valid while it lives.
// Memory: O(number of tensors) (names, shapes, offsets), independent of the weight bytes.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hf/safetensors.h"

namespace mote::convert {

struct TensorRef {
  const SafetensorsFile* file = nullptr;
  const StTensorInfo* info = nullptr;
  explicit operator bool() const { return info != nullptr; }
  // Reads bytes [offset, offset + size) of the tensor into dst.
  void read(uint64_t offset, void* dst, uint64_t size) const { file->read(*info, offset, dst, size); }
  // Starts reading those bytes into the page cache without waiting (SafetensorsFile::prefetch).
  void prefetch(uint64_t offset, uint64_t size) const { file->prefetch(*info, offset, size); }
};

class Checkpoint {
 public:
  // Throws ConvertError naming the folder or file on any problem.
  static std::unique_ptr<Checkpoint> open(const std::string& dir);
  // A checkpoint of one already-open file (e.g. SafetensorsFile::generated).
  static std::unique_ptr<Checkpoint> of_file(std::unique_ptr<SafetensorsFile> file);

  // Tensor by name; an empty ref if absent.
  TensorRef find(std::string_view name) const;
  // Every tensor, sorted by name.
  const std::vector<TensorRef>& tensors() const { return tensors_; }
  size_t file_count() const { return files_.size(); }
  uint64_t total_bytes() const;  // sum of all shard file sizes

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::vector<TensorRef> tensors_;  // sorted by name
};

}  // namespace mote::convert
