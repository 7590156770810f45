// BPE merging (see bpe.h).
#include "tokenizer/bpe.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <cstring>

#include "tokenizer/utf8.h"

namespace mote::tok {

void MergeTable::build() {
  size_t cap = 16;
  while (cap < pending_.size() * 2) cap <<= 1;
  slots_.assign(cap, Entry{kEmpty, 0, 0});
  mask_ = cap - 1;
  shift_ = 64 - std::countr_zero(cap);
  count_ = 0;
  for (const Entry& e : pending_) {
    size_t i = slot_of(e.key);
    while (slots_[i].key != kEmpty && slots_[i].key != e.key) i = (i + 1) & mask_;
    if (slots_[i].key == e.key) continue;  // duplicate pair: keep the first (lowest rank)
    slots_[i] = e;
    ++count_;
  }
  pending_.clear();
  pending_.shrink_to_fit();
}

uint64_t WordCache::hash(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (s.size() * 0xC2B2AE3D27D4EB4Full);
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
  }
  uint64_t tail = 0;
  // An empty view may have data() == nullptr: memcpy(…, nullptr, 0) is UB, so skip it.
  if (i < s.size()) std::memcpy(&tail, s.data() + i, s.size() - i);
  h ^= tail;
  h ^= h >> 33;  // murmur3 fmix64: every input bit reaches every output bit
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return h | 1;  // never 0 (the empty-slot marker)
}

bool WordCache::get(std::string_view word, std::vector<int32_t>* out) const {
  uint64_t h = hash(word);
  Shard& s = shards_[(h >> 56) % kShards];
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.slots.empty()) return false;
  for (size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
    const Slot& e = s.slots[i];
    if (e.hash == 0) return false;
    if (e.hash == h && e.key_len == word.size() &&
        (word.empty() || std::memcmp(s.arena.data() + e.off, word.data(), word.size()) == 0)) {
      size_t n = out->size();
      out->resize(n + e.n_ids);
      // n_ids == 0 (an empty word) may leave out->data() null: no memcpy then (UB with nullptr).
      if (e.n_ids > 0) std::memcpy(out->data() + n, s.arena.data() + e.off + e.key_len, e.n_ids * sizeof(int32_t));
      return true;
    }
  }
}

void WordCache::put(std::string_view word, const int32_t* ids, size_t n) const {
  size_t bytes = word.size() + n * sizeof(int32_t);
  if (n > 0xFFFF || bytes > kArenaBytes) return;
  uint64_t h = hash(word);
  Shard& s = shards_[(h >> 56) % kShards];
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.slots.empty() || s.used * 2 >= kSlots || s.arena.size() + bytes > kArenaBytes) {
    s.slots.assign(kSlots, Slot{0, 0, 0, 0});
    s.arena.clear();
    s.used = 0;
  }
  size_t i = h & (kSlots - 1);
  while (s.slots[i].hash != 0) {
    if (s.slots[i].hash == h && s.slots[i].key_len == word.size() &&
        (word.empty() || std::memcmp(s.arena.data() + s.slots[i].off, word.data(), word.size()) == 0))
      return;  // another thread inserted it meanwhile
    i = (i + 1) & (kSlots - 1);
  }
  s.slots[i] = Slot{h, static_cast<uint32_t>(s.arena.size()), static_cast<uint16_t>(word.size()), static_cast<uint16_t>(n)};
  s.arena.append(word);
  s.arena.append(reinterpret_cast<const char*>(ids), n * sizeof(int32_t));
  ++s.used;
}

void BpeModel::finalize() {
  for (int c = 0; c < 128; ++c) {
    auto it = vocab.find(std::string_view(reinterpret_cast<const char*>(&c), 1));
    ascii_ids_[c] = it == vocab.end() ? -1 : it->second;
  }
  opt.split_at_marker = marker_split_is_exact();
}

bool BpeModel::marker_split_is_exact() const {
  const std::string_view marker(kSpmSpace);
  if (opt.byte_level || opt.ignore_merges || vocab.find(marker) == vocab.end()) return false;
  for (const auto& [piece, id] : vocab) {
    for (size_t p = piece.find(marker, 1); p != std::string::npos; p = piece.find(marker, p + 1)) {
      bool after_marker = p >= marker.size() && piece.compare(p - marker.size(), marker.size(), marker) == 0;
      if (!after_marker) return false;
    }
  }
  return true;
}

