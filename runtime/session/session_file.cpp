#include "session/session_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "format/checksum.h"
#include "format/header.h"

namespace mote {
namespace {

constexpr char kSessionMagic[8] = {'M', 'O', 'T', 'E', 'S', 'E', 'S', 'S'};
constexpr uint32_t kSessionVersion = 2;  // 2: typed rows, rings (kv_type, layout_checksum)

struct SessionFileHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_size;
  uint64_t model_file_size;        // identity of the model file: its size and the checksum of
  uint64_t model_metadata_checksum;  // its metadata (tensor table, config) from its header
  uint32_t n_layers, kv_cache_dim, hidden_size, vocab_size;
  int64_t n_tokens, position, mtp_position;
  uint32_t has_mtp;
  uint32_t kv_type;                // KvType of the rows
  uint64_t layout_checksum;        // layout_checksum(plan): the main layers' kind, row bytes, ring rows
  uint64_t payload_bytes;          // between the header and the trailing checksum
};
static_assert(sizeof(SessionFileHeader) == 96 && sizeof(SessionFileHeader) % 8 == 0);

// What must match between a file and the session loading it, beyond the model: per main layer
// (kind, row_bytes, ring rows); full-length layers' row counts (max_context) may differ.
uint64_t layout_checksum(const LayerStatePlan& plan, int64_t n_layers) {
  uint64_t state = kChecksumSeed;
  for (int64_t l = 0; l < n_layers; ++l) {
    const LayerStateDesc& d = plan.layers[size_t(l)];
    const int64_t fields[3] = {int64_t(d.kind), d.row_bytes, d.kind == LayerStateKind::kKvRing ? d.rows : 0};
    state = checksum64(fields, sizeof fields, state);
  }
  return state;
}

// Bytes of main layer l's saved rows: a ring's whole ring, else the rows in use.
uint64_t layer_saved_bytes(const LayerStateDesc& d, int64_t position) {
  return uint64_t(d.kind == LayerStateKind::kKvRing ? d.rows : position) * uint64_t(d.row_bytes);
}

uint64_t padded_token_bytes(int64_t n) { return (uint64_t(n) * 4 + 7) & ~uint64_t(7); }

// The payload size of a header whose layout matches `plan` (main layers; the MTP block's rows
// are as wide as layer 0's: MTP comes with MLA only).
uint64_t payload_size(const SessionFileHeader& h, const LayerStatePlan& plan) {
  uint64_t bytes = padded_token_bytes(h.n_tokens) + uint64_t(h.n_layers) * 8;
  for (uint32_t l = 0; l < h.n_layers; ++l) bytes += layer_saved_bytes(plan.layers[l], h.position);
  if (h.has_mtp) bytes += uint64_t(h.mtp_position) * uint64_t(plan.layers[0].row_bytes) + uint64_t(h.hidden_size) * 4;
  return bytes;
}

std::string errno_text() { return std::strerror(errno); }

class Writer {
 public:
  Writer(int fd, const std::string& path) : fd_(fd), path_(path) {}
  Status write(const void* data, size_t n) {
    hash_.update(data, n);
    auto* p = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, std::min<size_t>(n, size_t(1) << 30));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return io_error(path_ + ": cannot write the session: " + errno_text());
      p += w, n -= size_t(w);
    }
    return Status::ok();
  }
  uint64_t checksum() const { return hash_.finish(); }

 private:
  int fd_;
  const std::string& path_;
  Checksum64Stream hash_;
};

SessionFileHeader header_of(const Session& s) {
  const HParams& hp = s.model().hparams();
  const FileHeader& model_header = s.model().file().header();
  SessionFileHeader h{};
  std::memcpy(h.magic, kSessionMagic, 8);
  h.version = kSessionVersion;
  h.header_size = sizeof(SessionFileHeader);
  h.model_file_size = model_header.file_size;
  h.model_metadata_checksum = model_header.metadata_checksum;
  h.n_layers = uint32_t(hp.n_layers);
  h.kv_cache_dim = uint32_t(hp.kv_cache_dim);
  h.hidden_size = uint32_t(hp.hidden_size);
  h.vocab_size = uint32_t(hp.vocab_size);
  h.n_tokens = int64_t(s.tokens().size());
  h.position = s.position();
  h.has_mtp = s.has_mtp() ? 1 : 0;
  h.mtp_position = s.has_mtp() ? s.mtp_position() : 0;
  h.kv_type = uint32_t(s.kv_type());
  h.layout_checksum = layout_checksum(s.layer_state_plan(), hp.n_layers);
  h.payload_bytes = payload_size(h, s.layer_state_plan());
  return h;
}

