// Counts global operator new calls made while a CountAllocations object is alive (this test
// binary replaces the global operator new/delete; see alloc_counter.cpp).
#pragma once

#include <cstdint>

namespace mote::test {

class CountAllocations {
 public:
  CountAllocations();
  ~CountAllocations();
  int64_t count() const;
};

}  // namespace mote::test
