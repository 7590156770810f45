// Tokenizer: text <-> token ids for the models mote runs.
//
// Supports Hugging Face `tokenizer.json` byte-level BPE (DeepSeek-V3, Qwen2/3, gpt-oss, OLMoE),
// Hugging Face SentencePiece-style BPE (Mistral/Mixtral: Prepend/Replace normaliser or
// Metaspace, byte fallback) and raw SentencePiece BPE `tokenizer.model` files (Llama-2, Mistral).
//
// Encoding pipeline (as HF `tokenizers`): added tokens matched in the raw text (leftmost-longest)
// -> normaliser per remaining piece -> added tokens with normalized:true matched in the
// normalised piece -> pre-tokeniser (regex splits, ByteLevel, Metaspace...) -> BPE per word.
// Ill-formed UTF-8 input is first repaired (each ill-formed subsequence -> U+FFFD).
//
// Ownership: a Tokenizer owns all its tables; token_text()/token_bytes() views live as long as
// the Tokenizer. Thread-safety: every const method (encode, decode, lookups) may be called
// from many threads at once; the internal BPE word cache is sharded and mutex-protected.
// A StreamDecoder borrows its Tokenizer and is single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace mote {

namespace tok {
struct TokenizerImpl;
}

// A byte range [begin, end) of a text to encode.
struct PlainRange {
  size_t begin, end;
};

struct EncodeOptions {
  bool add_special = true;    // add BOS (and EOS) as tokenizer_config.json / the model asks
  bool parse_special = true;  // match control tokens written in the text ("<|im_start|>");
                              // false treats them as plain text (for untrusted user input).
                              // Control = special, or spelled <|...|> / <｜...｜> (llama.cpp's
                              // rule: DeepSeek's "<｜User｜>" is not flagged special)
  // With parse_special: byte ranges (sorted, disjoint) that stay plain text all the same, e.g.
  // the message contents of a rendered chat. A control token overlapping one is not matched.
  // The text around them is encoded as one string, so ids equal those of the whole text when
  // the ranges hold no control-token text. Tokenizers with a normaliser and normalized added
  // tokens fall back to plain text for a whole piece between raw added tokens that overlaps a
  // range (offsets do not survive normalisation).
  std::span<const PlainRange> plain;
};

class Tokenizer {
 public:
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // `tokenizer_config_json` may be empty; it supplies bos/eos tokens and add_bos_token /
  // add_eos_token (without it, BOS/EOS come from the TemplateProcessing post-processor).
  // Errors name the offending field: invalid JSON or a field of the wrong type
  // (kInvalidArgument), a model/normaliser/pre-tokeniser/decoder type mote does not implement
  // (kUnsupported), merges naming tokens missing from the vocabulary (kInvalidArgument).
  static Result<std::unique_ptr<Tokenizer>> from_hf_json(std::string_view tokenizer_json,
                                                         std::string_view tokenizer_config_json);
  // A SentencePiece ModelProto (`tokenizer.model`) of model_type BPE with the identity
  // normaliser (Llama-2, Mistral). UNIGRAM models and precompiled normalisers: kUnsupported.
  static Result<std::unique_ptr<Tokenizer>> from_sentencepiece_model(std::string_view model_proto_bytes);

  // Replaces *out with the ids of `text`. add_special adds BOS/EOS per the configuration.
  Status encode(std::string_view text, bool add_special, std::vector<int32_t>* out) const;
  Status encode(std::string_view text, const EncodeOptions& options, std::vector<int32_t>* out) const;

  // Ids -> text (always valid UTF-8; undecodable bytes become U+FFFD). skip_special drops
  // special tokens. SentencePiece-style tokenizers strip the dummy-prefix space at the start.
  // Error: an id outside [0, vocab_size()) (kInvalidArgument).
  Result<std::string> decode(std::span<const int32_t> ids, bool skip_special = false) const;

  // The token as stored in the vocabulary ("Ġthe", "▁the", "<0x0A>", "<｜User｜>"); "" for an
  // id out of range or unused.
  std::string_view token_text(int32_t id) const;
  // The bytes the token decodes to (may be an incomplete UTF-8 sequence, e.g. one byte).
  std::string_view token_bytes(int32_t id) const;
  bool is_special(int32_t id) const;
  // One past the largest id (vocabulary plus added tokens).
  int32_t vocab_size() const;
  // BOS id from the config (or the post-processor template), -1 when there is none.
  int32_t bos_id() const;
  // EOS ids named by the tokenizer files; the model config's eos ids are added by the caller.
  const std::vector<int32_t>& eos_ids() const;
  // Byte ranges (sorted, disjoint) of `text` spelling a control token, i.e. where encode with
  // parse_special would produce a control id (see EncodeOptions). Used to keep such text plain.
  std::vector<PlainRange> control_token_spans(std::string_view text) const;
  // Id of an added/special token by content ("<think>", "<|im_end|>"), or of a vocabulary
  // entry by its stored text; -1 if absent.
  int32_t find_token(std::string_view text) const;

 private:
  friend class StreamDecoder;
  explicit Tokenizer(std::unique_ptr<tok::TokenizerImpl> impl);
  std::unique_ptr<tok::TokenizerImpl> impl_;
};

// Incremental detokenizer for streamed generation. push() appends only complete UTF-8 text,
// holding back the bytes of an unfinished character (byte-level tokens or <0xNN> byte-fallback
// tokens may split one). The concatenation of all push() outputs plus flush() equals
// Tokenizer::decode() of the same ids. Ids out of range are ignored.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = true);
  void push(int32_t id, std::string* out_text);
  // Emits whatever is held back (an unfinished sequence becomes U+FFFD) and resets the stream.
  void flush(std::string* out_text);
  void reset();

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  int strip_left_ = 0;  // leading spaces still to drop (SentencePiece dummy prefix)
  std::string pending_; // bytes of an incomplete UTF-8 sequence
};

}  // namespace mote
