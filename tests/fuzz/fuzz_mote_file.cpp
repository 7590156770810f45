// libFuzzer target: opening a .mote file, then one forward step.
//
// The input is a whole .mote file. Before opening it the harness repairs what a random mutation
// almost always breaks, so mutations reach the hyper-parameters, tensor table and expert tables
// instead of stopping at the first integrity check: the header's file_size (set to the input
// size), every in-bounds segment checksum (written into the FlatBuffer's Segment structs), and
// then the metadata checksum over the repaired FlatBuffer. An attacker can do the same, so none of
// these checks is a defence (issue #12); what has to hold is that any file is rejected cleanly or
// runs in bounded time and memory.
//
// If the model opens: a session with a tiny context runs one prefill token and one decode token.
#include <cstring>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "format/checksum.h"
#include "format/header.h"
#include "fuzz/fuzz_util.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "mote/mote_generated.h"
#include "session/session.h"

namespace {

bool fits(uint64_t offset, uint64_t size, uint64_t total) { return offset <= total && size <= total - offset; }

// Rewrites checksums and file_size in `buf` so that integrity checks pass (see the file comment).
void fix_up(std::vector<uint8_t>& buf) {
  if (buf.size() < sizeof(mote::FileHeader)) return;
  mote::FileHeader h;
  std::memcpy(&h, buf.data(), sizeof(h));
  h.file_size = buf.size();
  if (h.metadata_size <= (uint64_t(1) << 31) && fits(h.metadata_offset, h.metadata_size, buf.size()) &&
      h.metadata_offset >= sizeof(h)) {
    uint8_t* meta = buf.data() + h.metadata_offset;
    flatbuffers::Verifier verifier(meta, h.metadata_size);
    if (mote::fb::VerifyModelBuffer(verifier)) {
      const mote::fb::Model* model = mote::fb::GetModel(meta);
      if (model->segments() != nullptr && h.data_offset <= buf.size()) {
        const uint64_t data_size = buf.size() - h.data_offset;
        for (const mote::fb::Segment* s : *model->segments()) {
          if (!fits(s->offset(), s->size(), data_size)) continue;
          const uint64_t sum = mote::checksum64(buf.data() + h.data_offset + s->offset(), s->size());
          // The struct lives inside `meta` (our own mutable copy): write its checksum field, the
          // third ulong of struct Segment {offset, size, checksum} (schema/mote.fbs).
          static_assert(sizeof(mote::fb::Segment) == 24);
          const size_t at = size_t(reinterpret_cast<const uint8_t*>(s) - buf.data()) + 16;
          std::memcpy(buf.data() + at, &sum, sizeof(sum));
        }
      }
    }
    h.metadata_checksum = mote::checksum64(meta, h.metadata_size);
  }
  std::memcpy(buf.data(), &h, sizeof(h));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mote::kernels::set_num_threads(1);  // deterministic, and no thread-pool noise in reports
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mote::fuzz::ScratchFile file("mote");
  std::vector<uint8_t> buf(data, data + size);
  fix_up(buf);
  const std::string& path = file.write(buf.data(), buf.size());

  mote::ModelOptions options;
  options.verify_checksums = true;  // exercises verify_checksums; fixed-up segments pass it unless
                                    // a segment overlaps the metadata the fix-up just rewrote
  auto model = mote::Model::open(path, options);
  if (!model) return 0;
  mote::SessionOptions so;
  so.max_context = 4;
  so.max_batch = 2;
  auto session = mote::Session::create(**model, so);
  if (!session) return 0;
  std::vector<float> logits(size_t((*model)->hparams().vocab_size));
  const int32_t ids[2] = {0, 1};
  if (!(*session)->prefill(std::span<const int32_t>(ids, 1), logits.data())) return 0;
  (void)(*session)->decode(ids[1], logits.data());
  return 0;
}