void BpeModel::encode(std::string_view text, std::vector<int32_t>* out) const {
  if (!opt.split_at_marker) {
    encode_word(text, out);
    return;
  }
  // Cut before every "▁" run that follows another character: "▁a▁▁b" -> "▁a" | "▁▁b".
  const std::string_view marker(kSpmSpace);
  size_t start = 0;
  for (size_t i = text.find(marker, 1); i != std::string_view::npos; i = text.find(marker, i + marker.size())) {
    if (i >= marker.size() && text.compare(i - marker.size(), marker.size(), marker) == 0) continue;
    encode_word(text.substr(start, i - start), out);
    start = i;
  }
  encode_word(text.substr(start), out);
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>* out) const {
  if (word.empty()) return;
  bool cacheable = word.size() <= WordCache::kMaxWordBytes;
  if (cacheable && cache_.get(word, out)) return;
  size_t first = out->size();
  auto whole = opt.ignore_merges ? vocab.find(word) : vocab.end();
  if (whole != vocab.end()) out->push_back(whole->second);
  else merge_word(word, out);
  if (cacheable) cache_.put(word, out->data() + first, out->size() - first);
}

namespace {

struct Symbol {
  int32_t id;
  int32_t prev, next;
  uint32_t len;  // bytes covered; 0 once merged into its left neighbour
};

struct Candidate {
  int32_t rank, pos, id;
  // Min-heap order: lowest rank, then leftmost position.
  bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

}  // namespace

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>* out) const {
  thread_local std::vector<Symbol> syms;
  thread_local std::vector<Candidate> heap;
  syms.clear();
  heap.clear();
  auto push_sym = [&](int32_t id, uint32_t len) {
    auto n = static_cast<int32_t>(syms.size());
    syms.push_back({id, n - 1, -1, len});
    if (n > 0) syms[n - 1].next = n;
  };
  bool prev_unk = false;
  for (size_t i = 0; i < word.size();) {
    size_t n = opt.byte_level ? 1 : std::max<size_t>(1, utf8_valid_len(word, i));
    int32_t id = -1;
    if (opt.byte_level) {
      id = byte_ids[static_cast<unsigned char>(word[i])];
    } else if (n == 1 && static_cast<unsigned char>(word[i]) < 0x80) {
      id = ascii_ids_[static_cast<unsigned char>(word[i])];
    } else {
      auto it = vocab.find(word.substr(i, n));
      if (it != vocab.end()) id = it->second;
    }
    if (id >= 0) {
      push_sym(id, static_cast<uint32_t>(n));
      prev_unk = false;
    } else if (opt.byte_fallback && std::all_of(word.begin() + i, word.begin() + i + n,
                                                [&](char c) { return byte_ids[static_cast<unsigned char>(c)] >= 0; })) {
      for (size_t k = 0; k < n; ++k) push_sym(byte_ids[static_cast<unsigned char>(word[i + k])], 1);
      prev_unk = false;
    } else if (opt.unk_id >= 0) {
      if (opt.fuse_unk && prev_unk) syms.back().len += static_cast<uint32_t>(n);
      else push_sym(opt.unk_id, static_cast<uint32_t>(n));
      prev_unk = true;
    }  // else: no unk token, the character is dropped (as HF BPE does)
    i += n;
  }
  auto try_pair = [&](int32_t pos) {
    int32_t nx = syms[pos].next;
    if (nx < 0) return;
    if (const MergeTable::Entry* e = merges.find(syms[pos].id, syms[nx].id)) {
      heap.push_back({e->rank, pos, e->id});
      std::push_heap(heap.begin(), heap.end(), std::greater<Candidate>());
    }
  };
  for (int32_t p = 0; p + 1 < static_cast<int32_t>(syms.size()); ++p) try_pair(p);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<Candidate>());
    Candidate c = heap.back();
    heap.pop_back();
    Symbol& s = syms[c.pos];
    if (s.len == 0 || s.next < 0) continue;
    const MergeTable::Entry* e = merges.find(s.id, syms[s.next].id);
    if (e == nullptr || e->id != c.id) continue;  // stale candidate
    Symbol& r = syms[s.next];
    s.id = c.id;
    s.len += r.len;
    r.len = 0;
    s.next = r.next;
    if (s.next >= 0) syms[s.next].prev = c.pos;
    if (s.prev >= 0) try_pair(s.prev);
    try_pair(c.pos);
  }
  for (int32_t p = syms.empty() ? -1 : 0; p >= 0; p = syms[p].next) out->push_back(syms[p].id);
}

}  // namespace mote::tok
