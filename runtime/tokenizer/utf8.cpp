// UTF-8 helpers and the GPT-2 byte-level alphabet (see utf8.h).
#include "tokenizer/utf8.h"

namespace mote::tok {
namespace {

// Valid range of the second byte for a lead byte (Unicode Table 3-7); other continuation
// bytes are always 0x80..0xBF.
bool second_byte_ok(unsigned char lead, unsigned char b) {
  switch (lead) {
    case 0xE0: return b >= 0xA0 && b <= 0xBF;
    case 0xED: return b >= 0x80 && b <= 0x9F;
    case 0xF0: return b >= 0x90 && b <= 0xBF;
    case 0xF4: return b >= 0x80 && b <= 0x8F;
    default: return b >= 0x80 && b <= 0xBF;
  }
}

// Expected sequence length from the lead byte, 0 for bytes that cannot start a sequence.
int expected_len(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Number of bytes starting at s[i] that form a valid prefix of a sequence (>= 1 if the lead
// byte is valid), and via *need the full length expected.
size_t valid_prefix(std::string_view s, size_t i, int* need) {
  auto lead = static_cast<unsigned char>(s[i]);
  *need = expected_len(lead);
  if (*need == 0) return 0;
  size_t n = 1;
  while (n < static_cast<size_t>(*need) && i + n < s.size()) {
    auto b = static_cast<unsigned char>(s[i + n]);
    bool ok = n == 1 ? second_byte_ok(lead, b) : (b >= 0x80 && b <= 0xBF);
    if (!ok) break;
    ++n;
  }
  return n;
}

struct ByteTables {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 324> to_byte{};  // every stand-in code point is < 324
  ByteTables() {
    to_byte.fill(-1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      uint32_t cp = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + extra++);
      to_cp[b] = cp;
      to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteTables& tables() {
  static const ByteTables t;  // thread-safe static initialisation
  return t;
}

}  // namespace

size_t utf8_valid_len(std::string_view s, size_t i) {
  int need = 0;
  size_t n = valid_prefix(s, i, &need);
  return (need > 0 && n == static_cast<size_t>(need)) ? n : 0;
}

size_t utf8_first_invalid(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t n = utf8_valid_len(s, i);
    if (n == 0) return i;
    i += n;
  }
  return s.size();
}

size_t append_utf8_lossy(std::string_view in, bool final, std::string* out) {
  size_t i = 0;
  size_t run = 0;  // start of the pending run of valid bytes, copied in one append
  while (i < in.size()) {
    if (static_cast<unsigned char>(in[i]) < 0x80) {
      ++i;
      continue;
    }
    int need = 0;
    size_t n = valid_prefix(in, i, &need);
    if (need > 0 && n == static_cast<size_t>(need)) {
      i += n;
      continue;
    }
    if (need > 0 && i + n == in.size() && !final) break;  // incomplete tail: wait for more
    out->append(in.data() + run, i - run);
    out->append(kReplacementChar);
    i += n == 0 ? 1 : n;
    run = i;
  }
  out->append(in.data() + run, i - run);
  return i;
}

uint32_t next_codepoint(std::string_view s, size_t* i) {
  auto b0 = static_cast<unsigned char>(s[*i]);
  if (b0 < 0x80) {
    *i += 1;
    return b0;
  }
  int len = expected_len(b0);
  uint32_t cp = b0 & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
  for (int k = 1; k < len && *i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[*i + k]) & 0x3F);
  *i += len == 0 ? 1 : len;
  return cp;
}

void append_codepoint(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

const std::array<uint32_t, 256>& byte_to_unicode() { return tables().to_cp; }

int unicode_to_byte(uint32_t cp) {
  const auto& t = tables().to_byte;
  return cp < t.size() ? t[cp] : -1;
}

bool byte_level_to_bytes(std::string_view token, std::string* out) {
  out->clear();
  size_t i = 0;
  while (i < token.size()) {
    if (utf8_valid_len(token, i) == 0) return false;
    int b = unicode_to_byte(next_codepoint(token, &i));
    if (b < 0) return false;
    out->push_back(static_cast<char>(b));
  }
  return true;
}

std::string bytes_to_byte_level(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) append_codepoint(byte_to_unicode()[b], &out);
  return out;
}

int parse_byte_token(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  int v = 0;
  for (size_t k = 3; k < 5; ++k) {
    char c = t[k];
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

}  // namespace mote::tok
