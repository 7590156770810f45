// UTF-8 helpers and the GPT-2 byte-level alphabet, shared by the tokenizer's encoder and decoder.
// All functions are pure (no shared mutable state) and therefore thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mote::tok {

inline constexpr char kReplacementChar[] = "\xEF\xBF\xBD";  // U+FFFD
inline constexpr char kSpmSpace[] = "\xE2\x96\x81";        // U+2581 '▁', SentencePiece's space

// Length of the well-formed UTF-8 sequence at s[i], or 0 when the bytes there are not one
// (overlong, surrogate, > U+10FFFF, truncated or stray continuation byte).
size_t utf8_valid_len(std::string_view s, size_t i);

// Byte offset of the first ill-formed sequence, or s.size() when `s` is valid UTF-8.
size_t utf8_first_invalid(std::string_view s);

// Appends the longest prefix of `in` that can be decided now to `out`, replacing every
// ill-formed subsequence by U+FFFD (one per maximal subpart, as WHATWG / Rust from_utf8_lossy
// do). When `final` is false an incomplete but so-far valid sequence at the end is left
// unconsumed. Returns the number of bytes of `in` consumed. Feeding a byte stream in pieces
// (carrying the unconsumed tail) gives exactly the output of one call on the whole stream.
size_t append_utf8_lossy(std::string_view in, bool final, std::string* out);

// Decodes the code point at s[*i] (which must be valid UTF-8) and advances *i.
uint32_t next_codepoint(std::string_view s, size_t* i);
void append_codepoint(uint32_t cp, std::string* out);

// GPT-2 `bytes_to_unicode`: byte -> code point of the printable stand-in character.
const std::array<uint32_t, 256>& byte_to_unicode();
// Inverse of byte_to_unicode: code point -> byte, or -1 for code points outside the alphabet.
int unicode_to_byte(uint32_t cp);
// Maps a byte-level token string ("Ġthe") to its raw bytes (" the"). Returns false (leaving
// *out unspecified) when the token holds a character outside the alphabet.
bool byte_level_to_bytes(std::string_view token, std::string* out);
// Raw bytes -> byte-level alphabet string (inverse of byte_level_to_bytes).
std::string bytes_to_byte_level(std::string_view bytes);

// "<0xNN>" (uppercase or lowercase hex) -> NN, else -1.
int parse_byte_token(std::string_view token);

}  // namespace mote::tok
