// SamplingParams::validate(): every field out of range, NaN included, with a message naming it.
#include "sampling/sampling_params.h"

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <string>

namespace mote {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

void expect_invalid(const std::function<void(SamplingParams&)>& edit, const std::string& field) {
  SamplingParams p;
  edit(p);
  const Status s = p.validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << field;
  EXPECT_NE(s.message().find(field), std::string::npos) << s.message();
}

TEST(SamplingParams, DefaultsAreValidGreedy) {
  const SamplingParams p;
  EXPECT_TRUE(p.validate().is_ok());
  EXPECT_EQ(p.temperature, 0.0f);
  EXPECT_FALSE(p.penalties_enabled());
}

TEST(SamplingParams, TypicalSettingsAreValid) {
  SamplingParams p;
  p.temperature = 0.6f;
  p.top_k = 40;
  p.top_p = 0.95f;
  p.min_p = 0.05f;
  p.repetition_penalty = 1.1f;
  p.presence_penalty = -0.5f;  // negative encourages: allowed
  p.frequency_penalty = 0.3f;
  p.penalty_last_n = -1;
  EXPECT_TRUE(p.validate().is_ok());
  EXPECT_TRUE(p.penalties_enabled());
  p.min_p = 1.0f;
  p.top_p = 1.0f;
  EXPECT_TRUE(p.validate().is_ok());
  p.penalty_last_n = 0;
  EXPECT_FALSE(p.penalties_enabled());
}

TEST(SamplingParams, RejectsOutOfRangeFields) {
  expect_invalid([](SamplingParams& p) { p.temperature = -0.1f; }, "temperature");
  expect_invalid([](SamplingParams& p) { p.temperature = kNaN; }, "temperature");
  expect_invalid([](SamplingParams& p) { p.temperature = kInf; }, "temperature");
  expect_invalid([](SamplingParams& p) { p.top_k = -1; }, "top_k");
  expect_invalid([](SamplingParams& p) { p.top_p = 0.0f; }, "top_p");
  expect_invalid([](SamplingParams& p) { p.top_p = 1.01f; }, "top_p");
  expect_invalid([](SamplingParams& p) { p.top_p = kNaN; }, "top_p");
  expect_invalid([](SamplingParams& p) { p.min_p = -0.01f; }, "min_p");
  expect_invalid([](SamplingParams& p) { p.min_p = 1.5f; }, "min_p");
  expect_invalid([](SamplingParams& p) { p.min_p = kNaN; }, "min_p");
  expect_invalid([](SamplingParams& p) { p.repetition_penalty = 0.0f; }, "repetition_penalty");
  expect_invalid([](SamplingParams& p) { p.repetition_penalty = kNaN; }, "repetition_penalty");
  expect_invalid([](SamplingParams& p) { p.repetition_penalty = kInf; }, "repetition_penalty");
  expect_invalid([](SamplingParams& p) { p.presence_penalty = kNaN; }, "presence_penalty");
  expect_invalid([](SamplingParams& p) { p.frequency_penalty = -kInf; }, "frequency_penalty");
  expect_invalid([](SamplingParams& p) { p.penalty_last_n = -2; }, "penalty_last_n");
  expect_invalid(
      [](SamplingParams& p) { p.penalty_last_n = SamplingParams::kMaxPenaltyWindow + 1; },
      "penalty_last_n");
}

}  // namespace
}  // namespace mote
