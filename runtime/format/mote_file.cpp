#include "format/mote_file.h"

#include <cstring>
#include <map>
#include <utility>
#include <string>

#include "format/checksum.h"
#include "kernels/quant.h"

namespace mote {

static_assert(int(fb::WeightType::F32) == int(WeightType::F32));
static_assert(int(fb::WeightType::F16) == int(WeightType::F16));
static_assert(int(fb::WeightType::BF16) == int(WeightType::BF16));
static_assert(int(fb::WeightType::Q8_0) == int(WeightType::Q8_0));
static_assert(int(fb::WeightType::Q4_0) == int(WeightType::Q4_0));
static_assert(int(fb::WeightType::MXFP4) == int(WeightType::MXFP4));
static_assert(int(fb::WeightType::Q2_1) == int(WeightType::Q2_1));

namespace {

// a + b <= limit without overflow.
bool range_fits(uint64_t offset, uint64_t size, uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

}  // namespace

Result<std::unique_ptr<MoteFile>> MoteFile::open(const std::string& path) {
  MOTE_ASSIGN_OR_RETURN(std::unique_ptr<DataLoader> loader, open_mapped_file(path));
  return open(std::move(loader));
}

Result<std::unique_ptr<MoteFile>> MoteFile::open(std::unique_ptr<DataLoader> loader) {
  if (loader == nullptr) return invalid_argument("MoteFile::open: no loader");
  std::unique_ptr<MoteFile> file(new MoteFile());
  file->base_ = loader->view(0, loader->size());
  if (file->base_ == nullptr && loader->size() > 0)
    return unsupported(loader->name() + ": this loader cannot view its bytes in place (a .mote file is read "
                       "through a mapping or a memory buffer)");
  file->loader_ = std::move(loader);
  Status st = file->verify();
  if (!st) return Status(st.code(), file->path() + ": " + st.message());
  MOTE_RETURN_IF_ERROR(file->check_mapping());  // shrank while being verified: what it read was zeros
  return file;
}

Status MoteFile::verify() {
  MOTE_RETURN_IF_ERROR(verify_header());
  MOTE_RETURN_IF_ERROR(verify_segments());
  MOTE_RETURN_IF_ERROR(verify_tensors());
  MOTE_RETURN_IF_ERROR(verify_aliases());
  MOTE_RETURN_IF_ERROR(verify_expert_layers());
  return verify_blobs();
}

Status MoteFile::verify_header() {
  if (file_size() < sizeof(FileHeader))
    return corrupt_file("file is " + std::to_string(file_size()) +
                        " bytes, smaller than the 64-byte header");
  std::memcpy(&header_, base_, sizeof(FileHeader));
  if (std::memcmp(header_.magic, kMoteMagic, sizeof(kMoteMagic)) != 0)
    return corrupt_file("bad magic: not a .mote file");
  if (header_.format_version < kMoteMinFormatVersion || header_.format_version > kMoteFormatVersion)
    return unsupported("format version " + std::to_string(header_.format_version) + ", this runtime reads versions " +
                       std::to_string(kMoteMinFormatVersion) + " to " + std::to_string(kMoteFormatVersion));
  if (header_.header_size != sizeof(FileHeader))
    return corrupt_file("header_size " + std::to_string(header_.header_size) + " != 64");
  if (header_.file_size != file_size())
    return corrupt_file("file is " + std::to_string(file_size()) + " bytes but the header says " +
                        std::to_string(header_.file_size) + " (truncated or appended)");
  if (header_.metadata_offset < sizeof(FileHeader) ||
      !range_fits(header_.metadata_offset, header_.metadata_size, file_size()))
    return corrupt_file("metadata range [" + std::to_string(header_.metadata_offset) + ", +" +
                        std::to_string(header_.metadata_size) + ") is outside the file");
  if (header_.metadata_size > (uint64_t(1) << 31) - 1)
    return corrupt_file("metadata larger than 2 GiB");
  if (header_.data_offset % kMoteMinAlignment != 0 || header_.data_offset > file_size() ||
      header_.data_offset < header_.metadata_offset + header_.metadata_size)
    return corrupt_file("data_offset " + std::to_string(header_.data_offset) +
                        " is misaligned, outside the file or overlaps the metadata");
  const uint8_t* meta = base_ + header_.metadata_offset;
  if (checksum64(meta, header_.metadata_size) != header_.metadata_checksum)
    return corrupt_file("metadata checksum mismatch");
  flatbuffers::Verifier verifier(meta, header_.metadata_size);
  if (!fb::VerifyModelBuffer(verifier))
    return corrupt_file("metadata FlatBuffer fails verification");
  model_ = fb::GetModel(meta);
  if (model_->config() == nullptr) return corrupt_file("metadata has no config");
  if (model_->tensors() == nullptr || model_->segments() == nullptr)
    return corrupt_file("metadata has no tensor or segment table");
  return Status::ok();
}

Status MoteFile::verify_segments() {
  const uint64_t data_size = file_size() - header_.data_offset;
  const uint64_t alignment = model_->alignment();
  if (alignment < kMoteMinAlignment || (alignment & (alignment - 1)) != 0)
    return corrupt_file("alignment " + std::to_string(alignment) + " is not a power of two >= 4096");
  const auto& segments = *model_->segments();
  for (uint32_t i = 0; i < segments.size(); ++i) {
    const fb::Segment* s = segments.Get(i);
    if (!range_fits(s->offset(), s->size(), data_size))
      return corrupt_file("segment " + std::to_string(i) + " [" + std::to_string(s->offset()) +
                          ", +" + std::to_string(s->size()) + ") lies outside the data area (" +
                          std::to_string(data_size) + " bytes)");
    if ((header_.data_offset + s->offset()) % alignment != 0)
      return corrupt_file("segment " + std::to_string(i) + " is not aligned to " +
                          std::to_string(alignment));
  }
  return Status::ok();
}

Status MoteFile::verify_tensors() {
  const auto& tensors = *model_->tensors();
  const auto& segments = *model_->segments();
  for (uint32_t i = 0; i < tensors.size(); ++i) {
    const fb::Tensor* t = tensors.Get(i);
    const std::string name = t->name() ? t->name()->str() : "#" + std::to_string(i);
    if (t->name() == nullptr) return corrupt_file("tensor " + name + " has no name");
    if (int(t->type()) >= kWeightTypeCount)
      return unsupported("tensor " + name + ": unknown weight type " + std::to_string(int(t->type())));
    if (t->shape() == nullptr || t->shape()->size() < 1 || t->shape()->size() > 2)
      return corrupt_file("tensor " + name + ": shape must have 1 or 2 dimensions");
    const uint64_t rows = t->shape()->size() == 2 ? t->shape()->Get(0) : 1;
    const uint64_t cols = t->shape()->Get(t->shape()->size() - 1);
    if (rows == 0 || cols == 0 || cols > (uint64_t(1) << 40))
      return corrupt_file("tensor " + name + ": bad shape");
    const auto type = WeightType(t->type());
    const uint64_t row_bytes = weight_row_bytes(type, int64_t(cols));
    uint64_t expected = 0;
    if (!checked_mul(rows, row_bytes, &expected) || expected != t->size())
      return corrupt_file("tensor " + name + ": size " + std::to_string(t->size()) +
                          " does not match its shape and type (" + std::to_string(expected) + ")");
    if (t->quant() != nullptr && t->quant()->row_stride() != 0 && t->quant()->row_stride() != row_bytes)
      return corrupt_file("tensor " + name + ": row_stride does not match its type");
    MOTE_RETURN_IF_ERROR(verify_row_group(*t, name, rows));
    if (t->segment() >= segments.size())
      return corrupt_file("tensor " + name + ": segment index " + std::to_string(t->segment()) +
                          " out of range");
    if (!range_fits(t->offset(), t->size(), segments.Get(t->segment())->size()))
      return corrupt_file("tensor " + name + ": bytes lie outside its segment");
    if (type == WeightType::F32 && t->offset() % 4 != 0)
      return corrupt_file("tensor " + name + ": f32 data is misaligned");
    if (i > 0 && !(tensors.Get(i - 1)->name()->str() < name))
      return corrupt_file("tensor table is not sorted by name at " + name);
  }
  return Status::ok();
}

// QuantParams.row_group: 0/1 (row-major) anywhere; 16 (row groups) only in a version-2 file, on a
// 2-D Q8_0/Q4_0/Q2_1 tensor whose row count is a multiple of 16 (the kernels read whole groups).
Status MoteFile::verify_row_group(const fb::Tensor& t, const std::string& name, uint64_t rows) const {
  const uint32_t group = t.quant() != nullptr ? t.quant()->row_group() : 0;
  if (group <= 1) return Status::ok();
  const std::string what = "tensor " + name + ": quant.row_group " + std::to_string(group);
  if (group != uint32_t(kRowGroup))
    return corrupt_file(what + " is not 0, 1 or " + std::to_string(kRowGroup));
  if (header_.format_version < 2) return corrupt_file(what + " needs format version 2, the file says 1");
  if (!row_group_type(WeightType(t.type())) || t.shape()->size() != 2)
    return corrupt_file(what + " on a " + std::string(fb::EnumNameWeightType(t.type())) +
                        " tensor; row groups exist only for 2-D Q8_0, Q4_0 and Q2_1 matrices");
  if (rows % uint64_t(kRowGroup) != 0)
    return corrupt_file(what + " but the tensor has " + std::to_string(rows) + " rows (not a multiple of " +
                        std::to_string(kRowGroup) + ")");
  return Status::ok();
}

// Tensors sharing bytes (the converter's aliases: a tied lm_head, MTP's embedding and head) must
// agree on the layout, or one of them would read the other's rows in the wrong order.
Status MoteFile::verify_aliases() const {
  std::map<std::pair<uint32_t, uint64_t>, const fb::Tensor*> at;  // (segment, offset) -> first tensor
  for (const fb::Tensor* t : *model_->tensors()) {
    const auto [it, fresh] = at.emplace(std::make_pair(t->segment(), t->offset()), t);
    if (fresh || it->second->size() != t->size()) continue;
    if (row_group(*it->second) != row_group(*t))
      return corrupt_file("tensor " + t->name()->str() + ": quant.row_group " + std::to_string(row_group(*t)) +
                          " differs from " + std::to_string(row_group(*it->second)) + " of " +
                          it->second->name()->str() + ", whose bytes it shares");
  }
  return Status::ok();
}

Status MoteFile::verify_expert_layers() {
  if (model_->expert_layers() == nullptr) return Status::ok();
  const auto& tensors = *model_->tensors();
  for (const fb::ExpertLayer* layer : *model_->expert_layers()) {
    if (layer->experts() == nullptr)
      return corrupt_file("expert table of layer " + std::to_string(layer->layer()) + " is empty");
    for (uint32_t e = 0; e < layer->experts()->size(); ++e) {
      const fb::Expert* ex = layer->experts()->Get(e);
      const std::string where = "layer " + std::to_string(layer->layer()) + " expert " + std::to_string(e);
      if (ex->segment() >= model_->segments()->size() || ex->gate() >= tensors.size() ||
          ex->up() >= tensors.size() || ex->down() >= tensors.size())
        return corrupt_file(where + ": index out of range");
      for (uint32_t ti : {ex->gate(), ex->up(), ex->down()}) {
        if (tensors.Get(ti)->segment() != ex->segment())
          return corrupt_file(where + ": tensor " + tensors.Get(ti)->name()->str() +
                              " is not in the expert's segment");
      }
    }
  }
  return Status::ok();
}

Status MoteFile::verify_blobs() {
  if (model_->blobs() == nullptr) return Status::ok();
  for (const fb::Blob* b : *model_->blobs()) {
    if (b->name() == nullptr || b->segment() >= model_->segments()->size())
      return corrupt_file("blob with a missing name or bad segment index");
  }
  return Status::ok();
}

const uint8_t* MoteFile::segment_data(uint32_t index) const {
  return base_ + header_.data_offset + model_->segments()->Get(index)->offset();
}

uint64_t MoteFile::segment_size(uint32_t index) const {
  return model_->segments()->Get(index)->size();
}

uint64_t MoteFile::segment_file_offset(uint32_t index) const {
  return header_.data_offset + model_->segments()->Get(index)->offset();
}

const fb::Tensor* MoteFile::find_tensor(std::string_view name) const {
  return model_->tensors()->LookupByKey(std::string(name).c_str());
}

WeightView MoteFile::view(const fb::Tensor& t) const {
  WeightView v;
  v.type = WeightType(t.type());
  v.rows = t.shape()->size() == 2 ? int64_t(t.shape()->Get(0)) : 1;
  v.cols = int64_t(t.shape()->Get(t.shape()->size() - 1));
  v.row_stride = weight_row_bytes(v.type, v.cols);
  v.data = segment_data(t.segment()) + t.offset();
  v.row_group = row_group(t);
  return v;
}

int32_t MoteFile::row_group(const fb::Tensor& t) {
  return t.quant() != nullptr && t.quant()->row_group() == uint32_t(kRowGroup) ? kRowGroup : 1;
}

std::string_view MoteFile::blob(std::string_view name) const {
  if (model_->blobs() == nullptr) return {};
  const fb::Blob* b = model_->blobs()->LookupByKey(std::string(name).c_str());
  if (b == nullptr) return {};
  return {reinterpret_cast<const char*>(segment_data(b->segment())), size_t(segment_size(b->segment()))};
}

Status MoteFile::verify_checksums(bool release_pages,
                                  const std::function<bool(uint64_t done, uint64_t total)>& on_segment) const {
  const auto& segments = *model_->segments();
  uint64_t total = 0, done = 0;
  for (uint32_t i = 0; i < segments.size(); ++i) total += segment_size(i);
  for (uint32_t i = 0; i < segments.size(); ++i) {
    const bool same = checksum64(segment_data(i), segment_size(i)) == segments.Get(i)->checksum();
    if (release_pages) loader_->release_pages(segment_file_offset(i), segment_size(i));
    if (!same) return corrupt_file(path() + ": checksum mismatch in segment " + std::to_string(i));
    done += segment_size(i);
    if (on_segment && !on_segment(done, total))
      return Status(StatusCode::kCancelled, path() + ": checksum verification cancelled at segment " + std::to_string(i));
  }
  return Status::ok();
}

Status MoteFile::check_mapping() const { return loader_->check(); }

}  // namespace mote