// Device state (Session::state_data() etc., backend memory) through a bounded host buffer:
// downloaded piece by piece into `out`, or read from `in` and uploaded.
template <typename Out>
Status write_device(Out& out, backend::Backend& b, const void* device, size_t bytes) {
  uint8_t buffer[1 << 16];
  const auto* p = static_cast<const uint8_t*>(device);
  for (size_t done = 0; done < bytes;) {
    const size_t step = std::min(bytes - done, sizeof buffer);
    b.download(buffer, p + done, step);
    MOTE_RETURN_IF_ERROR(out.write(buffer, step));
    done += step;
  }
  return Status::ok();
}

template <typename In>
Status read_device(In& in, backend::Backend& b, void* device, size_t bytes) {
  uint8_t buffer[1 << 16];
  auto* p = static_cast<uint8_t*>(device);
  for (size_t done = 0; done < bytes;) {
    const size_t step = std::min(bytes - done, sizeof buffer);
    MOTE_RETURN_IF_ERROR(in.read(buffer, step));
    b.upload(p + done, buffer, step);
    done += step;
  }
  return Status::ok();
}

Status write_payload(const Session& s, const SessionFileHeader& h, Writer& out) {
  backend::Backend& b = s.model().backend();
  MOTE_RETURN_IF_ERROR(out.write(&h, sizeof h));
  MOTE_RETURN_IF_ERROR(out.write(s.tokens().data(), size_t(h.n_tokens) * 4));
  const uint8_t zeros[8] = {};
  MOTE_RETURN_IF_ERROR(out.write(zeros, padded_token_bytes(h.n_tokens) - uint64_t(h.n_tokens) * 4));
  const LayerStatePlan& plan = s.layer_state_plan();
  for (uint32_t l = 0; l < h.n_layers; ++l) {
    const int64_t floor = s.rewind_tracker().floor(l);
    MOTE_RETURN_IF_ERROR(out.write(&floor, sizeof floor));
  }
  for (uint32_t l = 0; l < h.n_layers; ++l)
    MOTE_RETURN_IF_ERROR(write_device(out, b, s.state_data() + plan.layers[l].offset,
                                      layer_saved_bytes(plan.layers[l], h.position)));
  if (h.has_mtp) {
    const LayerStateDesc& mtp = plan.layers[h.n_layers];
    MOTE_RETURN_IF_ERROR(write_device(out, b, s.state_data() + mtp.offset, size_t(h.mtp_position * mtp.row_bytes)));
    MOTE_RETURN_IF_ERROR(write_device(out, b, s.mtp_pending_hidden(), size_t(h.hidden_size) * 4));
  }
  const uint64_t sum = out.checksum();
  return out.write(&sum, sizeof sum);
}

}  // namespace

Status save_session(const Session& session, const std::string& path) {
  if (session.has_mtp() && session.position() - session.mtp_position() > 1)
    return invalid_argument("save_session: the MTP lags " + std::to_string(session.position() - session.mtp_position()) +
                            " positions behind; call Session::mtp_settle first");
  const SessionFileHeader h = header_of(session);
  const std::string temp = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error(path + ": cannot create " + temp + ": " + errno_text());
  Writer out(fd, path);
  Status st = write_payload(session, h, out);
  if (st && ::fsync(fd) != 0) st = io_error(path + ": cannot sync the session: " + errno_text());
  if (::close(fd) != 0 && st) st = io_error(path + ": cannot close the session: " + errno_text());
  if (st && ::rename(temp.c_str(), path.c_str()) != 0)
    st = io_error(path + ": cannot rename " + temp + " into place: " + errno_text());
  if (!st) ::unlink(temp.c_str());
  return st;
}

