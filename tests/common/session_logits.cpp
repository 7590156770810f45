#include "common/session_logits.h"

#include <gtest/gtest.h>

#include <cstring>

#include "session/session.h"

namespace mote::test {

std::vector<float> prefill_then_decode_logits(const Model& m, const std::vector<int32_t>& ids, int64_t max_batch,
                                              KvType kv_type) {
  const int64_t V = m.hparams().vocab_size, n = int64_t(ids.size());
  std::vector<float> out(size_t(2 * n * V));
  SessionOptions so;
  so.max_context = 64;
  so.max_batch = max_batch;
  so.kv_type = kv_type;
  auto s = Session::create(m, so);
  EXPECT_TRUE(s) << s.status().to_string();
  if (!s) return out;
  Status st = (*s)->prefill(ids, out.data(), LogitsMode::kAll);
  EXPECT_TRUE(st) << st.to_string();
  (*s)->reset();
  for (int64_t i = 0; i < n; ++i) {
    st = (*s)->decode(ids[size_t(i)], out.data() + (n + i) * V);
    EXPECT_TRUE(st) << st.to_string();
  }
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace mote::test
