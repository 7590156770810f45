// The official `openai` Python client (PyPI) against `mote serve`: chat (plain and streaming with
// include_usage), completions, the model list, and errors raised as the client's exception
// classes. Skipped when python3 or the `openai` package is missing, so the suite needs no Python.
#include <gtest/gtest.h>

#include <string>

#include "common/test_util.h"
#include "serve/serve_harness.h"

namespace mote::test {
namespace {

TEST(ServeOpenAIClient, OfficialPythonClient) {
  const CommandResult probe = run_command({"/usr/bin/env", "python3", "-c", "import openai"});
  if (probe.exit_code != 0) GTEST_SKIP() << "python3 with the openai package is not installed";
  const std::string& model = demo_model_path();
  ASSERT_FALSE(model.empty());
  std::string error;
  auto server = ServeProcess::start(model, {"--api-key", "test-key", "--slots", "2"}, &error);
  ASSERT_TRUE(server) << error;
  const CommandResult r = run_command({"/usr/bin/env", "python3", std::string(MOTE_SERVE_TEST_DIR) + "/openai_client_check.py",
                                       "--base-url", server->base_url() + "/v1", "--api-key", "test-key", "--model",
                                       demo_model_name()});
  std::printf("%s", r.out.c_str());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << "\n--- server log ---\n" << server->log();
  EXPECT_NE(r.out.find("ALL OK"), std::string::npos);
  EXPECT_EQ(server->stop(), 0) << server->log();
}

}  // namespace
}  // namespace mote::test
