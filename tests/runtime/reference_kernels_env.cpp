// tests/runtime checks the block and session arithmetic against float64 oracles at tolerances
// made for the scalar reference kernels. The fast tables quantise activations to int8 (errors
// near 1e-2 of a logit): they are tested against the reference in tests/kernels and end to end in
// tests/e2e. So this whole binary runs on the reference table, however it is started.
#include <gtest/gtest.h>

#include "kernels/kernels.h"

namespace {

class ReferenceKernels : public ::testing::Environment {
 public:
  void SetUp() override { mote::kernels::set_active_kernels(mote::kernels::reference_kernels()); }
};

[[maybe_unused]] const ::testing::Environment* const kReferenceKernels =
    ::testing::AddGlobalTestEnvironment(new ReferenceKernels);

}  // namespace
