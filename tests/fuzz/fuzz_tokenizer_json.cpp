// libFuzzer target: tokenizer.json loading, encode and decode (runtime/tokenizer).
//
// Input: tokenizer.json, optionally followed by a NUL byte and tokenizer_config.json, optionally
// followed by another NUL and the text to encode (without it, a fixed text that mixes ASCII,
// spaces, digits, special-token spellings, accents, CJK and an ill-formed UTF-8 byte).
// The text is encoded with and without special-token parsing, and the ids decoded back in one go
// and streamed one id at a time.
#include <vector>

#include "fuzz/fuzz_util.h"
#include "tokenizer/tokenizer.h"

namespace {

const std::string_view kDefaultText =
    "Hello, world!  123 4567\n\t<|im_end|><｜end▁of▁sentence｜>[INST] caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd \xff end";

void exercise(const mote::Tokenizer& tok, std::string_view text) {
  std::vector<int32_t> ids;
  for (const bool parse_special : {true, false}) {
    mote::EncodeOptions options;
    options.parse_special = parse_special;
    options.add_special = parse_special;
    if (!tok.encode(text, options, &ids)) continue;
    (void)tok.decode(ids, /*skip_special=*/false);
    (void)tok.decode(ids, /*skip_special=*/true);
    mote::StreamDecoder stream(tok);
    std::string out;
    for (const int32_t id : ids) stream.push(id, &out);
    stream.flush(&out);
  }
  // Ids the model may produce that the text never gives: out of range, special, the last one.
  const int32_t probes[] = {-1, 0, tok.vocab_size() - 1, tok.vocab_size(), tok.bos_id()};
  for (const int32_t id : probes) {
    (void)tok.token_text(id);
    (void)tok.token_bytes(id);
    (void)tok.is_special(id);
    (void)tok.decode(std::span<const int32_t>(&id, 1));
  }
  (void)tok.find_token("<|im_end|>");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size), json, config;
  mote::fuzz::split_at_nul(&rest, &json);
  const bool has_text = mote::fuzz::split_at_nul(&rest, &config);
  const std::string_view text = has_text ? rest : kDefaultText;
  auto tok = mote::Tokenizer::from_hf_json(json, config);
  if (tok) exercise(**tok, text);
  return 0;
}
