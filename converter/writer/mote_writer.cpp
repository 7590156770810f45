#include "writer/mote_writer.h"
#include "writer/temp_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <ctime>
#include <numeric>
#include <stdexcept>

#include "format/checksum.h"
#include "format/header.h"
#include "kernels/quant.h"

namespace mote::convert {

namespace {

constexpr uint64_t kAlignment = kMoteMinAlignment;
constexpr uint64_t kTensorAlignment = 64;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

}  // namespace

MoteWriter::MoteWriter(std::string path) : path_(std::move(path)) {
  temp_path_ = temp_path_for(path_);
}

MoteWriter::~MoteWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!finished_ && fd_ != -1) ::unlink(temp_path_.c_str());
}

uint32_t MoteWriter::add_segment() {
  segment_sizes_.push_back(0);
  return uint32_t(segment_sizes_.size() - 1);
}

uint32_t MoteWriter::add_tensor(uint32_t segment, PlannedTensor tensor) {
  const int64_t cols = int64_t(tensor.shape.back());
  const uint64_t rows = tensor.shape.size() == 2 ? tensor.shape[0] : 1;
  if (tensor.row_group != 1 && (tensor.row_group != kRowGroup || !row_group_type(tensor.type) ||
                                 tensor.shape.size() != 2 || rows % kRowGroup != 0))
    fail("internal: tensor " + tensor.name + " cannot be stored in row groups of " + std::to_string(tensor.row_group));
  tensor.segment = segment;
  tensor.offset = align_up(segment_sizes_[segment], kTensorAlignment);
  tensor.size = rows * weight_row_bytes(tensor.type, cols);
  segment_sizes_[segment] = tensor.offset + tensor.size;
  tensors_.push_back(std::move(tensor));
  return uint32_t(tensors_.size() - 1);
}

uint32_t MoteWriter::add_alias(PlannedTensor tensor, uint32_t of) {
  const PlannedTensor& target = tensors_.at(of);
  if (tensor.type != target.type || tensor.shape != target.shape)
    fail("internal: alias " + tensor.name + " differs in type or shape from " + target.name);
  tensor.row_group = target.row_group;  // same bytes, same layout
  tensor.segment = target.segment;
  tensor.offset = target.offset;
  tensor.size = target.size;
  tensors_.push_back(std::move(tensor));
  return uint32_t(tensors_.size() - 1);
}

uint32_t MoteWriter::add_blob(const std::string& name, uint64_t size) {
  const uint32_t segment = add_segment();
  segment_sizes_[segment] = size;
  blobs_.emplace_back(name, segment);
  return segment;
}

void MoteWriter::add_expert(const PlannedExpert& expert) { experts_.push_back(expert); }

uint64_t MoteWriter::total_data_bytes() const {
  uint64_t total = 0;
  for (uint64_t s : segment_sizes_) total = align_up(total, kAlignment) + s;
  return total;
}

std::vector<uint8_t> MoteWriter::build_metadata() const {
  flatbuffers::FlatBufferBuilder b(1 << 16);
  // Tensors sorted by name (the schema's key); experts refer to sorted positions.
  std::vector<uint32_t> order(tensors_.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t c) { return tensors_[a].name < tensors_[c].name; });
  std::vector<uint32_t> sorted_pos(tensors_.size());
  for (uint32_t i = 0; i < order.size(); ++i) sorted_pos[order[i]] = i;

  std::vector<flatbuffers::Offset<fb::Tensor>> tensor_offsets;
  for (uint32_t i : order) {
    const PlannedTensor& t = tensors_[i];
    const int64_t cols = int64_t(t.shape.back());
    auto quant = fb::CreateQuantParams(b, uint32_t(weight_block_size(t.type)),
                                       uint32_t(weight_block_bytes(t.type)),
                                       weight_row_bytes(t.type, cols), uint32_t(t.row_group));
    tensor_offsets.push_back(fb::CreateTensor(
        b, b.CreateString(t.name), t.role, t.tensor_class, t.layer, t.expert,
        b.CreateVector(t.shape), fb::WeightType(t.type), quant, t.segment, t.offset, t.size));
  }
  auto tensors = b.CreateVector(tensor_offsets);

  std::vector<fb::Segment> segments;
  for (size_t s = 0; s < segment_sizes_.size(); ++s)
    segments.emplace_back(segment_offsets_[s], segment_sizes_[s], segment_checksums_[s]);
  auto segment_vec = b.CreateVectorOfStructs(segments);

  // Expert tables: one per layer, ascending layer, experts indexed by id.
  std::vector<PlannedExpert> experts = experts_;
  std::sort(experts.begin(), experts.end(), [](const PlannedExpert& x, const PlannedExpert& y) {
    return x.layer != y.layer ? x.layer < y.layer : x.expert < y.expert;
  });
  std::vector<flatbuffers::Offset<fb::ExpertLayer>> layers;
  for (size_t i = 0; i < experts.size();) {
    size_t j = i;
    std::vector<fb::Expert> row;
    while (j < experts.size() && experts[j].layer == experts[i].layer) {
      const PlannedExpert& e = experts[j];
      row.emplace_back(e.segment, sorted_pos[e.gate], sorted_pos[e.up], sorted_pos[e.down]);
      ++j;
    }
    layers.push_back(fb::CreateExpertLayer(b, experts[i].layer, b.CreateVectorOfStructs(row)));
    i = j;
  }
  auto layer_vec = b.CreateVector(layers);

  std::vector<std::pair<std::string, uint32_t>> blobs = blobs_;
  std::sort(blobs.begin(), blobs.end());
  std::vector<flatbuffers::Offset<fb::Blob>> blob_offsets;
  for (const auto& [name, seg] : blobs) blob_offsets.push_back(fb::CreateBlob(b, b.CreateString(name), seg));
  auto blob_vec = b.CreateVector(blob_offsets);

  auto provenance = fb::CreateProvenance(
      b, b.CreateString(provenance_.source), b.CreateString(provenance_.source_dtype),
      b.CreateString(MOTE_VERSION), b.CreateString(provenance_.weight_recipe), created_unix_);
  auto config = config_(b);
  auto model = fb::CreateModel(b, config, tensors, segment_vec, layer_vec, blob_vec, provenance,
                               kAlignment, has_mtp_);
  fb::FinishModelBuffer(b, model);
  return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

