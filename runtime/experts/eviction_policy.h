// Eviction policies of the expert store, over cache slot indices [0, n_slots).
// The store calls on_insert when a slot receives an expert, on_access on every hit, and
// pick_victim when it needs a slot and none is empty. Policies allocate only in their factory.
// Thread-safety: none; the store calls them under its mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mote {

enum class EvictionKind {
  kLru,  // least recently used
  kLfu,  // least frequently used, counts halved every `aging period` accesses (ties: LRU)
};

const char* eviction_kind_name(EvictionKind kind);
// Parses "lru" or "lfu"; returns false if unknown.
bool parse_eviction_kind(const std::string& text, EvictionKind* out);

class EvictionPolicy {
 public:
  virtual ~EvictionPolicy() = default;
  virtual void on_insert(int32_t slot) = 0;
  virtual void on_access(int32_t slot) = 0;
  // The slot becomes the first to go (its history is forgotten): for experts that will not be
  // used for a while (an MTP layer's while drafting is off).
  virtual void demote(int32_t slot) = 0;
  // An unpinned slot (pins[slot] == 0) to evict, or -1 if every slot is pinned. pins: [n_slots].
  virtual int32_t pick_victim(const uint32_t* pins) = 0;
};

std::unique_ptr<EvictionPolicy> make_eviction_policy(EvictionKind kind, int32_t n_slots);

}  // namespace mote
