// Internal state of a Tokenizer, filled by the loaders (hf_json_loader.cpp,
// spm_model_loader.cpp) and read by tokenizer.cpp. Not part of the public API.
// Immutable after the loader returns (apart from the BPE word cache; see bpe.h).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pretokenizer.h"

namespace mote::tok {

// How a token's stored text becomes bytes (HF "decoder"; SentencePiece's rules for .model).
struct DecodeRules {
  bool byte_level = false;     // GPT-2 alphabet -> bytes (tokens with other chars kept as is)
  bool byte_fallback = false;  // "<0xNN>" -> byte NN
  std::vector<std::pair<std::string, std::string>> replace;  // e.g. "▁" -> " "
  int strip_left = 0;          // spaces dropped from the start of the decoded text
};

struct TokenizerImpl {
  // Per-id tables (size = vocab size). text: as stored; bytes: what it decodes to.
  std::vector<std::string> text;
  std::vector<std::string> bytes;
  std::vector<uint8_t> special;  // 1 for special tokens (dropped by skip_special)

  Normalizer normalizer;
  PreTokenizer pretok;
  BpeModel bpe;
  AddedTokenMatcher raw_added;   // matched in raw text (normalized:false)
  AddedTokenMatcher norm_added;  // matched in normalised text (normalized:true)
  TokenMap added_ids;            // added token content -> id, plus entries the BPE vocabulary
                                 // cannot hold (SentencePiece byte/unused pieces): find_token
  DecodeRules rules;

  std::vector<int32_t> prefix_ids, suffix_ids;  // added by encode(add_special)
  int32_t bos = -1;
  std::vector<int32_t> eos;

  // Grows the tables so `id` is valid.
  void ensure_id(int32_t id) {
    if (static_cast<size_t>(id) >= text.size()) {
      text.resize(static_cast<size_t>(id) + 1);
      special.resize(static_cast<size_t>(id) + 1, 0);
    }
  }
  // Registers an added token (matcher, lookup, tables).
  void add_token(const AddedToken& t);
  // Fills `bytes` from `text` and `rules`; call once all tokens are known.
  void build_decode_table();
};

}  // namespace mote::tok