void MoteWriter::begin(ConfigBuilder config, ProvenanceInfo provenance, bool has_mtp) {
  config_ = std::move(config);
  provenance_ = std::move(provenance);
  has_mtp_ = has_mtp;
  // SOURCE_DATE_EPOCH (reproducible-builds convention) pins the creation time, so two runs
  // give identical files (tests compare whole converted files byte for byte).
  const char* epoch = std::getenv("SOURCE_DATE_EPOCH");
  char* end = nullptr;
  const unsigned long long pinned = epoch != nullptr ? std::strtoull(epoch, &end, 10) : 0;
  created_unix_ = epoch != nullptr && *epoch != '\0' && *end == '\0' ? uint64_t(pinned) : uint64_t(std::time(nullptr));
  segment_offsets_.assign(segment_sizes_.size(), 0);
  segment_checksums_.assign(segment_sizes_.size(), 0);
  uint64_t offset = 0;
  for (size_t s = 0; s < segment_sizes_.size(); ++s) {
    offset = align_up(offset, kAlignment);
    segment_offsets_[s] = offset;
    offset += segment_sizes_[s];
  }
  metadata_offset_ = sizeof(FileHeader);
  metadata_size_ = build_metadata().size();
  data_offset_ = align_up(metadata_offset_ + metadata_size_, kAlignment);

  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(path_ + ": cannot create output file: " + std::strerror(errno));
  if (::lseek(fd_, off_t(data_offset_), SEEK_SET) < 0)
    fail(path_ + ": seek failed: " + std::strerror(errno));
}

void MoteWriter::write_raw(const void* data, uint64_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, size_t(std::min<uint64_t>(size, 1u << 30)));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(path_ + ": write failed: " + std::strerror(errno));
    }
    p += n;
    size -= uint64_t(n);
  }
}

void MoteWriter::close_segment() {
  if (current_segment_ < 0) return;
  const auto s = size_t(current_segment_);
  if (current_pos_ != segment_sizes_[s])
    fail("internal: segment " + std::to_string(s) + " written with " + std::to_string(current_pos_) +
         " of " + std::to_string(segment_sizes_[s]) + " bytes");
  segment_checksums_[s] = checksum64(carry_, size_t(carry_size_), checksum_state_);
  carry_size_ = 0;
}