namespace {

class Reader {
 public:
  Reader(int fd, const std::string& path) : fd_(fd), path_(path) {}
  Status read(void* data, size_t n) {
    auto* p = static_cast<char*>(data);
    const size_t total = n;
    while (n > 0) {
      const ssize_t r = ::read(fd_, p, std::min<size_t>(n, size_t(1) << 30));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return io_error(path_ + ": cannot read the session: " + errno_text());
      if (r == 0) return corrupt_file(path_ + ": session file is truncated");
      p += r, n -= size_t(r);
    }
    hash_.update(data, total);
    return Status::ok();
  }
  // Reads n bytes into nowhere (hashing them) through a bounded buffer.
  Status skip(uint64_t n) {
    char buffer[1 << 16];
    while (n > 0) {
      const size_t step = size_t(std::min<uint64_t>(n, sizeof buffer));
      MOTE_RETURN_IF_ERROR(read(buffer, step));
      n -= step;
    }
    return Status::ok();
  }
  uint64_t checksum() const { return hash_.finish(); }
  Status rewind() {
    hash_ = Checksum64Stream();
    if (::lseek(fd_, 0, SEEK_SET) != 0) return io_error(path_ + ": cannot seek: " + errno_text());
    return Status::ok();
  }

 private:
  int fd_;
  const std::string& path_;
  Checksum64Stream hash_;
};

// Every field checked against this session before any byte of the payload is trusted.
Status check_header(const Session& s, const SessionFileHeader& h, uint64_t file_size, const std::string& path) {
  if (std::memcmp(h.magic, kSessionMagic, 8) != 0) return corrupt_file(path + ": not a mote session file (magic)");
  if (h.version != kSessionVersion || h.header_size != sizeof h)
    return corrupt_file(path + ": session file version " + std::to_string(h.version) + " is not supported (expected " +
                        std::to_string(kSessionVersion) + (h.version == 1 ? "; version 1 predates typed KV caches: "
                                                                            "re-create the session" : "") + ")");
  const SessionFileHeader mine = header_of(s);
  if (h.model_file_size != mine.model_file_size || h.model_metadata_checksum != mine.model_metadata_checksum)
    return invalid_argument(path + ": the session was saved with another model file (model_identity differs from " +
                            s.model().file().path() + ")");
  if (h.n_layers != mine.n_layers || h.kv_cache_dim != mine.kv_cache_dim || h.hidden_size != mine.hidden_size ||
      h.vocab_size != mine.vocab_size)
    return corrupt_file(path + ": session dimensions (n_layers, kv_cache_dim, hidden_size, vocab_size) do not match the model");
  if (h.kv_type != mine.kv_type)
    return invalid_argument(path + ": session field kv_type is " +
                            (h.kv_type <= 2 ? kv_type_name(KvType(h.kv_type)) : std::to_string(h.kv_type)) +
                            " in the file but " + kv_type_name(s.kv_type()) + " in this session (use the same --kv-type)");
  if (h.layout_checksum != mine.layout_checksum)
    return invalid_argument(path + ": session field layout_checksum differs: the per-layer state layout (ring sizes: "
                            "max_batch, rings) is not this session's");
  if (h.n_tokens < 0 || h.n_tokens > s.max_context() + 1 || h.position < 0 || h.position > h.n_tokens ||
      h.position > s.max_context())
    return out_of_range(path + ": session of " + std::to_string(h.n_tokens) + " tokens (position " +
                        std::to_string(h.position) + ") does not fit max_context " + std::to_string(s.max_context()));
  if (h.has_mtp > 1 || (h.has_mtp && (h.mtp_position < std::max<int64_t>(0, h.position - 1) || h.mtp_position > h.position)))
    return corrupt_file(path + ": session field mtp_position " + std::to_string(h.mtp_position) + " is inconsistent");
  if (h.payload_bytes != payload_size(h, s.layer_state_plan()) || file_size != sizeof h + h.payload_bytes + 8)
    return corrupt_file(path + ": session file size " + std::to_string(file_size) + " does not match its header (payload_bytes)");
  return Status::ok();
}

Status read_into(Session& s, const SessionFileHeader& h, Reader& in, std::vector<int32_t>& tokens,
                 std::vector<int64_t>& floors) {
  backend::Backend& b = s.model().backend();
  SessionFileHeader again;
  MOTE_RETURN_IF_ERROR(in.read(&again, sizeof again));
  if (std::memcmp(&again, &h, sizeof h) != 0) return corrupt_file("session file changed while it was read");
  tokens.resize(size_t(h.n_tokens));
  MOTE_RETURN_IF_ERROR(in.read(tokens.data(), tokens.size() * 4));
  MOTE_RETURN_IF_ERROR(in.skip(padded_token_bytes(h.n_tokens) - uint64_t(h.n_tokens) * 4));
  floors.resize(h.n_layers);
  MOTE_RETURN_IF_ERROR(in.read(floors.data(), floors.size() * 8));
  for (int64_t f : floors)
    if (f < 0 || f > h.position) return corrupt_file("session field floor " + std::to_string(f) + " is inconsistent");
  const LayerStatePlan& plan = s.layer_state_plan();
  for (uint32_t l = 0; l < h.n_layers; ++l)
    MOTE_RETURN_IF_ERROR(read_device(in, b, s.state_data() + plan.layers[l].offset,
                                     layer_saved_bytes(plan.layers[l], h.position)));
  const uint64_t mtp_bytes = uint64_t(h.mtp_position) * uint64_t(plan.layers[0].row_bytes);
  if (h.has_mtp && s.has_mtp()) {
    MOTE_RETURN_IF_ERROR(read_device(in, b, s.state_data() + plan.layers[h.n_layers].offset, mtp_bytes));
    MOTE_RETURN_IF_ERROR(read_device(in, b, s.mtp_pending_hidden(), size_t(h.hidden_size) * 4));
  } else if (h.has_mtp) {
    MOTE_RETURN_IF_ERROR(in.skip(mtp_bytes + uint64_t(h.hidden_size) * 4));
  }
  return Status::ok();
}

}  // namespace

