// libFuzzer target: SentencePiece tokenizer.model loading (protobuf ModelProto), then encode and
// decode of a short text. The input is the whole tokenizer.model file.
#include <vector>

#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto tok = mote::Tokenizer::from_sentencepiece_model(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!tok) return 0;
  std::vector<int32_t> ids;
  const std::string_view text = " Hello  world\n<s></s> caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd 12\xff";
  for (const bool special : {true, false}) {
    if (!(*tok)->encode(text, special, &ids)) continue;
    (void)(*tok)->decode(ids, special);
    mote::StreamDecoder stream(**tok);
    std::string out;
    for (const int32_t id : ids) stream.push(id, &out);
    stream.flush(&out);
  }
  const int32_t last = (*tok)->vocab_size() - 1;
  (void)(*tok)->decode(std::span<const int32_t>(&last, 1));
  return 0;
}
