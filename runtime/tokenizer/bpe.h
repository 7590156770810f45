// The BPE model shared by Hugging Face byte-level BPE, Hugging Face SentencePiece-style BPE and
// raw SentencePiece `tokenizer.model` files. A word starts as single bytes (byte-level) or
// UTF-8 characters; adjacent symbol pairs are merged lowest rank first (ties: leftmost first),
// exactly as HF `tokenizers` BPE::merge_word. SentencePiece's "highest piece score first" is
// the same algorithm with ranks derived from scores (equal scores share a rank).
//
// Ownership and thread-safety: built once by a loader, then immutable except for the word
// cache, which is sharded and mutex-protected; encode() is const and safe to call from many
// threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mote::tok {

struct StrHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
struct StrEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};
// String -> id with heterogeneous (string_view) lookup.
using TokenMap = std::unordered_map<std::string, int32_t, StrHash, StrEq>;

// Open-addressing map (left id, right id) -> (rank, merged id). Immutable after build().
class MergeTable {
 public:
  struct Entry {
    uint64_t key;
    int32_t rank;
    int32_t id;
  };
  // Queues a rule; build() keeps the first (lowest-rank) rule of a duplicated pair.
  void add(int32_t left, int32_t right, int32_t rank, int32_t id) { pending_.push_back({pack(left, right), rank, id}); }
  void build();
  size_t size() const { return count_; }
  // Returns the entry or nullptr.
  const Entry* find(int32_t left, int32_t right) const {
    if (slots_.empty()) return nullptr;
    uint64_t key = pack(left, right);
    for (size_t i = slot_of(key);; i = (i + 1) & mask_) {
      const Entry& e = slots_[i];
      if (e.key == key) return &e;
      if (e.key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t pack(int32_t l, int32_t r) { return (uint64_t(uint32_t(l)) << 32) | uint32_t(r); }
  size_t slot_of(uint64_t key) const { return size_t((key * 0x9E3779B97F4A7C15ull) >> shift_); }
  std::vector<Entry> pending_, slots_;
  size_t mask_ = 0, count_ = 0;
  int shift_ = 64;
};

// Caches word -> ids: 16 shards, each an open-addressing table over a byte arena and behind its
// own mutex. A full shard is cleared (the working set of natural text is small). Memory grows
// lazily to at most 16 x (256 KiB of slots + 1 MiB of arena) per tokenizer.
class WordCache {
 public:
  bool get(std::string_view word, std::vector<int32_t>* out) const;
  void put(std::string_view word, const int32_t* ids, size_t n) const;
  static constexpr size_t kMaxWordBytes = 256;

 private:
  static constexpr size_t kShards = 16, kSlots = 16384, kArenaBytes = 1 << 20;
  struct Slot {
    uint64_t hash;  // 0 = empty
    uint32_t off;   // key bytes then ids (int32) in the arena
    uint16_t key_len, n_ids;
  };
  struct Shard {
    std::mutex mu;
    std::vector<Slot> slots;  // allocated on first put
    std::string arena;
    size_t used = 0;
  };
  static uint64_t hash(std::string_view s);
  mutable std::array<Shard, kShards> shards_;
};

class BpeModel {
 public:
  struct Options {
    bool byte_level = false;       // symbols start as bytes (else as UTF-8 characters)
    bool byte_fallback = false;    // unknown characters -> their <0xNN> byte tokens
    bool fuse_unk = false;         // consecutive unknown characters -> one unk
    bool ignore_merges = false;    // a word that is itself a vocabulary entry is emitted whole
    bool split_at_marker = false;  // cut text before each run of "▁" (set by finalize() only when
                                   // marker_split_is_exact()); enables caching for SentencePiece text
    int32_t unk_id = -1;
  };

  Options opt;
  TokenMap vocab;         // model-form string (raw bytes when byte_level) -> id
  MergeTable merges;
  std::array<int32_t, 256> byte_ids{};  // byte_level: single-byte symbol; else <0xNN>; -1 = none

  BpeModel() { byte_ids.fill(-1); }
  // Call once `vocab` and `opt` are complete: fills the ASCII fast path of character lookup and
  // sets opt.split_at_marker.
  void finalize();
  // True when cutting text before each "▁" run cannot change the result: "▁" is in the
  // vocabulary and no entry holds "▁" after another character (so no merge spans a cut).
  bool marker_split_is_exact() const;
  // Appends the ids of one pre-tokenised word (or a whole SentencePiece segment) to *out.
  void encode(std::string_view text, std::vector<int32_t>* out) const;

 private:
  void encode_word(std::string_view word, std::vector<int32_t>* out) const;
  void merge_word(std::string_view word, std::vector<int32_t>* out) const;
  std::array<int32_t, 128> ascii_ids_{};  // vocab id of each ASCII character, -1 = none
  WordCache cache_;
};

}  // namespace mote::tok
