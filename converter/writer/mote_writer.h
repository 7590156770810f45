// MoteWriter: writes a .mote file in one streaming pass with bounded memory.
//
// Use: (1) plan: add segments, tensors (placed inside a segment) and blobs; every size is known
// up front, so every offset is fixed before any weight byte is produced; (2) begin(): opens
// "<path>.tmp-<pid>-<start>" (writer/temp_files.h) and reserves header + metadata space; (3) write the bytes of each segment
// in plan order with write(); (4) finish(): rebuilds the FlatBuffer with the checksums gathered
// while writing (same size: checksums are fixed-size struct fields), writes header and metadata,
// fsyncs and renames onto <path>. If finish() is never reached the destructor removes the
// temporary file, so a failed conversion leaves nothing behind.
//
// Not thread-safe; one writer per output file.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "mote/mote_generated.h"

namespace mote::convert {

struct PlannedTensor {
  std::string name;
  fb::TensorRole role = fb::TensorRole::TokenEmbedding;
  fb::TensorClass tensor_class = fb::TensorClass::Norm;
  int layer = -1;
  int expert = -1;
  std::vector<uint64_t> shape;  // [out, in] or [n]
  WeightType type = WeightType::F32;
  // 1: row-major; kRowGroup (16): row groups (kernels/quant.h), only for 2-D Q8_0/Q4_0/Q2_1 with
  // rows % 16 == 0. The bytes handed to write_tensor_bytes must already be in this layout; the
  // size is the same either way. Written as QuantParams.row_group (explicitly, 1 or 16).
  int32_t row_group = 1;
  // Filled by the writer:
  uint32_t segment = 0;
  uint64_t offset = 0;          // inside the segment, 64-byte aligned
  uint64_t size = 0;
};

struct PlannedExpert {
  uint32_t layer = 0;
  uint32_t expert = 0;
  uint32_t segment = 0;
  uint32_t gate = 0, up = 0, down = 0;  // indices into the writer's tensor list
};

using ConfigBuilder =
    std::function<flatbuffers::Offset<fb::ModelConfig>(flatbuffers::FlatBufferBuilder&)>;

struct ProvenanceInfo {
  std::string source;
  std::string source_dtype;
  std::string weight_recipe;
};

class MoteWriter {
 public:
  explicit MoteWriter(std::string path);
  ~MoteWriter();
  MoteWriter(const MoteWriter&) = delete;
  MoteWriter& operator=(const MoteWriter&) = delete;

  // --- planning ---
  uint32_t add_segment();
  // Places the tensor at the end of `segment` (64-byte aligned); returns its index. Throws if
  // row_group is 16 where the layout does not exist (a planning bug).
  uint32_t add_tensor(uint32_t segment, PlannedTensor tensor);
  // Adds a tensor sharing the bytes of tensor `of` (same segment, offset and size; type and
  // shape must match; the alias gets `of`'s row_group). Nothing is written for it. Returns its index.
  uint32_t add_alias(PlannedTensor tensor, uint32_t of);
  // A blob gets its own segment; its bytes are written with write() like any other segment.
  uint32_t add_blob(const std::string& name, uint64_t size);
  void add_expert(const PlannedExpert& expert);
  const PlannedTensor& tensor(uint32_t index) const { return tensors_[index]; }
  size_t tensor_count() const { return tensors_.size(); }
  uint64_t segment_size(uint32_t segment) const { return segment_sizes_[segment]; }
  uint64_t total_data_bytes() const;

  // --- writing; throws std::runtime_error with a one-line message on failure ---
  void begin(ConfigBuilder config, ProvenanceInfo provenance, bool has_mtp);
  // Appends bytes to the segment being written: tensor by tensor in the order they were added
  // to that segment, segments in index order. Padding between tensors is inserted here.
  void write_tensor_bytes(uint32_t tensor_index, const void* data, uint64_t size);
  void write_blob_bytes(uint32_t segment, const void* data, uint64_t size);
  void finish();

  const std::string& temp_path() const { return temp_path_; }

 private:
  std::vector<uint8_t> build_metadata() const;
  void seek_to(uint32_t segment, uint64_t offset_in_segment);
  void write_raw(const void* data, uint64_t size);
  void close_segment();

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool finished_ = false;

  std::vector<PlannedTensor> tensors_;
  std::vector<uint64_t> segment_sizes_;
  std::vector<uint64_t> segment_offsets_;    // relative to the data area
  std::vector<uint64_t> segment_checksums_;
  std::vector<std::pair<std::string, uint32_t>> blobs_;
  std::vector<PlannedExpert> experts_;
  ConfigBuilder config_;
  ProvenanceInfo provenance_;
  bool has_mtp_ = false;
  uint64_t created_unix_ = 0;
  uint64_t metadata_offset_ = 0;
  uint64_t metadata_size_ = 0;
  uint64_t data_offset_ = 0;

  // Streaming state: the segment being written and how far.
  int64_t current_segment_ = -1;
  uint64_t current_pos_ = 0;  // bytes written into the current segment
  uint64_t checksum_state_ = 0;
  uint8_t carry_[8] = {};     // bytes not yet folded into the checksum (< 8)
  int carry_size_ = 0;
};

}  // namespace mote::convert
