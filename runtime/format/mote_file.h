// MoteFile: an opened, verified .mote file. open() checks, in order: the header, the FlatBuffer
// (FlatBuffers verifier + identifier), every segment bound against the file size with
// overflow-safe arithmetic, every tensor's type/shape/size/row_group against its segment, the expert
// tables, and the blobs. After open() succeeds, every pointer the accessors return is in bounds.
// Segment checksums are verified on demand (verify_checksums), as they cost a full read.
//
// The bytes come through a DataLoader (loader/data_loader.h) that can view them in place: a mapped
// file (open(path)) or a memory buffer; verification and error messages are the same for both,
// prefixed with the loader's name (the path, or "memory buffer").
//
// Ownership: MoteFile owns its loader; views returned stay valid while it lives (for a borrowed
// memory buffer, also only while the caller keeps the buffer).
// Thread-safety: all const methods are safe to call concurrently.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/tensor.h"
#include "format/header.h"
#include "loader/data_loader.h"
#include "mote/mote_generated.h"

namespace mote {

class MoteFile {
 public:
  // Maps `path` (open_mapped_file) and verifies it.
  static Result<std::unique_ptr<MoteFile>> open(const std::string& path);
  // Verifies the loader's bytes. The loader must view its whole range (view(0, size()) non-null
  // for size() > 0): weights are used in place. Errors name loader->name().
  static Result<std::unique_ptr<MoteFile>> open(std::unique_ptr<DataLoader> loader);

  // The loader's name: the file's path, or "memory buffer" (for messages).
  const std::string& path() const { return loader_->name(); }
  const DataLoader& loader() const { return *loader_; }
  const FileHeader& header() const { return header_; }
  const fb::Model& model() const { return *model_; }
  const fb::ModelConfig& config() const { return *model_->config(); }
  uint64_t file_size() const { return loader_->size(); }
  // Start of the whole file's bytes (file_size() of them; the mapping, or the memory buffer), e.g.
  // to measure its resident pages.
  const uint8_t* mapping_data() const { return base_; }

  // Bytes of segment `index` (bounds already verified).
  const uint8_t* segment_data(uint32_t index) const;
  uint64_t segment_size(uint32_t index) const;
  // File offset of segment `index` (for pread-based loading).
  uint64_t segment_file_offset(uint32_t index) const;

  // Tensor by Hugging Face name, or nullptr.
  const fb::Tensor* find_tensor(std::string_view name) const;
  // A view of a verified tensor's bytes: rows/cols from its shape (1-D -> rows = 1), row_group
  // from its QuantParams (1 = row-major, kRowGroup = row groups; kernels/quant.h).
  WeightView view(const fb::Tensor& tensor) const;
  // The WeightView::row_group of a verified tensor: kRowGroup or 1.
  static int32_t row_group(const fb::Tensor& tensor);
  // Blob bytes by name ("tokenizer.json", ...); empty view if absent.
  std::string_view blob(std::string_view name) const;

  // Recomputes every segment checksum; names the first segment that differs. With
  // release_pages, each segment's pages are given back after it is checked, so a full check does
  // not leave the whole file in this process's RSS (used with an expert budget). on_segment,
  // when set, is called after each segment with the bytes checked so far and in all (for load
  // progress); returning false stops the check with StatusCode::kCancelled.
  Status verify_checksums(bool release_pages = false,
                          const std::function<bool(uint64_t done, uint64_t total)>& on_segment = {}) const;

  // An error once a read of the mapping faulted because the file was truncated or failed under
  // it (DataLoader::check, cpu/mapped_file.h): every view read since then may hold zeros. Sticky;
  // reopen the file. Always OK for a memory buffer.
  Status check_mapping() const;

 private:
  MoteFile() = default;
  Status verify();
  Status verify_header();
  Status verify_segments();
  Status verify_tensors();
  Status verify_row_group(const fb::Tensor& t, const std::string& name, uint64_t rows) const;
  Status verify_aliases() const;
  Status verify_expert_layers();
  Status verify_blobs();

  std::unique_ptr<DataLoader> loader_;
  const uint8_t* base_ = nullptr;  // loader_->view(0, file_size()); null only when empty
  FileHeader header_{};
  const fb::Model* model_ = nullptr;
};

}  // namespace mote
