// backend::create_backend(kCuda) on a machine without a GPU (CI, this test's normal home): a
// build without MOTE_CUDA says it has no CUDA backend and how to get one; a MOTE_CUDA build says
// there is no CUDA device, with CUDA's own reason. Both are kUnsupported and one line. On a
// machine with a GPU (a MOTE_CUDA build) the backend is created and is the CUDA one.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "backend/backend.h"

namespace mote::test {
namespace {

TEST(CudaBackendKind, CreateBackendAnswersClearlyWithoutCuda) {
  backend::BackendOptions o;
  o.kind = backend::BackendKind::kCuda;
  auto b = backend::create_backend(o);
  std::printf("create_backend(kCuda): %s\n", b.is_ok() ? "ok" : b.status().message().c_str());
#if defined(MOTE_TEST_CUDA_BUILD)
  if (b.is_ok()) {
    EXPECT_STREQ(b.value()->name(), "cuda");
    EXPECT_FALSE(b.value()->unified_memory());
    return;
  }
  EXPECT_EQ(b.status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(b.status().message().rfind("MOTE_BACKEND_CUDA: no CUDA device: ", 0), 0u) << b.status().message();
  EXPECT_GT(b.status().message().size(), std::string("MOTE_BACKEND_CUDA: no CUDA device: ").size());
#else
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(b.status().message(), "this build has no CUDA backend (configure with -DMOTE_CUDA=ON)");
#endif
  EXPECT_EQ(b.status().message().find('\n'), std::string::npos);
}

}  // namespace
}  // namespace mote::test
