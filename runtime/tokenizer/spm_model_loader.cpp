// Tokenizer::from_sentencepiece_model: reads a SentencePiece ModelProto (`tokenizer.model`) with
// a minimal, bounds-checked protobuf wire reader (no protobuf library) and maps it onto the
// shared BPE machinery:
//   pieces NORMAL/USER_DEFINED -> BPE vocabulary; merges derived from piece scores (a piece is
//   formed from any split into two vocabulary pieces; higher score = earlier merge);
//   BYTE pieces <0xNN> -> byte fallback; CONTROL/UNKNOWN -> special tokens matched in text;
//   USER_DEFINED -> added tokens matched in normalised text (never split, as in SentencePiece);
//   normaliser: [remove_extra_whitespaces] -> spaces to "▁" -> dummy "▁" prefix per segment.
#include <algorithm>
#include <cstring>

#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"

namespace mote {
namespace tok {
namespace {

constexpr char kFile[] = "tokenizer.model";

// Protobuf wire-format reader over a byte range. Every read is bounds-checked.
class PbReader {
 public:
  explicit PbReader(std::string_view buf) : p_(buf.data()), end_(buf.data() + buf.size()) {}
  bool done() const { return p_ >= end_; }

  Status varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return corrupt("truncated varint");
      auto b = static_cast<uint8_t>(*p_++);
      *v |= uint64_t(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return Status::ok();
    }
    return corrupt("varint longer than 10 bytes");
  }
  Status key(uint32_t* field, uint32_t* wire) {
    uint64_t k = 0;
    MOTE_RETURN_IF_ERROR(varint(&k));
    *field = static_cast<uint32_t>(k >> 3);
    *wire = static_cast<uint32_t>(k & 7);
    if (*field == 0) return corrupt("field number 0");
    return Status::ok();
  }
  Status bytes(std::string_view* v) {
    uint64_t n = 0;
    MOTE_RETURN_IF_ERROR(varint(&n));
    if (n > static_cast<uint64_t>(end_ - p_)) return corrupt("length-delimited field runs past the end");
    *v = std::string_view(p_, n);
    p_ += n;
    return Status::ok();
  }
  Status fixed32(uint32_t* v) {
    if (end_ - p_ < 4) return corrupt("truncated fixed32");
    std::memcpy(v, p_, 4);  // little-endian hosts only (all mote targets)
    p_ += 4;
    return Status::ok();
  }
  Status skip(uint32_t wire) {
    uint64_t tmp = 0;
    std::string_view sv;
    switch (wire) {
      case 0: return varint(&tmp);
      case 1:
        if (end_ - p_ < 8) return corrupt("truncated fixed64");
        p_ += 8;
        return Status::ok();
      case 2: return bytes(&sv);
      case 5:
        if (end_ - p_ < 4) return corrupt("truncated fixed32");
        p_ += 4;
        return Status::ok();
      default: return corrupt("unsupported wire type " + std::to_string(wire));
    }
  }

