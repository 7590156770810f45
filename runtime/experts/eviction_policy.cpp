#include "experts/eviction_policy.h"

namespace mote {
namespace {

class LruPolicy final : public EvictionPolicy {
 public:
  explicit LruPolicy(int32_t n) : last_use_(size_t(n), 0) {}
  void on_insert(int32_t slot) override { last_use_[size_t(slot)] = ++clock_; }
  void on_access(int32_t slot) override { last_use_[size_t(slot)] = ++clock_; }
  void demote(int32_t slot) override { last_use_[size_t(slot)] = 0; }
  int32_t pick_victim(const uint32_t* pins) override {
    int32_t best = -1;
    for (int32_t s = 0; s < int32_t(last_use_.size()); ++s)
      if (pins[s] == 0 && (best < 0 || last_use_[size_t(s)] < last_use_[size_t(best)])) best = s;
    return best;
  }

 private:
  uint64_t clock_ = 0;
  std::vector<uint64_t> last_use_;  // [n_slots] logical time of the last use
};

// LFU with aging: every n_slots * 8 accesses all counts are halved, so experts that were hot
// long ago do not stay forever.
class LfuPolicy final : public EvictionPolicy {
 public:
  explicit LfuPolicy(int32_t n) : count_(size_t(n), 0), last_use_(size_t(n), 0), period_(uint64_t(n) * 8) {}
  void on_insert(int32_t slot) override {
    count_[size_t(slot)] = 1;
    touch(slot);
  }
  void on_access(int32_t slot) override {
    ++count_[size_t(slot)];
    touch(slot);
  }
  void demote(int32_t slot) override { count_[size_t(slot)] = 0, last_use_[size_t(slot)] = 0; }
  int32_t pick_victim(const uint32_t* pins) override {
    int32_t best = -1;
    for (int32_t s = 0; s < int32_t(count_.size()); ++s) {
      if (pins[s] != 0) continue;
      if (best < 0 || count_[size_t(s)] < count_[size_t(best)] ||
          (count_[size_t(s)] == count_[size_t(best)] && last_use_[size_t(s)] < last_use_[size_t(best)]))
        best = s;
    }
    return best;
  }

 private:
  void touch(int32_t slot) {
    last_use_[size_t(slot)] = ++clock_;
    if (clock_ % period_ == 0)
      for (uint32_t& c : count_) c /= 2;
  }
  uint64_t clock_ = 0;
  std::vector<uint32_t> count_;     // [n_slots] aged use count
  std::vector<uint64_t> last_use_;  // [n_slots] tie-break
  uint64_t period_;
};

}  // namespace

const char* eviction_kind_name(EvictionKind kind) { return kind == EvictionKind::kLfu ? "lfu" : "lru"; }

bool parse_eviction_kind(const std::string& text, EvictionKind* out) {
  if (text == "lru") *out = EvictionKind::kLru;
  else if (text == "lfu") *out = EvictionKind::kLfu;
  else return false;
  return true;
}

std::unique_ptr<EvictionPolicy> make_eviction_policy(EvictionKind kind, int32_t n_slots) {
  if (kind == EvictionKind::kLfu) return std::make_unique<LfuPolicy>(n_slots);
  return std::make_unique<LruPolicy>(n_slots);
}

}  // namespace mote