// Moves the stream to `offset_in_segment` of `segment`, padding with zeros (checksummed).
void MoteWriter::seek_to(uint32_t segment, uint64_t offset_in_segment) {
  static const uint8_t kZeros[kAlignment] = {};
  if (int64_t(segment) != current_segment_) {
    if (int64_t(segment) < current_segment_) fail("internal: segments written out of order");
    close_segment();
    // Zero-fill every skipped segment's gap; a skipped non-empty segment is a bug.
    for (int64_t s = current_segment_ + 1; s < int64_t(segment); ++s)
      if (segment_sizes_[size_t(s)] != 0) fail("internal: segment " + std::to_string(s) + " never written");
    const uint64_t file_pos = current_segment_ < 0
                                  ? data_offset_
                                  : data_offset_ + segment_offsets_[size_t(current_segment_)] + current_pos_;
    uint64_t pad = data_offset_ + segment_offsets_[segment] - file_pos;
    while (pad > 0) {
      const uint64_t n = std::min<uint64_t>(pad, sizeof(kZeros));
      write_raw(kZeros, n);
      pad -= n;
    }
    current_segment_ = segment;
    current_pos_ = 0;
    checksum_state_ = kChecksumSeed;
    carry_size_ = 0;
  }
  if (offset_in_segment < current_pos_) fail("internal: tensor bytes written out of order");
  uint64_t pad = offset_in_segment - current_pos_;
  if (pad > 0) {
    std::vector<uint8_t> zeros(pad, 0);
    write_tensor_bytes(UINT32_MAX, zeros.data(), pad);
  }
}

void MoteWriter::write_tensor_bytes(uint32_t tensor_index, const void* data, uint64_t size) {
  if (tensor_index != UINT32_MAX) {
    const PlannedTensor& t = tensors_[tensor_index];
    // First chunk of a tensor: move to its start. Later chunks continue where we are.
    if (int64_t(t.segment) != current_segment_ || current_pos_ < t.offset) seek_to(t.segment, t.offset);
    if (current_pos_ + size > t.offset + t.size)
      fail("internal: too many bytes for tensor " + t.name);
  }
  write_raw(data, size);
  // Fold into the checksum, carrying up to 7 bytes so word boundaries match checksum64().
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t n = size;
  if (carry_size_ > 0) {
    const int take = int(std::min<uint64_t>(uint64_t(8 - carry_size_), n));
    std::memcpy(carry_ + carry_size_, p, size_t(take));
    carry_size_ += take;
    p += take;
    n -= uint64_t(take);
    if (carry_size_ == 8) {
      checksum_state_ = checksum64(carry_, 8, checksum_state_);
      carry_size_ = 0;
    }
  }
  const uint64_t whole = n / 8 * 8;
  checksum_state_ = checksum64(p, size_t(whole), checksum_state_);
  std::memcpy(carry_, p + whole, size_t(n - whole));
  carry_size_ = int(n - whole);
  current_pos_ += size;
}

void MoteWriter::write_blob_bytes(uint32_t segment, const void* data, uint64_t size) {
  // A blob arrives in pieces: the first moves to the segment, later ones append where the last
  // one stopped (seeking to 0 again would be a backwards move).
  if (int64_t(segment) != current_segment_) seek_to(segment, 0);
  if (current_pos_ + size > segment_sizes_[segment])
    fail("internal: too many bytes for blob segment " + std::to_string(segment));
  write_tensor_bytes(UINT32_MAX, data, size);
}

void MoteWriter::finish() {
  // Segments never reached (trailing empty ones) are fine; non-empty ones are a bug.
  for (size_t s = size_t(current_segment_ + 1); s < segment_sizes_.size(); ++s) {
    if (segment_sizes_[s] != 0) fail("internal: segment " + std::to_string(s) + " never written");
  }
  close_segment();
  const std::vector<uint8_t> metadata = build_metadata();
  if (metadata.size() != metadata_size_) fail("internal: metadata size changed between passes");
  uint64_t file_size = data_offset_;
  if (!segment_sizes_.empty()) file_size = data_offset_ + segment_offsets_.back() + segment_sizes_.back();

  FileHeader header{};
  std::memcpy(header.magic, kMoteMagic, sizeof(kMoteMagic));
  header.format_version = kMoteFormatVersion;
  header.header_size = sizeof(FileHeader);
  header.metadata_offset = metadata_offset_;
  header.metadata_size = metadata_size_;
  header.data_offset = data_offset_;
  header.file_size = file_size;
  header.metadata_checksum = checksum64(metadata.data(), metadata.size());
  if (::ftruncate(fd_, off_t(file_size)) != 0) fail(path_ + ": truncate failed: " + std::strerror(errno));
  if (::pwrite(fd_, &header, sizeof(header), 0) != ssize_t(sizeof(header)) ||
      ::pwrite(fd_, metadata.data(), metadata.size(), off_t(metadata_offset_)) != ssize_t(metadata.size()))
    fail(path_ + ": write failed: " + std::strerror(errno));
  if (::fsync(fd_) != 0) fail(path_ + ": fsync failed: " + std::strerror(errno));
  ::close(fd_);
  fd_ = -2;  // closed, temp file still to be renamed
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp_path_.c_str());
    fail(path_ + ": cannot rename temporary file: " + std::strerror(err));
  }
  finished_ = true;
}

}  // namespace mote::convert
