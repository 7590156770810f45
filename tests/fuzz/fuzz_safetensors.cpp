// libFuzzer target: the safetensors reader (converter/hf/safetensors.*).
//
// The input is a whole .safetensors file (8-byte header length, JSON header, data). It goes
// through SafetensorsFile::open (length checks, then parse_safetensors_header) and, when that
// accepts it, the first bytes of every tensor are read back with pread as the converter would.
// ConvertError is the reader's documented way to reject a file; any other exception escapes and
// is reported by libFuzzer as a crash.
#include <vector>

#include "fuzz/fuzz_util.h"
#include "hf/error.h"
#include "hf/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mote::fuzz::ScratchFile file("st");
  const std::string& path = file.write(data, size);
  try {
    auto st = mote::convert::SafetensorsFile::open(path);
    std::vector<uint8_t> bytes(64);
    for (const auto& t : st->tensors()) {
      const uint64_t n = t.size() < bytes.size() ? t.size() : bytes.size();
      st->read(t, 0, bytes.data(), n);
      (void)st->find(t.name);
    }
  } catch (const mote::convert::ConvertError&) {
  }
  return 0;
}
