// write_gguf: streams a Plan's tensors from the .mote file into the GGUF data area.
//
// Memory: one chunk of at most kChunkBytes (whole row groups of 16 rows, or whole rows) for the
// .mote bytes and one for the row-major output. The bytes are read with pread (a reader of the
// file's loader, not its mapping) and their page cache is dropped after each chunk, so neither
// RSS nor the page cache grows with the model (a 17 GB model under a 2 GiB cgroup).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "core/half.h"
#include "kernels/quant.h"
#include "mote_to_gguf.h"
#include "pipeline/progress.h"

namespace mote::gguf {
namespace {

constexpr uint64_t kChunkBytes = 8ull << 20;

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error(msg); }

// An output file written under a temporary name, removed unless commit() renamed it.
class TempOutput {
 public:
  explicit TempOutput(const std::string& out) : out_(out), tmp_(out + ".tmp-" + std::to_string(getpid())) {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail(tmp_ + ": cannot create: " + std::strerror(errno));
  }
  ~TempOutput() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  void write(const void* data, uint64_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, std::min<uint64_t>(n, 1u << 30));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail(tmp_ + ": write failed: " + std::strerror(errno));
      p += w;
      n -= uint64_t(w);
      written_ += uint64_t(w);
    }
  }
  void pad_to(uint64_t alignment) {
    static const char zeros[64] = {};
    const uint64_t pad = (alignment - written_ % alignment) % alignment;
    write(zeros, pad);
  }
  uint64_t written() const { return written_; }
  void commit() {
    if (::fsync(fd_) != 0) fail(tmp_ + ": fsync failed: " + std::strerror(errno));
    if (::close(fd_) != 0) fail(tmp_ + ": close failed: " + std::strerror(errno));
    fd_ = -1;
    if (std::rename(tmp_.c_str(), out_.c_str()) != 0) fail(out_ + ": cannot rename " + tmp_ + " onto it: " + std::strerror(errno));
    committed_ = true;
  }

 private:
  std::string out_, tmp_;
  int fd_ = -1;
  uint64_t written_ = 0;
  bool committed_ = false;
};

// Writes one .mote tensor's bytes as ggml expects them: row-major blocks (row groups
// de-interleaved), 1-D F16/BF16 widened to F32.
void write_part(const MoteFile& file, const DataLoader& src, const fb::Tensor& t, bool to_f32,
                std::vector<uint8_t>& in, std::vector<uint8_t>& out, TempOutput& dst) {
  const WeightView v = file.view(t);
  const uint64_t at = file.segment_file_offset(t.segment()) + t.offset();
  const uint64_t size = t.size();
  if (to_f32) {
    const uint64_t n = uint64_t(v.cols);
    in.resize(size);
    if (Status st = src.read_at(at, in.data(), size); !st) fail(st.message());
    std::vector<float> f(n);
    for (uint64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, in.data() + 2 * i, 2);
      f[i] = v.type == WeightType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
    }
    dst.write(f.data(), n * 4);
    return;
  }
  const uint64_t group_rows = v.grouped() ? uint64_t(kRowGroup) : 1;
  const uint64_t unit = group_rows * v.row_stride;  // bytes of one row group (or row)
  const uint64_t units = size / unit;
  const uint64_t per_chunk = std::max<uint64_t>(1, kChunkBytes / unit);
  for (uint64_t u0 = 0; u0 < units; u0 += per_chunk) {
    const uint64_t n = std::min(per_chunk, units - u0);
    in.resize(n * unit);
    if (Status st = src.read_at(at + u0 * unit, in.data(), n * unit); !st) fail(st.message());
    src.release_pages(at + u0 * unit, n * unit);  // page cache: a memory limit counts it too
    if (!v.grouped()) {
      dst.write(in.data(), n * unit);
      continue;
    }
    out.resize(n * unit);
    for (uint64_t g = 0; g < n; ++g) deinterleave_row_group(v.type, in.data() + g * unit, v.cols, out.data() + g * unit);
    dst.write(out.data(), n * unit);
  }
}

}  // namespace

void write_gguf(const MoteFile& file, Plan& plan, const std::string& out, bool quiet) {
  std::vector<TensorInfo> infos;
  for (const PlannedTensor& p : plan.tensors) infos.push_back(p.info);
  uint64_t data_bytes = 0;
  const std::string header = encode_header(plan.meta, infos, &data_bytes);
  for (size_t i = 0; i < infos.size(); ++i) plan.tensors[i].info.offset = infos[i].offset;

  TempOutput dst(out);
  dst.write(header.data(), header.size());
  convert::Progress progress(quiet);
  progress.set_total(plan.tensors.size());
  auto reader = file.loader().reader(/*direct_io=*/false);
  if (!reader) fail(reader.status().message());
  std::vector<uint8_t> in, buf;
  uint64_t done = 0;
  for (const PlannedTensor& p : plan.tensors) {
    const uint64_t start = dst.written();
    if (start - header.size() != p.info.offset) fail(out + ": internal error: " + p.info.name + " lands at the wrong offset");
    for (const fb::Tensor* t : p.parts) write_part(file, **reader, *t, p.to_f32, in, buf, dst);
    if (dst.written() - start != p.info.bytes)
      fail(out + ": internal error: " + p.info.name + " wrote " + std::to_string(dst.written() - start) + " bytes, expected " +
           std::to_string(p.info.bytes));
    dst.pad_to(kAlignment);
    progress.update(++done, dst.written());
  }
  progress.update(done, dst.written(), true);
  progress.end_line();
  if (Status st = file.check_mapping(); !st) fail(st.message());
  dst.commit();
}

}  // namespace mote::gguf