 private:
  static Status corrupt(const std::string& what) { return invalid_argument(std::string(kFile) + ": " + what); }
  const char* p_;
  const char* end_;
};

enum PieceType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct Piece {
  std::string text;
  float score = 0;
  int type = kNormal;
};

struct SpmModel {
  std::vector<Piece> pieces;
  int model_type = 1;  // UNIGRAM=1, BPE=2, WORD=3, CHAR=4
  bool byte_fallback = false, treat_ws_as_suffix = false;
  int32_t unk_id = 0, bos_id = 1, eos_id = 2;
  std::string normalizer_name = "identity";
  bool has_charsmap = false, add_dummy_prefix = true, remove_extra_ws = true, escape_ws = true;
};

Status parse_piece(std::string_view buf, Piece* out) {
  PbReader r(buf);
  while (!r.done()) {
    uint32_t f = 0, w = 0;
    MOTE_RETURN_IF_ERROR(r.key(&f, &w));
    std::string_view sv;
    uint64_t v = 0;
    uint32_t u = 0;
    if (f == 1 && w == 2) {
      MOTE_RETURN_IF_ERROR(r.bytes(&sv));
      out->text.assign(sv);
    } else if (f == 2 && w == 5) {
      MOTE_RETURN_IF_ERROR(r.fixed32(&u));
      std::memcpy(&out->score, &u, 4);
    } else if (f == 3 && w == 0) {
      MOTE_RETURN_IF_ERROR(r.varint(&v));
      out->type = static_cast<int>(v);
    } else {
      MOTE_RETURN_IF_ERROR(r.skip(w));
    }
  }
  return Status::ok();
}

Status parse_trainer(std::string_view buf, SpmModel* m) {
  PbReader r(buf);
  while (!r.done()) {
    uint32_t f = 0, w = 0;
    MOTE_RETURN_IF_ERROR(r.key(&f, &w));
    if (w != 0) {
      MOTE_RETURN_IF_ERROR(r.skip(w));
      continue;
    }
    uint64_t v = 0;
    MOTE_RETURN_IF_ERROR(r.varint(&v));
    auto i32 = static_cast<int32_t>(static_cast<uint32_t>(v));  // negative ints are sign-extended
    switch (f) {
      case 3: m->model_type = i32; break;
      case 24: m->treat_ws_as_suffix = v != 0; break;
      case 35: m->byte_fallback = v != 0; break;
      case 40: m->unk_id = i32; break;
      case 41: m->bos_id = i32; break;
      case 42: m->eos_id = i32; break;
      default: break;
    }
  }
  return Status::ok();
}

Status parse_normalizer_spec(std::string_view buf, SpmModel* m) {
  PbReader r(buf);
  while (!r.done()) {
    uint32_t f = 0, w = 0;
    MOTE_RETURN_IF_ERROR(r.key(&f, &w));
    std::string_view sv;
    uint64_t v = 0;
    if (w == 2 && (f == 1 || f == 2)) {
      MOTE_RETURN_IF_ERROR(r.bytes(&sv));
      if (f == 1) m->normalizer_name.assign(sv);
      else m->has_charsmap = !sv.empty();
    } else if (w == 0 && f >= 3 && f <= 5) {
      MOTE_RETURN_IF_ERROR(r.varint(&v));
      bool* flag = f == 3 ? &m->add_dummy_prefix : f == 4 ? &m->remove_extra_ws : &m->escape_ws;
      *flag = v != 0;
    } else {
      MOTE_RETURN_IF_ERROR(r.skip(w));
    }
  }
  return Status::ok();
}

Status parse_model(std::string_view buf, SpmModel* m) {
  PbReader r(buf);
  while (!r.done()) {
    uint32_t f = 0, w = 0;
    MOTE_RETURN_IF_ERROR(r.key(&f, &w));
    if (w != 2 || f > 3) {
      MOTE_RETURN_IF_ERROR(r.skip(w));
      continue;
    }
    std::string_view sub;
    MOTE_RETURN_IF_ERROR(r.bytes(&sub));
    if (f == 1) {
      m->pieces.emplace_back();
      MOTE_RETURN_IF_ERROR(parse_piece(sub, &m->pieces.back()));
    } else if (f == 2) {
      MOTE_RETURN_IF_ERROR(parse_trainer(sub, m));
    } else if (f == 3) {
      MOTE_RETURN_IF_ERROR(parse_normalizer_spec(sub, m));
    }
  }
  return Status::ok();
}

Status check_supported(const SpmModel& m) {
  const std::string f(kFile);
  if (m.pieces.empty()) return invalid_argument(f + ": no pieces (not a SentencePiece model?)");
  if (m.model_type != 2)
    return unsupported(f + ": trainer_spec.model_type " + std::to_string(m.model_type) + " is not supported (only BPE = 2)");
  if (m.treat_ws_as_suffix) return unsupported(f + ": trainer_spec.treat_whitespace_as_suffix is not supported");
  if (m.has_charsmap && m.normalizer_name != "identity")
    return unsupported(f + ": normalizer_spec '" + m.normalizer_name + "' (precompiled charsmap) is not supported");
  for (size_t i = 0; i < m.pieces.size(); ++i) {
    const Piece& p = m.pieces[i];
    if (p.type < kNormal || p.type > kByte) return invalid_argument(f + ": pieces[" + std::to_string(i) + "].type is invalid");
    if (p.text.empty() || utf8_first_invalid(p.text) != p.text.size())
      return invalid_argument(f + ": pieces[" + std::to_string(i) + "].piece is empty or not UTF-8");
  }
  return Status::ok();
}

// Merges from scores: every split of a mergeable piece into two vocabulary pieces.
void build_merges(const SpmModel& m, BpeModel* bpe) {
  std::vector<int32_t> order;
  for (size_t id = 0; id < m.pieces.size(); ++id)
    if (m.pieces[id].type == kNormal || m.pieces[id].type == kUserDefined) order.push_back(static_cast<int32_t>(id));
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return m.pieces[a].score > m.pieces[b].score; });
  int32_t rank = -1;
  float prev_score = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    const Piece& p = m.pieces[order[k]];
    if (k == 0 || p.score != prev_score) ++rank;  // equal scores share a rank (ties: leftmost)
    prev_score = p.score;
    std::string_view s(p.text);
    for (size_t cut = 0; (cut += utf8_valid_len(s, cut)) < s.size();) {
      auto l = bpe->vocab.find(s.substr(0, cut)), r = bpe->vocab.find(s.substr(cut));
      if (l != bpe->vocab.end() && r != bpe->vocab.end()) bpe->merges.add(l->second, r->second, rank, order[k]);
    }
  }
  bpe->merges.build();
}

