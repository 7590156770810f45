#include "pipeline/convert.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <thread>
#include <unordered_set>

#include "arch/expected.h"
#include "arch/family.h"
#include "hf/checkpoint.h"
#include "hf/config.h"
#include "hf/error.h"
#include "pipeline/backing.h"
#include "pipeline/blobs.h"
#include "pipeline/layout.h"
#include "quant/source_decode.h"
#include "quant/tensor_convert.h"
#include "writer/mote_writer.h"
#include "writer/temp_files.h"

namespace mote::convert {

namespace fs = std::filesystem;

namespace {

struct Job {
  uint32_t index;  // writer tensor index
  SourceTensor source;
  WeightType type;
  int row_group;   // 1 or kRowGroup (pipeline/layout.h)
};

const char* file_kind(fs::file_type t) {
  switch (t) {
    case fs::file_type::character: return "a character device";
    case fs::file_type::block: return "a block device";
    case fs::file_type::fifo: return "a fifo";
    case fs::file_type::socket: return "a socket";
    default: return "not a regular file";
  }
}

// Fails early (before any heavy work) when the output cannot be created.
void check_output_path(const std::string& path) {
  std::error_code ec;
  const fs::path out(path);
  const fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  if (fs::is_directory(out, ec)) fail("cannot write " + path + ": it is a directory");
  // The rename at the end would replace a device node, fifo or socket with the .mote file.
  const fs::file_status st = fs::status(out, ec);
  if (fs::exists(st) && !fs::is_regular_file(st))
    fail("cannot write " + path + ": it exists and is not a regular file (" + file_kind(st.type()) + ")");
  if (!fs::exists(parent, ec))
    fail("cannot write " + path + ": directory " + parent.string() + " does not exist");
  if (!fs::is_directory(parent, ec)) fail("cannot write " + path + ": " + parent.string() + " is not a directory");
  if (::access(parent.c_str(), W_OK) != 0)
    fail("cannot write " + path + ": directory " + parent.string() + " is not writable (" +
         std::strerror(errno) + ")");
}

void reject_fused_experts(const Checkpoint& ck) {
  for (const TensorRef& t : ck.tensors()) {
    const std::string& n = t.info->name;
    if (n.find(".experts.gate_up_proj") != std::string::npos || n.find(".experts.down_proj") != std::string::npos)
      fail("unsupported: fused expert tensors (" + n + " in " + t.file->path() +
           "); re-save the checkpoint with per-expert tensors");
  }
}

class Conversion {
 public:
  Conversion(const Options& opt, Progress& progress)
      : opt_(opt), progress_(progress), writer_(opt.output),
        converter_(opt.chunk_mb << 20, opt.threads ? opt.threads
                                                   : std::clamp(std::thread::hardware_concurrency(), 1u, 8u)) {}

  ConvertSummary run(ConvertSource* source);

 private:
  bool decide_mtp();
  SourceTensor resolve(const ExpectedTensor& e);
  SourceTensor resolve_slice(const ExpectedTensor& e);
  TensorRef find_fused(const std::string& name, StDtype dtype, const std::vector<uint64_t>& shape,
                       const std::string& what);
  TensorRef resolve_scale(const ExpectedTensor& e, const TensorRef& ref);
  bool same_source(const SourceTensor& a, const SourceTensor& b);
  bool same_bytes(const TensorRef& a, const TensorRef& b);
  // Adds tensor `e` to `segment`, read from `src` (default: the checkpoint tensor e.name).
  uint32_t plan_tensor(uint32_t segment, const ExpectedTensor& e, const SourceTensor* src = nullptr);
  uint32_t add_segment() { ++summary_.segments; return writer_.add_segment(); }
  uint32_t plan_alias(const ExpectedTensor& e, uint32_t of);
  void plan_globals();
  void plan_layer(const ExpectedLayer& layer);
  void write_all();
  void write_blobs();
  void count_ignored();

