// libFuzzer target: loading a saved session (session/session_file.h).
//
// The model is fixed (tests/fuzz/corpus/fuzz_mote_file/ds3_tiny.mote, which has an MTP module);
// what varies is the session file. A valid file is built once at start (a short conversation,
// saved), and each input edits it: the first byte picks whether the trailing checksum is
// repaired after the edit (so the edits reach the header and payload checks behind it, as an
// attacker could), the second and third give a length to cut the file to, and the rest are
// (offset, value) pairs written over the bytes. What must hold: every file is refused cleanly or
// loads into a consistent session that then evaluates a token, in bounded time and memory.
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "format/checksum.h"
#include "fuzz/fuzz_util.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "session/session.h"
#include "session/session_file.h"

namespace {

std::unique_ptr<mote::Model> g_model;
std::vector<uint8_t> g_valid;  // a saved session of g_model

std::unique_ptr<mote::Session> new_session() {
  mote::SessionOptions so;
  so.max_context = 64;
  so.max_batch = 8;
  so.mtp = true;
  auto s = mote::Session::create(*g_model, so);
  if (!s) abort();
  return std::move(s).value();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mote::kernels::set_num_threads(1);
  auto model = mote::Model::open(MOTE_FUZZ_SESSION_MODEL);
  if (!model) abort();
  g_model = std::move(model).value();
  auto s = new_session();
  const int32_t ids[] = {1, 5, 9, 2, 7, 3};
  if (!s->prefill(ids, nullptr, mote::LogitsMode::kNone)) abort();
  const int32_t pending = 4;
  if (!s->append_pending({&pending, 1})) abort();
  char name[] = "/tmp/mote-fuzz-session-XXXXXX";
  const int fd = mkstemp(name);
  if (fd < 0) abort();
  ::close(fd);
  if (!mote::save_session(*s, name)) abort();
  std::ifstream in(name, std::ios::binary);
  g_valid.assign(std::istreambuf_iterator<char>(in), {});
  ::unlink(name);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mote::fuzz::ScratchFile file("session");
  if (size < 3) return 0;
  std::vector<uint8_t> buf = g_valid;
  const bool repair = data[0] & 1;
  const size_t cut = size_t(data[1]) | size_t(data[2]) << 8;  // 0xffff: keep the length
  for (size_t i = 3; i + 2 < size; i += 3) {
    const size_t at = (size_t(data[i]) | size_t(data[i + 1]) << 8) % buf.size();
    buf[at] = data[i + 2];
  }
  if (cut != 0xffff && cut < buf.size()) buf.resize(cut);
  if (repair && buf.size() >= 8) {
    const uint64_t sum = mote::checksum64(buf.data(), buf.size() - 8);
    std::memcpy(buf.data() + buf.size() - 8, &sum, 8);
  }
  const std::string& path = file.write(buf.data(), buf.size());
  auto s = new_session();
  if (!mote::load_session(*s, path)) return 0;
  std::vector<float> logits(size_t(g_model->hparams().vocab_size));
  const int32_t next = 6;
  (void)s->prefill({&next, 1}, logits.data());
  return 0;
}