std::unique_ptr<TokenizerImpl> build_impl(const SpmModel& m) {
  auto d = std::make_unique<TokenizerImpl>();
  BpeModel& bpe = d->bpe;
  bpe.opt.byte_fallback = m.byte_fallback;
  auto n = static_cast<int32_t>(m.pieces.size());
  d->ensure_id(n - 1);
  for (int32_t id = 0; id < n; ++id) {
    const Piece& p = m.pieces[id];
    d->text[id] = p.text;
    if (p.type == kNormal) bpe.vocab.emplace(p.text, id);
    if (p.type == kByte || p.type == kUnused) d->added_ids.emplace(p.text, id);  // find_token only
    if (p.type == kByte && parse_byte_token(p.text) >= 0) bpe.byte_ids[parse_byte_token(p.text)] = id;
  }
  for (int32_t id = 0; id < n; ++id) {  // after NORMAL pieces so text -> id prefers them
    const Piece& p = m.pieces[id];
    AddedToken t;
    t.content = p.text;
    t.id = id;
    if (p.type == kControl || p.type == kUnknown) {
      t.special = true;  // matched in raw text, like HF's slow LlamaTokenizer
      d->add_token(t);
    } else if (p.type == kUserDefined) {
      t.normalized = true;
      d->add_token(t);
      bpe.vocab.emplace(p.text, id);
    }
  }
  if (m.unk_id >= 0 && m.unk_id < n) bpe.opt.unk_id = m.unk_id;
  build_merges(m, &bpe);
  if (m.remove_extra_ws) d->normalizer.add({NormalizerStep::Kind::kCollapseSpaces, "", "", false, false});
  if (m.escape_ws) d->normalizer.add({NormalizerStep::Kind::kReplace, " ", kSpmSpace, false, false});
  if (m.add_dummy_prefix) d->normalizer.add({NormalizerStep::Kind::kPrepend, kSpmSpace, "", false, false});
  d->rules.byte_fallback = true;
  d->rules.replace.emplace_back(kSpmSpace, " ");
  d->rules.strip_left = m.add_dummy_prefix ? 1 : 0;
  if (m.bos_id >= 0 && m.bos_id < n) {
    d->bos = m.bos_id;
    d->prefix_ids.push_back(m.bos_id);
  }
  if (m.eos_id >= 0 && m.eos_id < n) d->eos.push_back(m.eos_id);
  bpe.finalize();
  d->build_decode_table();
  return d;
}

}  // namespace
}  // namespace tok

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_sentencepiece_model(std::string_view model_proto_bytes) {
  try {
    tok::SpmModel m;
    MOTE_RETURN_IF_ERROR(tok::parse_model(model_proto_bytes, &m));
    MOTE_RETURN_IF_ERROR(tok::check_supported(m));
    return std::unique_ptr<Tokenizer>(new Tokenizer(tok::build_impl(m)));
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kOutOfMemory, "tokenizer.model: out of memory while loading");
  }
}

}  // namespace mote