  const Options& opt_;
  Progress& progress_;
  HfConfig cfg_;
  std::string config_path_;  // config.json of the folder, or ConvertSource::config_path
  std::unique_ptr<Checkpoint> ck_;
  ExpectedModel model_;
  bool has_mtp_ = false;
  MoteWriter writer_;
  TensorConverter converter_;
  std::vector<Job> jobs_;
  std::vector<std::pair<uint32_t, BlobSource>> blobs_;  // (segment, source)
  std::unordered_set<const StTensorInfo*> consumed_;
  std::set<std::string> source_dtypes_;
  uint32_t embed_index_ = 0, lm_head_index_ = 0;
  SourceTensor embed_src_, lm_head_src_;
  ConvertSummary summary_;
};

// The MTP layers are planned only when the checkpoint has them (backed_mtp_layers): the tensor
// list is never built for a count config.json declares but the checkpoint does not hold.
bool Conversion::decide_mtp() {
  const uint32_t n = cfg_.num_nextn_predict_layers;
  const std::string& config_path = config_path_;
  const CheckpointExtent extent = checkpoint_extent(*ck_);
  check_backed(cfg_, extent, config_path);
  const bool want = n > 0 && !opt_.no_mtp;
  if (n > 0 && opt_.no_mtp) progress_.note("MTP layer dropped (--no-mtp)");
  if (want && backed_mtp_layers(cfg_, extent, config_path) == 0) {
    model_ = expected_tensors(cfg_, false);
    progress_.note("the checkpoint has no MTP tensors (config.json declares num_nextn_predict_layers = " +
                   std::to_string(n) + "); MTP layer skipped");
    return false;
  }
  model_ = expected_tensors(cfg_, want);
  if (!want) return false;
  size_t present = 0, total = 0;
  const ExpectedTensor* missing = nullptr;
  auto check = [&](const ExpectedTensor& t) {
    ++total;
    if (ck_->find(t.name)) ++present;
    else if (missing == nullptr) missing = &t;
  };
  for (const ExpectedLayer& layer : model_.layers) {
    if (!layer.mtp) continue;
    for (const auto& t : layer.tensors) check(t);
    for (const auto& ex : layer.experts) for (const auto& t : ex) check(t);
  }
  if (present == total) return true;
  if (present > 0)
    fail("missing tensor " + missing->name + " (expected by config.json: num_nextn_predict_layers = " +
         std::to_string(n) + "; --no-mtp drops the MTP layer)");
  progress_.note("the checkpoint has no MTP tensors (config.json declares num_nextn_predict_layers = " +
                 std::to_string(n) + "); MTP layer skipped");
  model_.layers.resize(cfg_.num_hidden_layers);
  return false;
}

TensorRef Conversion::resolve_scale(const ExpectedTensor& e, const TensorRef& ref) {
  const std::string scale_name = e.name + "_scale_inv";
  const TensorRef scale = ck_->find(scale_name);
  if (!scale)
    fail("FP8 tensor " + e.name + " in " + ref.file->path() + " has no scale tensor " + scale_name);
  if (e.shape.size() != 2) fail("FP8 tensor " + e.name + " must be 2-D to have 128x128 block scales");
  const StDtype sdt = scale.info->dtype;
  if (!st_dtype_decodable(sdt) || sdt == StDtype::F8_E4M3)
    fail(std::string("unsupported dtype ") + st_dtype_name(sdt) + " for scale tensor " + scale_name +
         " in file " + scale.file->path());
  const std::vector<uint64_t> want = {(e.shape[0] + kFp8Block - 1) / kFp8Block,
                                      (e.shape[1] + kFp8Block - 1) / kFp8Block};
  if (scale.info->shape != want)
    fail("scale tensor " + scale_name + " has shape " + shape_string(scale.info->shape) +
         ", expected " + shape_string(want) + " for " + e.name + " " + shape_string(e.shape));
  consumed_.insert(scale.info);
  return scale;
}

// A fused gpt-oss tensor with exactly `dtype` (decodable when `dtype` is F32: any float type)
// and `shape`; `what` names the expected tensor it is read for.
TensorRef Conversion::find_fused(const std::string& name, StDtype dtype, const std::vector<uint64_t>& shape,
                                 const std::string& what) {
  const TensorRef ref = ck_->find(name);
  if (!ref) fail("missing tensor " + name + " (expected by config.json, for " + what + ")");
  if (ref.info->shape != shape)
    fail("tensor " + name + " has shape " + shape_string(ref.info->shape) + ", expected " + shape_string(shape) +
         " (in " + ref.file->path() + ")");
  const StDtype dt = ref.info->dtype;
  const bool ok = dtype == StDtype::F32 ? st_dtype_decodable(dt) && dt != StDtype::F8_E4M3 : dt == dtype;
  if (!ok)
    fail(std::string("unsupported dtype ") + st_dtype_name(dt) + " for tensor " + name + " in file " +
         ref.file->path() + " (expected " + (dtype == StDtype::F32 ? "F32, F16 or BF16" : st_dtype_name(dtype)) + ")");
  consumed_.insert(ref.info);
  source_dtypes_.insert(st_dtype_name(dt));
  return ref;
}

// gpt-oss: one expert's piece of a fused tensor (arch/expected.h SourceSlice). MXFP4 rows need
// *_blocks [E, R, nb, 16] and *_scales [E, R, nb] (U8); biases [E, N] in a float type.
SourceTensor Conversion::resolve_slice(const ExpectedTensor& e) {
  const SourceSlice& sl = e.slice;
  const uint64_t E = cfg_.n_routed_experts, n = e.shape[0] * sl.row_step;  // rows or entries per expert
  SourceTensor s;
  s.expert = sl.expert;
  s.row0 = sl.row0;
  s.row_step = sl.row_step;
  s.src_rows = n;
  s.rows = e.shape.size() == 2 ? e.shape[0] : 1;
  s.cols = e.shape.back();
  if (sl.kind == SourceSlice::Kind::kBiasRows) {
    s.slice = SourceTensor::Slice::kBiasRows;
    s.data = find_fused(sl.tensor, StDtype::F32, {E, n}, e.name);
    return s;
  }
  const uint64_t nb = s.cols / 32;
  const std::string scales = sl.tensor.substr(0, sl.tensor.size() - std::string("_blocks").size()) + "_scales";
  s.slice = SourceTensor::Slice::kMxfp4Rows;
  s.data = find_fused(sl.tensor, StDtype::U8, {E, n, nb, 16}, e.name);
  s.scale = find_fused(scales, StDtype::U8, {E, n, nb}, e.name);
  return s;
}

SourceTensor Conversion::resolve(const ExpectedTensor& e) {
  if (e.slice.kind != SourceSlice::Kind::kNone) return resolve_slice(e);
  const TensorRef ref = ck_->find(e.name);
  if (!ref) fail("missing tensor " + e.name + " (expected by config.json)");
  if (ref.info->shape != e.shape)
    fail("tensor " + e.name + " has shape " + shape_string(ref.info->shape) + ", expected " +
         shape_string(e.shape) + " (in " + ref.file->path() + ")");
  const StDtype dt = ref.info->dtype;
  if (!st_dtype_decodable(dt))
    fail(std::string("unsupported dtype ") + st_dtype_name(dt) + " for tensor " + e.name + " in file " +
         ref.file->path() + " (supported: F32, F16, BF16, F8_E4M3)");
  consumed_.insert(ref.info);
  source_dtypes_.insert(st_dtype_name(dt));
  SourceTensor s;
  s.data = ref;
  s.rows = e.shape.size() == 2 ? e.shape[0] : 1;
  s.cols = e.shape.back();
  if (dt == StDtype::F8_E4M3) s.scale = resolve_scale(e, ref);
  return s;
}

// Streams both tensors' bytes and compares them; bounded by two chunk buffers.
bool Conversion::same_bytes(const TensorRef& a, const TensorRef& b) {
  if (a.info->dtype != b.info->dtype || a.info->shape != b.info->shape) return false;
  const uint64_t size = a.info->size();
  const uint64_t chunk = std::min<uint64_t>(std::max<uint64_t>(size, 1), opt_.chunk_mb << 20);
  std::unique_ptr<uint8_t[]> x(new uint8_t[chunk]), y(new uint8_t[chunk]);
  for (uint64_t off = 0; off < size; off += chunk) {
    const uint64_t n = std::min(chunk, size - off);
    a.read(off, x.get(), n);
    b.read(off, y.get(), n);
    if (std::memcmp(x.get(), y.get(), n) != 0) return false;
    summary_.source_bytes += 2 * n;
  }
  return true;
}

bool Conversion::same_source(const SourceTensor& a, const SourceTensor& b) {
  if (!same_bytes(a.data, b.data)) return false;
  if (bool(a.scale) != bool(b.scale)) return false;
  return !a.scale || same_bytes(a.scale, b.scale);
}

uint32_t Conversion::plan_tensor(uint32_t segment, const ExpectedTensor& e, const SourceTensor* source) {
  const SourceTensor src = source ? *source : resolve(e);
  convert::PlannedTensor t;
  t.name = e.name;
  t.role = e.role;
  t.tensor_class = e.tensor_class;
  t.layer = e.layer;
  t.expert = e.expert;
  t.shape = e.shape;
  // gpt-oss experts stay in their native MXFP4 whatever the recipe (no re-quantisation).
  t.type = src.slice == SourceTensor::Slice::kMxfp4Rows ? WeightType::MXFP4
                                                         : opt_.recipe.type_for(e.tensor_class, e.shape.size());
  t.row_group = row_group_for(t.role, t.type, t.shape, opt_.row_major);
  const uint32_t index = writer_.add_tensor(segment, std::move(t));
  jobs_.push_back({index, src, writer_.tensor(index).type, writer_.tensor(index).row_group});
  return index;
}

uint32_t Conversion::plan_alias(const ExpectedTensor& e, uint32_t of) {
  convert::PlannedTensor t;
  t.name = e.name;
  t.role = e.role;
  t.tensor_class = e.tensor_class;
  t.layer = e.layer;
  t.expert = e.expert;
  t.shape = e.shape;
  t.type = writer_.tensor(of).type;
  ++summary_.aliases;
  return writer_.add_alias(std::move(t), of);
}

void Conversion::plan_globals() {
  const uint32_t seg = add_segment();
  embed_index_ = plan_tensor(seg, model_.globals[0]);
  embed_src_ = jobs_.back().source;
  plan_tensor(seg, model_.globals[1]);
  const ExpectedTensor& lm = model_.globals[2];
  if (!ck_->find(lm.name) && cfg_.tie_word_embeddings) {
    // Tied embeddings: lm_head is embed_tokens (converted again if the output type differs).
    lm_head_src_ = embed_src_;
    if (opt_.recipe.type_for(lm.tensor_class, 2) == writer_.tensor(embed_index_).type) {
      lm_head_index_ = plan_alias(lm, embed_index_);
    } else {
      lm_head_index_ = plan_tensor(seg, lm, &embed_src_);
    }
    return;
  }
  lm_head_index_ = plan_tensor(seg, lm);
  lm_head_src_ = jobs_.back().source;
}

void Conversion::plan_layer(const ExpectedLayer& layer) {
  const uint32_t seg = add_segment();
  for (const ExpectedTensor& t : layer.tensors) {
    if (t.role == fb::TensorRole::MtpEmbedding || t.role == fb::TensorRole::MtpHead) {
      const bool embed = t.role == fb::TensorRole::MtpEmbedding;
      SourceTensor src = resolve(t);
      if (same_source(src, embed ? embed_src_ : lm_head_src_)) plan_alias(t, embed ? embed_index_ : lm_head_index_);
      else plan_tensor(seg, t, &src);
      continue;
    }
    plan_tensor(seg, t);
  }
  for (uint32_t e = 0; e < layer.experts.size(); ++e) {
    const uint32_t eseg = add_segment();
    PlannedExpert pe;
    pe.layer = layer.layer;
    pe.expert = e;
    pe.segment = eseg;
    pe.gate = plan_tensor(eseg, layer.experts[e][0]);
    pe.up = plan_tensor(eseg, layer.experts[e][1]);
    pe.down = plan_tensor(eseg, layer.experts[e][2]);
    if (e < layer.expert_extras.size())
      for (const ExpectedTensor& extra : layer.expert_extras[e]) plan_tensor(eseg, extra);
    writer_.add_expert(pe);
    ++summary_.experts;
  }
}

void Conversion::count_ignored() {
  const TensorRef* example = nullptr;
  for (const TensorRef& t : ck_->tensors()) {
    if (consumed_.count(t.info)) continue;
    if (example == nullptr) example = &t;
    ++summary_.ignored;
  }
  if (example != nullptr)
    progress_.note(std::to_string(summary_.ignored) + " checkpoint tensor(s) not used by " + cfg_.model_type +
                   " (e.g. " + example->info->name + "); ignored");
}

// Blobs (tokenizer files, a few MB) stream through a 1 MiB buffer: the converter's chunk
// buffers are still allocated here, so this must not add another chunk.
void Conversion::write_blobs() {
  constexpr uint64_t kPiece = uint64_t(1) << 20;
  std::unique_ptr<uint8_t[]> buf;
  for (const auto& [seg, blob] : blobs_) {
    if (blob.path.empty()) {
      if (blob.size > 0) writer_.write_blob_bytes(seg, blob.bytes.data(), blob.size);
      continue;
    }
    if (!buf) buf.reset(new uint8_t[kPiece]);
    struct Fd {
      int fd;
      ~Fd() { if (fd >= 0) ::close(fd); }
    } f{::open(blob.path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) fail("cannot open " + blob.path + ": " + std::strerror(errno));
    for (uint64_t off = 0; off < blob.size; off += kPiece) {
      const uint64_t n = std::min(kPiece, blob.size - off);
      pread_exact(f.fd, buf.get(), n, off, blob.path, "blob " + blob.name);  // throws if it shrank
      writer_.write_blob_bytes(seg, buf.get(), n);
    }
  }
}

void Conversion::write_all() {
  const HfConfig cfg = cfg_;
  const uint32_t nextn = has_mtp_ ? cfg_.num_nextn_predict_layers : 0;
  std::string dtypes;
  for (const auto& d : source_dtypes_) dtypes += (dtypes.empty() ? "" : "+") + d;
  writer_.begin([cfg, nextn](flatbuffers::FlatBufferBuilder& b) { return build_model_config(b, cfg, nextn); },
                ProvenanceInfo{opt_.input_dir, dtypes, opt_.recipe.describe()}, has_mtp_);
  progress_.set_total(jobs_.size());
  uint64_t written = 0, done = 0;
  for (size_t i = 0; i < jobs_.size(); ++i) {
    const Job& job = jobs_[i];
    // Overlap reading with quantising: start reading the next tensor's first chunk now
    // (page cache, TensorConverter::convert prefetches the chunks after it).
    if (i + 1 < jobs_.size() && jobs_[i + 1].source.slice == SourceTensor::Slice::kNone)
      jobs_[i + 1].source.data.prefetch(0, opt_.chunk_mb << 20);
    converter_.convert(
        job.source, job.type,
        [&](const uint8_t* data, uint64_t n) {
          writer_.write_tensor_bytes(job.index, data, n);
          written += n;
          progress_.update(done, written);
        },
        job.row_group);
    // A fused gpt-oss tensor is read piece by piece; count the piece (bytes written ~ bytes read).
    summary_.source_bytes += job.source.slice == SourceTensor::Slice::kNone ? job.source.data.info->size()
                                                                              : writer_.tensor(job.index).size;
    progress_.update(++done, written);
  }
  progress_.update(done, written, true);
  write_blobs();
  progress_.end_line();
  summary_.peak_buffer_bytes = converter_.buffer_bytes();
  writer_.finish();
}

// `source` null: the checkpoint folder opt_.input_dir; else generated weights (ConvertSource).
ConvertSummary Conversion::run(ConvertSource* source) {
  check_output_path(opt_.output);
  for (const std::string& stale : remove_stale_temps(opt_.output))
    progress_.note("removed " + stale + " (temporary file of a conversion that did not finish)");
  config_path_ = source ? source->config_path : (fs::path(opt_.input_dir) / "config.json").string();
  cfg_ = source ? parse_config(source->config_json, source->config_path) : load_config(opt_.input_dir);
  const std::string blob_dir = source ? source->blob_dir : opt_.input_dir;
  std::vector<std::string> tokenizer_notes;
  if (!blob_dir.empty()) check_tokenizer_files(blob_dir, &tokenizer_notes);
  for (const std::string& n : tokenizer_notes) progress_.note(n);
  ck_ = source ? std::move(source->checkpoint) : Checkpoint::open(opt_.input_dir);
  if (!ck_) fail("internal: ConvertSource without a checkpoint");
  if (!find_converter_family(cfg_.architecture)->fused_experts) reject_fused_experts(*ck_);
  has_mtp_ = decide_mtp();
  plan_globals();
  for (const ExpectedLayer& layer : model_.layers) plan_layer(layer);
  std::vector<std::string> blob_notes;
  std::vector<BlobSource> blobs;
  if (!blob_dir.empty()) blobs = find_blobs(blob_dir, &blob_notes);
  for (BlobSource& b : blobs) {
    const uint32_t seg = writer_.add_blob(b.name, b.size);
    ++summary_.segments;
    blobs_.emplace_back(seg, std::move(b));
  }
  for (const std::string& n : blob_notes) progress_.note(n);
  count_ignored();
  write_all();
  summary_.tensors = writer_.tensor_count();
  summary_.blobs = blobs_.size();
  summary_.has_mtp = has_mtp_;
  summary_.file_bytes = fs::file_size(opt_.output);
  summary_.seconds = progress_.seconds();
  return summary_;
}

}  // namespace

ConvertSummary convert_checkpoint(const Options& options, Progress& progress) {
  Conversion conversion(options, progress);
  return conversion.run(nullptr);
}

ConvertSummary convert_checkpoint(const Options& options, Progress& progress, ConvertSource source) {
  Conversion conversion(options, progress);
  return conversion.run(&source);
}

}  // namespace mote::convert