Status load_session(Session& session, const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status(errno == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError,
                            path + ": cannot open the session: " + errno_text());
  struct Closer { int fd; ~Closer() { ::close(fd); } } closer{fd};
  struct stat st_buf{};
  if (::fstat(fd, &st_buf) != 0 || !S_ISREG(st_buf.st_mode)) return invalid_argument(path + ": not a regular file");
  Reader in(fd, path);
  SessionFileHeader h;
  if (uint64_t(st_buf.st_size) < sizeof h) return corrupt_file(path + ": session file is truncated (no header)");
  MOTE_RETURN_IF_ERROR(in.read(&h, sizeof h));
  MOTE_RETURN_IF_ERROR(check_header(session, h, uint64_t(st_buf.st_size), path));
  // Pass 1: the checksum, so a damaged file never touches the session.
  MOTE_RETURN_IF_ERROR(in.skip(h.payload_bytes));
  const uint64_t computed = in.checksum();
  uint64_t stored = 0;
  MOTE_RETURN_IF_ERROR(in.read(&stored, sizeof stored));
  if (stored != computed) return corrupt_file(path + ": session checksum mismatch (the file is damaged)");
  // Pass 2: into the session's buffers.
  MOTE_RETURN_IF_ERROR(in.rewind());
  std::vector<int32_t> tokens;
  std::vector<int64_t> floors;
  Status st = read_into(session, h, in, tokens, floors);
  if (st && in.checksum() != stored) st = corrupt_file(path + ": session file changed while it was read");
  if (!st) {
    session.reset();  // the caches may hold part of the file
    return st;
  }
  if (!session.has_mtp()) return session.restore_state(tokens, h.position, 0, floors);
  if (h.has_mtp) return session.restore_state(tokens, h.position, h.mtp_position, floors);
  // No MTP state saved: rewind one token so the next prefill rebuilds it (see Session::truncate).
  // MTP comes with MLA only, whose layers rewind freely (no rings).
  const int64_t back = std::max<int64_t>(0, h.position - 1);
  return session.restore_state(tokens, back, back, floors);
}

}  // namespace mote
