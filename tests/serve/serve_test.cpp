// Black-box tests of `mote serve` over loopback: the server is a child process (serve_harness.h)
// spoken to with cpp-httplib, checked against the OpenAI-compatible contract of issue 14.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "common/test_util.h"
#include "serve/serve_client.h"
#include "serve/serve_harness.h"

namespace mote::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Shakespeare-flavoured prompts: the demo model was trained on that text.
const char* kPromptA =
    "Tell me of the king. ROMEO: But soft, what light through yonder window breaks? It is the east, and Juliet "
    "is the sun. Arise, fair sun, and kill the envious moon, who is already sick and pale with grief.";
const char* kPromptB =
    "BAPTISTA: Not in my house, Lucentio; for, you know, pitchers have ears, and I have many servants: besides, "
    "old Gremio is hearkening still; and happily we might be interrupted. What say you?";

std::string dump(const HttpReply& r) {
  return "status " + std::to_string(r.status) + " " + r.error + " body: " + r.body.substr(0, 600);
}

const json& usage_of(const HttpReply& r) {
  static const json empty = json::object();
  return r.j.is_object() && r.j.contains("usage") ? r.j["usage"] : empty;
}

int cached_of(const json& usage) {
  if (!usage.contains("prompt_tokens_details") || !usage["prompt_tokens_details"].is_object()) return -1;
  return usage["prompt_tokens_details"].value("cached_tokens", -1);
}

std::string content_of(const HttpReply& r) {
  try {
    const json& m = r.j.at("choices").at(0).at("message");
    return m.at("content").is_string() ? m["content"].get<std::string>() : std::string();
  } catch (...) {
    return "";
  }
}

std::string finish_of(const HttpReply& r) {
  try {
    return r.j.at("choices").at(0).at("finish_reason").get<std::string>();
  } catch (...) {
    return "";
  }
}

void expect_usage_consistent(const json& usage) {
  ASSERT_TRUE(usage.is_object()) << usage.dump();
  ASSERT_TRUE(usage.contains("prompt_tokens") && usage["prompt_tokens"].is_number_integer()) << usage.dump();
  ASSERT_TRUE(usage.contains("completion_tokens") && usage["completion_tokens"].is_number_integer()) << usage.dump();
  ASSERT_TRUE(usage.contains("total_tokens") && usage["total_tokens"].is_number_integer()) << usage.dump();
  EXPECT_GT(usage["prompt_tokens"].get<int>(), 0);
  EXPECT_EQ(usage["total_tokens"].get<int>(), usage["prompt_tokens"].get<int>() + usage["completion_tokens"].get<int>())
      << usage.dump();
  const int cached = cached_of(usage);
  EXPECT_GE(cached, 0) << "usage.prompt_tokens_details.cached_tokens missing: " << usage.dump();
  EXPECT_LE(cached, usage["prompt_tokens"].get<int>()) << usage.dump();
}

void expect_error(const HttpReply& r, int status, const std::string& param_contains = "", const std::string& code = "",
                  const std::string& type = "") {
  EXPECT_EQ(r.status, status) << dump(r);
  const std::string problem = error_shape_problem(r);
  EXPECT_TRUE(problem.empty()) << problem;
  if (!problem.empty()) return;
  const json& e = r.j["error"];
  if (!param_contains.empty()) {
    const std::string param = e["param"].is_string() ? e["param"].get<std::string>() : "";
    EXPECT_NE(param.find(param_contains), std::string::npos)
        << "error.param should name " << param_contains << ": " << r.body;
  }
  if (!code.empty()) { EXPECT_EQ(e["code"].is_string() ? e["code"].get<std::string>() : "null", code) << r.body; }
  if (!type.empty()) { EXPECT_EQ(e["type"].get<std::string>(), type) << r.body; }
}

// ---------------------------------------------------------------------------------------------
// One server shared by the suite: --slots 2, default queue, default model name.
class ServeApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = start_demo_server({"--slots", "2"}).release(); }
  static void TearDownTestSuite() {
    if (server_) {
      const int status = server_->stop();
      EXPECT_EQ(status, 0) << "SIGTERM should exit 0; log:\n" << server_->log();
      delete server_;
      server_ = nullptr;
    }
  }
  void SetUp() override {
    if (!server_) GTEST_SKIP() << "no server";
    ASSERT_TRUE(server_->running()) << "the server died; log:\n" << server_->log();
  }
  void TearDown() override {
    if (server_ && HasFailure()) std::printf("--- server log (tail) ---\n%s\n", tail(server_->log()).c_str());
  }
  static std::string tail(const std::string& s) { return s.size() > 3000 ? s.substr(s.size() - 3000) : s; }
  int port() const { return server_->port(); }
  HttpReply chat(const json& body, int timeout_s = 120) {
    return http_post(port(), "/v1/chat/completions", body.dump(), {}, timeout_s);
  }
  static ServeProcess* server_;
};
ServeProcess* ServeApi::server_ = nullptr;

TEST_F(ServeApi, Health) {
  const HttpReply r = http_get(port(), "/health");
  ASSERT_EQ(r.status, 200) << dump(r);
  ASSERT_TRUE(r.is_json) << r.body;
  EXPECT_EQ(r.j.value("status", ""), "ok");
  EXPECT_EQ(r.j.value("slots_total", -1), 2);
  EXPECT_EQ(r.j.value("slots_idle", -1), 2);
  EXPECT_EQ(r.j.value("queue_depth", -1), 0);
}

TEST_F(ServeApi, Models) {
  const HttpReply r = http_get(port(), "/v1/models");
  ASSERT_EQ(r.status, 200) << dump(r);
  ASSERT_TRUE(r.is_json) << r.body;
  EXPECT_EQ(r.j.value("object", ""), "list");
  ASSERT_TRUE(r.j.contains("data") && r.j["data"].is_array() && r.j["data"].size() == 1) << r.body;
  const json& m = r.j["data"][0];
  EXPECT_EQ(m.value("id", ""), "demo") << "model name is the file stem of demo.mote";
  EXPECT_EQ(m.value("object", ""), "model");
  EXPECT_TRUE(m.contains("created") && m["created"].is_number_integer()) << r.body;
  EXPECT_EQ(m.value("owned_by", ""), "mote");
}

TEST_F(ServeApi, ChatNonStreamingShapeAndUsage) {
  const HttpReply r = chat(chat_body(kPromptA, 16));
  ASSERT_EQ(r.status, 200) << dump(r);
  ASSERT_TRUE(r.is_json) << r.body;
  EXPECT_EQ(r.j.value("object", ""), "chat.completion");
  EXPECT_EQ(r.j.value("id", "").rfind("chatcmpl-", 0), 0u) << r.body;
  EXPECT_TRUE(r.j.contains("created") && r.j["created"].is_number_integer());
  EXPECT_EQ(r.j.value("model", ""), "demo");
  ASSERT_TRUE(r.j.contains("choices") && r.j["choices"].is_array() && r.j["choices"].size() == 1) << r.body;
  const json& c = r.j["choices"][0];
  EXPECT_EQ(c.value("index", -1), 0);
  ASSERT_TRUE(c.contains("message") && c["message"].is_object()) << r.body;
  EXPECT_EQ(c["message"].value("role", ""), "assistant");
  EXPECT_TRUE(c["message"].contains("content") && c["message"]["content"].is_string()) << r.body;
  const std::string fr = c.value("finish_reason", "");
  EXPECT_TRUE(fr == "stop" || fr == "length") << r.body;
  expect_usage_consistent(usage_of(r));
  EXPECT_LE(usage_of(r).value("completion_tokens", 999), 16);
  if (fr == "length") { EXPECT_EQ(usage_of(r).value("completion_tokens", -1), 16) << r.body; }
  // The demo model has no reasoning template: no reasoning_content field (only when non-empty).
  if (c["message"].contains("reasoning_content")) {
    EXPECT_FALSE(c["message"]["reasoning_content"].is_string() &&
                 c["message"]["reasoning_content"].get<std::string>().empty())
        << "reasoning_content appears only when non-empty: " << r.body;
  }
}

TEST_F(ServeApi, FinishReasonLengthWithSmallMaxTokens) {
  for (int n : {1, 3}) {
    const HttpReply r = chat(chat_body(kPromptA, n));
    ASSERT_EQ(r.status, 200) << dump(r);
    EXPECT_EQ(finish_of(r), "length") << r.body;
    EXPECT_EQ(usage_of(r).value("completion_tokens", -1), n) << r.body;
  }
  // max_completion_tokens is the newer name of the same limit.
  json body = chat_body(kPromptA, 0);
  body.erase("max_tokens");
  body["max_completion_tokens"] = 2;
  const HttpReply r = chat(body);
  ASSERT_EQ(r.status, 200) << dump(r);
  EXPECT_EQ(finish_of(r), "length") << r.body;
  EXPECT_EQ(usage_of(r).value("completion_tokens", -1), 2) << r.body;
}

TEST_F(ServeApi, FinishReasonStopWithStopString) {
  const HttpReply ref = chat(chat_body(kPromptB, 32));
  ASSERT_EQ(ref.status, 200) << dump(ref);
  const std::string text = content_of(ref);
  if (finish_of(ref) == "stop") {
    // The model ended by itself (end of sequence) before 32 tokens: that is "stop" too.
    EXPECT_LT(usage_of(ref).value("completion_tokens", 99), 32) << ref.body;
    GTEST_SKIP() << "greedy reply ended by eos: " << text;
  }
  ASSERT_GE(text.size(), 8u) << "need a reply to cut: " << ref.body;
  // A stop string taken from the middle of the greedy reply: the same request with it stops
  // there, the stop string itself is not returned.
  const std::string stop = text.substr(text.size() / 2, 3);
  const size_t at = text.find(stop);
  for (const json& stop_field : {json(stop), json::array({"@@never@@", stop})}) {
    json body = chat_body(kPromptB, 32);
    body["stop"] = stop_field;
    const HttpReply r = chat(body);
    ASSERT_EQ(r.status, 200) << dump(r);
    EXPECT_EQ(finish_of(r), "stop") << r.body;
    EXPECT_EQ(content_of(r), text.substr(0, at)) << "stop " << json(stop).dump() << " in " << json(text).dump();
    EXPECT_LT(usage_of(r).value("completion_tokens", 99), 32);
    expect_usage_consistent(usage_of(r));
  }
  // The same cut while streaming.
  json body = chat_body(kPromptB, 32);
  body["stop"] = stop;
  body["stream"] = true;
  const StreamReply s = http_post_stream(port(), "/v1/chat/completions", body.dump());
  ASSERT_EQ(s.status, 200) << s.error << s.body;
  EXPECT_EQ(stream_content(s), text.substr(0, at));
  EXPECT_TRUE(s.done) << s.body;
}

TEST_F(ServeApi, ContentAsArrayOfTextParts) {
  const HttpReply a = chat(chat_body(kPromptA, 12));
  json parts = json::array({{{"type", "text"}, {"text", kPromptA}}});
  const HttpReply b = chat(chat_body_messages(json::array({{{"role", "user"}, {"content", parts}}}), 12));
  ASSERT_EQ(a.status, 200) << dump(a);
  ASSERT_EQ(b.status, 200) << dump(b);
  EXPECT_EQ(content_of(a), content_of(b)) << "content as [{type:text}] is the same message as a string";
  EXPECT_EQ(usage_of(a).value("prompt_tokens", -1), usage_of(b).value("prompt_tokens", -2));
}

TEST_F(ServeApi, SystemAndAssistantRolesAccepted) {
  const json msgs = json::array({{{"role", "system"}, {"content", "You are a player."}},
                                 {{"role", "user"}, {"content", "Speak."}},
                                 {{"role", "assistant"}, {"content", "I will."}},
                                 {{"role", "user"}, {"content", "Again."}}});
  const HttpReply r = chat(chat_body_messages(msgs, 4));
  ASSERT_EQ(r.status, 200) << dump(r);
  expect_usage_consistent(usage_of(r));
  // Sampling fields in range are accepted.
  json body = chat_body(kPromptA, 4, 0.7);
  body["top_p"] = 0.9;
  body["seed"] = 7;
  body["presence_penalty"] = 0.5;
  body["frequency_penalty"] = 0.5;
  const HttpReply r2 = chat(body);
  EXPECT_EQ(r2.status, 200) << dump(r2);
  // Model omitted is fine.
  json nomodel = chat_body(kPromptA, 2);
  nomodel.erase("model");
  EXPECT_EQ(chat(nomodel).status, 200);
}

void check_chat_stream(const StreamReply& s, bool include_usage, const std::string& object) {
  EXPECT_EQ(s.status, 200) << s.error << s.body.substr(0, 500);
  EXPECT_NE(s.header("Content-Type").find("text/event-stream"), std::string::npos) << s.header("Content-Type");
  const SseParse p = parse_sse(s.body);
  EXPECT_TRUE(p.format_ok) << p.format_error << "\n" << s.body.substr(0, 500);
  // Every record is "data: {json}" except the last, "data: [DONE]".
  ASSERT_FALSE(s.events.empty()) << s.body;
  EXPECT_EQ(s.events.back(), "[DONE]") << "the stream ends with data: [DONE]";
  EXPECT_EQ(std::count(s.events.begin(), s.events.end(), std::string("[DONE]")), 1);
  EXPECT_EQ(s.chunks.size() + 1, s.events.size()) << "every other event is JSON";
  EXPECT_NE(s.body.find("data: [DONE]\n\n"), std::string::npos);
  ASSERT_GE(s.chunks.size(), 2u) << s.body;
  const std::string id = s.chunks[0].value("id", "");
  EXPECT_FALSE(id.empty());
  size_t n_choice_chunks = s.chunks.size();
  if (include_usage) {
    const json& u = s.chunks.back();
    EXPECT_TRUE(u.contains("choices") && u["choices"].is_array() && u["choices"].empty())
        << "the usage chunk has choices []: " << u.dump();
    ASSERT_TRUE(u.contains("usage") && u["usage"].is_object()) << u.dump();
    expect_usage_consistent(u["usage"]);
    --n_choice_chunks;
  }
  for (size_t i = 0; i < s.chunks.size(); ++i) {
    const json& c = s.chunks[i];
    EXPECT_EQ(c.value("object", ""), object) << c.dump();
    EXPECT_EQ(c.value("id", ""), id) << "one id for the whole stream";
    EXPECT_EQ(c.value("model", ""), "demo") << c.dump();
    EXPECT_TRUE(c.contains("created") && c["created"].is_number_integer()) << c.dump();
    if (i >= n_choice_chunks) continue;
    ASSERT_TRUE(c.contains("choices") && c["choices"].is_array() && c["choices"].size() == 1) << c.dump();
    const json& ch = c["choices"][0];
    const bool last = i + 1 == n_choice_chunks;
    if (last) {
      ASSERT_TRUE(ch.contains("finish_reason") && ch["finish_reason"].is_string()) << "final chunk: " << c.dump();
      const std::string fr = ch["finish_reason"];
      EXPECT_TRUE(fr == "stop" || fr == "length") << c.dump();
    } else {
      EXPECT_TRUE(!ch.contains("finish_reason") || ch["finish_reason"].is_null())
          << "finish_reason only on the final chunk: " << c.dump();
    }
    if (object == "chat.completion.chunk") {
      ASSERT_TRUE(ch.contains("delta") && ch["delta"].is_object()) << c.dump();
      if (i == 0) { EXPECT_EQ(ch["delta"], json({{"role", "assistant"}, {"content", ""}})) << "first delta: " << c.dump(); }
      if (last) { EXPECT_TRUE(ch["delta"].empty()) << "the final chunk has an empty delta: " << c.dump(); }
      if (i > 0 && !last) {
        EXPECT_TRUE(ch["delta"].contains("content") || ch["delta"].contains("reasoning_content")) << c.dump();
      }
    } else {
      EXPECT_TRUE(ch.contains("text") && ch["text"].is_string()) << c.dump();
    }
  }
  if (!include_usage) {
    for (const json& c : s.chunks)
      EXPECT_TRUE(!c.contains("usage") || c["usage"].is_null()) << "usage only with include_usage: " << c.dump();
  }
}

TEST_F(ServeApi, ChatStreamingMatchesNonStreaming) {
  const HttpReply ref = chat(chat_body(kPromptA, 24));
  ASSERT_EQ(ref.status, 200) << dump(ref);
  json body = chat_body(kPromptA, 24);
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  const StreamReply s = http_post_stream(port(), "/v1/chat/completions", body.dump());
  check_chat_stream(s, true, "chat.completion.chunk");
  EXPECT_EQ(stream_content(s), content_of(ref)) << "greedy: the deltas add up to the non-streaming reply";
  if (!s.chunks.empty() && s.chunks.back().contains("usage")) {
    const json& u = s.chunks.back()["usage"];
    EXPECT_EQ(u.value("prompt_tokens", -1), usage_of(ref).value("prompt_tokens", -2));
    EXPECT_EQ(u.value("completion_tokens", -1), usage_of(ref).value("completion_tokens", -2));
  }
  if (s.chunks.size() >= 2) {
    const json& fin = s.chunks[s.chunks.size() - 2]["choices"][0];
    EXPECT_EQ(fin.value("finish_reason", ""), finish_of(ref));
  }
}

TEST_F(ServeApi, ChatStreamingWithoutUsage) {
  json body = chat_body(kPromptB, 8);
  body["stream"] = true;
  const StreamReply s = http_post_stream(port(), "/v1/chat/completions", body.dump());
  check_chat_stream(s, false, "chat.completion.chunk");
}

TEST_F(ServeApi, CompletionsNonStreamingAndStreaming) {
  const json body = {{"model", "demo"}, {"prompt", "ROMEO:\nBut soft, what light"}, {"max_tokens", 16},
                     {"temperature", 0}};
  const HttpReply r = http_post(port(), "/v1/completions", body.dump());
  ASSERT_EQ(r.status, 200) << dump(r);
  ASSERT_TRUE(r.is_json);
  EXPECT_EQ(r.j.value("object", ""), "text_completion");
  EXPECT_EQ(r.j.value("model", ""), "demo");
  EXPECT_FALSE(r.j.value("id", "").empty());
  ASSERT_TRUE(r.j.contains("choices") && r.j["choices"].is_array() && r.j["choices"].size() == 1) << r.body;
  const json& c = r.j["choices"][0];
  ASSERT_TRUE(c.contains("text") && c["text"].is_string()) << r.body;
  EXPECT_EQ(c.value("index", -1), 0);
  const std::string fr = c.value("finish_reason", "");
  EXPECT_TRUE(fr == "stop" || fr == "length") << r.body;
  expect_usage_consistent(usage_of(r));
  if (fr == "length") { EXPECT_EQ(usage_of(r).value("completion_tokens", -1), 16); }

  json sb = body;
  sb["stream"] = true;
  sb["stream_options"] = {{"include_usage", true}};
  const StreamReply s = http_post_stream(port(), "/v1/completions", sb.dump());
  check_chat_stream(s, true, "text_completion");
  EXPECT_EQ(stream_content(s), c.value("text", "")) << "greedy: streamed text equals the non-streaming text";

  // A stop string and max_tokens apply to completions too.
  json one = body;
  one["max_tokens"] = 1;
  const HttpReply r1 = http_post(port(), "/v1/completions", one.dump());
  ASSERT_EQ(r1.status, 200) << dump(r1);
  EXPECT_EQ(r1.j["choices"][0].value("finish_reason", ""), "length");
  EXPECT_EQ(usage_of(r1).value("completion_tokens", -1), 1);
}

TEST_F(ServeApi, SeedReproducibleWithTemperature) {
  auto sample = [&](int seed) {
    json body = chat_body(kPromptB, 24, 1.2);
    body["seed"] = seed;
    const HttpReply r = chat(body);
    EXPECT_EQ(r.status, 200) << dump(r);
    return content_of(r);
  };
  const std::string a1 = sample(1234), a2 = sample(1234);
  EXPECT_EQ(a1, a2) << "same seed, same prompt, temperature 1.2: the same reply";
  std::set<std::string> others = {a1, sample(1), sample(2), sample(3)};
  EXPECT_GE(others.size(), 2u) << "different seeds at temperature 1.2 should not all agree";
  // Temperature 0 ignores the seed.
  json g1 = chat_body(kPromptB, 12), g2 = chat_body(kPromptB, 12);
  g1["seed"] = 1;
  g2["seed"] = 2;
  EXPECT_EQ(content_of(chat(g1)), content_of(chat(g2)));
}

TEST_F(ServeApi, SecondTurnReusesThePrefix) {
  const json turn1 = json::array({{{"role", "system"}, {"content", "Thou art a player upon the stage."}},
                                  {{"role", "user"}, {"content", kPromptA}}});
  const HttpReply r1 = chat(chat_body_messages(turn1, 8));
  ASSERT_EQ(r1.status, 200) << dump(r1);
  const int p1 = usage_of(r1).value("prompt_tokens", 0);
  json turn2 = turn1;
  turn2.push_back({{"role", "assistant"}, {"content", content_of(r1)}});
  turn2.push_back({{"role", "user"}, {"content", "Say more."}});
  const HttpReply r2 = chat(chat_body_messages(turn2, 8));
  ASSERT_EQ(r2.status, 200) << dump(r2);
  expect_usage_consistent(usage_of(r2));
  const int p2 = usage_of(r2).value("prompt_tokens", 0);
  const int cached = cached_of(usage_of(r2));
  std::printf("[record] turn 1: prompt %d tokens; turn 2: prompt %d, cached %d, evaluated %d\n", p1, p2, cached,
              p2 - cached);
  EXPECT_GT(cached, 0);
  EXPECT_GE(cached, p1) << "the whole first-turn prompt is in the slot";
  EXPECT_LE(p2 - cached, usage_of(r1).value("completion_tokens", 0) + 24)
      << "only the reply and the new user message are evaluated";
  // The same request again: all but a token or two is cached.
  const HttpReply r3 = chat(chat_body_messages(turn2, 8));
  ASSERT_EQ(r3.status, 200) << dump(r3);
  // (The last prompt token is always evaluated for its logits; allow one more, e.g. for the MTP
  // draft head's input.)
  EXPECT_GE(cached_of(usage_of(r3)), usage_of(r3).value("prompt_tokens", 0) - 2) << r3.body;
}

TEST_F(ServeApi, MetricsPrometheusText) {
  const HttpReply raw = http_get(port(), "/metrics");
  ASSERT_EQ(raw.status, 200) << dump(raw);
  EXPECT_NE(raw.header("Content-Type").find("text/plain"), std::string::npos) << raw.header("Content-Type");
  const Metrics before = parse_metrics(raw.body);
  EXPECT_TRUE(before.error.empty()) << before.error;
  static const char* kNames[] = {"mote_requests_total",
                                 "mote_requests_rejected_total",
                                 "mote_request_errors_total",
                                 "mote_prompt_tokens_total",
                                 "mote_prompt_tokens_reused_total",
                                 "mote_generated_tokens_total",
                                 "mote_decode_tokens_per_second",
                                 "mote_prefill_tokens_per_second",
                                 "mote_queue_depth",
                                 "mote_queue_capacity",
                                 "mote_slots_total",
                                 "mote_slots_busy",
                                 "mote_expert_accesses_total",
                                 "mote_expert_hits_total",
                                 "mote_expert_misses_total",
                                 "mote_expert_prefetch_hits_total",
                                 "mote_expert_bytes_read_total",
                                 "mote_expert_io_stall_seconds_total",
                                 "mote_resident_bytes",
                                 "mote_peak_resident_bytes",
                                 "mote_memory_bound_bytes"};
  for (const char* n : kNames) {
    EXPECT_TRUE(before.has(n)) << n << " missing from /metrics";
    EXPECT_TRUE(before.help.count(n)) << "# HELP " << n << " missing";
    EXPECT_TRUE(before.type.count(n)) << "# TYPE " << n << " missing";
    const std::string name = n;
    if (before.type.count(n) && name.size() > 6 && name.substr(name.size() - 6) == "_total" &&
        name != "mote_slots_total") {
      EXPECT_EQ(before.type.at(n), "counter") << n;
    }
  }
  EXPECT_EQ(before.value("mote_slots_total"), 2);
  EXPECT_EQ(before.value("mote_queue_capacity"), 64) << "default --queue 64";
  EXPECT_EQ(before.value("mote_slots_busy"), 0);
  EXPECT_GT(before.value("mote_memory_bound_bytes"), 0);
  EXPECT_GT(before.value("mote_resident_bytes"), 0);

  const HttpReply r = chat(chat_body("O Romeo, Romeo! wherefore art thou Romeo?", 6));
  ASSERT_EQ(r.status, 200) << dump(r);
  const Metrics after = fetch_metrics(port());
  ASSERT_TRUE(after.error.empty()) << after.error;
  EXPECT_GE(after.value("mote_requests_total"), before.value("mote_requests_total") + 1);
  EXPECT_GE(after.value("mote_prompt_tokens_total"),
            before.value("mote_prompt_tokens_total") + usage_of(r).value("prompt_tokens", 0));
  EXPECT_GE(after.value("mote_generated_tokens_total"),
            before.value("mote_generated_tokens_total") + usage_of(r).value("completion_tokens", 0));
  EXPECT_GT(after.value("mote_expert_accesses_total"), before.value("mote_expert_accesses_total"));
  EXPECT_GE(after.value("mote_peak_resident_bytes"), after.value("mote_resident_bytes") * 0.5);
  EXPECT_GT(after.value("mote_decode_tokens_per_second"), 0);

  // A bad request counts as an error.
  const double errors_before = after.value("mote_request_errors_total");
  http_post(port(), "/v1/chat/completions", "{not json");
  const double errors_now = fetch_metrics(port()).value("mote_request_errors_total");
  double errors_later = errors_now;
  for (int i = 0; i < 50 && errors_later <= errors_before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    errors_later = fetch_metrics(port()).value("mote_request_errors_total");
  }
  EXPECT_GT(errors_later, errors_before) << "a 400 is counted in mote_request_errors_total";
  EXPECT_GT(errors_now, errors_before)
      << "counted before the response is sent (a scrape right after a reply must include it; counted only "
      << (errors_later > errors_before ? "later" : "never") << ")";
}

// --- errors -------------------------------------------------------------------------------------

TEST_F(ServeApi, ErrorMalformedJson) {
  for (const char* body : {"{not json", "", "[1,2", "{\"messages\": [}"}) {
    SCOPED_TRACE(body);
    expect_error(http_post(port(), "/v1/chat/completions", body), 400);
  }
  expect_error(http_post(port(), "/v1/completions", "{{"), 400);
  // A JSON value that is not an object.
  expect_error(http_post(port(), "/v1/chat/completions", "[1,2,3]"), 400);
}

TEST_F(ServeApi, ErrorWrongTypesAndValues) {
  struct Case {
    std::string field;
    json value;
  };
  const std::vector<Case> cases = {
      {"messages", "hello"},       {"messages", json::array()},  {"messages", 5},
      {"temperature", "hot"},      {"temperature", 3.0},         {"temperature", -1},
      {"top_p", "x"},              {"top_p", 1.5},               {"max_tokens", "ten"},
      {"max_tokens", -1},          {"max_tokens", 2.5},          {"stream", "yes"},
      {"seed", "abc"},             {"stop", 5},                  {"stop", json::array({"a", "b", "c", "d", "e"})},
      {"presence_penalty", "no"},  {"frequency_penalty", json::object()}, {"model", 42},
      {"max_completion_tokens", "x"}, {"stream_options", "x"},
  };
  for (const Case& c : cases) {
    json body = chat_body(kPromptA, 4);
    body[c.field] = c.value;
    SCOPED_TRACE(c.field + " = " + c.value.dump());
    expect_error(http_post(port(), "/v1/chat/completions", body.dump()), 400, c.field, "", "invalid_request_error");
  }
  // Missing messages.
  json body = chat_body(kPromptA, 4);
  body.erase("messages");
  expect_error(http_post(port(), "/v1/chat/completions", body.dump()), 400, "messages");
  // Completions: missing / wrong-typed prompt.
  expect_error(http_post(port(), "/v1/completions", json({{"max_tokens", 2}}).dump()), 400, "prompt");
  expect_error(http_post(port(), "/v1/completions", json({{"prompt", 7}}).dump()), 400, "prompt");
  expect_error(http_post(port(), "/v1/completions", json({{"prompt", "x"}, {"temperature", "x"}}).dump()), 400,
               "temperature");
}

TEST_F(ServeApi, ErrorBadMessages) {
  const std::vector<json> bad = {
      json::array({{{"role", "wizard"}, {"content", "hi"}}}),
      json::array({{{"content", "no role"}}}),
      json::array({{{"role", "user"}}}),
      json::array({{{"role", "user"}, {"content", 12}}}),
      json::array({{{"role", 3}, {"content", "x"}}}),
      json::array({"just a string"}),
      json::array({{{"role", "user"}, {"content", json::array({{{"type", "image_url"}, {"image_url", "x"}}})}}}),
  };
  for (const json& msgs : bad) {
    SCOPED_TRACE(msgs.dump());
    expect_error(http_post(port(), "/v1/chat/completions", chat_body_messages(msgs, 4).dump()), 400, "messages");
  }
}

TEST_F(ServeApi, ErrorUnknownModel) {
  json body = chat_body(kPromptA, 4);
  body["model"] = "gpt-4o";
  expect_error(http_post(port(), "/v1/chat/completions", body.dump()), 404, "", "model_not_found");
  expect_error(http_post(port(), "/v1/completions", json({{"model", "nope"}, {"prompt", "x"}}).dump()), 404, "",
               "model_not_found");
}

TEST_F(ServeApi, ErrorInvalidUtf8) {
  const std::string bad = "{\"model\":\"demo\",\"max_tokens\":2,\"messages\":[{\"role\":\"user\",\"content\":\"ab\xff\xfe"
                          "cd\"}]}";
  expect_error(http_post(port(), "/v1/chat/completions", bad), 400);
  const std::string bad2 = "{\"max_tokens\":2,\"prompt\":\"\xc3\x28 x\"}";
  expect_error(http_post(port(), "/v1/completions", bad2), 400);
  // A lone surrogate escape is not valid text either.
  const std::string bad3 = R"({"max_tokens":2,"messages":[{"role":"user","content":"x\udc00y"}]})";
  expect_error(http_post(port(), "/v1/chat/completions", bad3), 400);
  EXPECT_TRUE(server_->running());
}

TEST_F(ServeApi, ErrorBodyTooLarge) {
  // 1.5 MiB of valid JSON: rejected with 413 (read raw, so the reply counts even if the server
  // stops reading the body early).
  json body = chat_body(std::string(1536 * 1024, 'a'), 2);
  const std::string payload = body.dump();
  const std::string request = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                              "application/json\r\nConnection: close\r\nContent-Length: " +
                              std::to_string(payload.size()) + "\r\n\r\n" + payload;
  const std::string resp = raw_exchange(port(), request, 20);
  EXPECT_EQ(raw_status(resp), 413) << resp.substr(0, 400);
  const size_t hdr_end = resp.find("\r\n\r\n");
  if (hdr_end != std::string::npos) {
    HttpReply r;
    r.status = raw_status(resp);
    r.body = resp.substr(hdr_end + 4);
    r.j = json::parse(r.body, nullptr, false);
    r.is_json = !r.j.is_discarded();
    // The body may be chunked; only check the shape when it parsed.
    if (r.is_json) { EXPECT_TRUE(error_shape_problem(r).empty()) << error_shape_problem(r); }
  }
  // Just under 1 MiB is accepted as far as size goes (it is a valid request that the context
  // cannot hold, so anything but 413).
  json ok_body = chat_body(std::string(1000 * 1000, 'a'), 2);
  const HttpReply under = http_post(port(), "/v1/chat/completions", ok_body.dump(), {}, 120);
  EXPECT_NE(under.status, 413) << dump(under);
  EXPECT_NE(under.status, -1) << dump(under);
  EXPECT_TRUE(server_->running());
}

TEST_F(ServeApi, ErrorUnknownPathAndWrongMethod) {
  expect_error(http_get(port(), "/v1/nothing"), 404);
  expect_error(http_post(port(), "/v2/chat/completions", "{}"), 404);
  expect_error(http_get(port(), "/v1/chat/completions"), 405);
  expect_error(http_get(port(), "/v1/completions"), 405);
  expect_error(http_post(port(), "/v1/models", "{}"), 405);
  expect_error(http_request(port(), "DELETE", "/v1/chat/completions"), 405);
  expect_error(http_request(port(), "PUT", "/health", "{}"), 405);
}

TEST_F(ServeApi, ErrorPromptTooLongForDefaultContext) {
  // Far over the default per-slot context (4096 tokens): ~12000 tokens.
  std::string text;
  for (int i = 0; i < 3000; ++i) text += "Romeo and Juliet ";
  const HttpReply r = http_post(port(), "/v1/chat/completions", chat_body(text, 4).dump());
  expect_error(r, 400, "", "context_length_exceeded");
}

TEST_F(ServeApi, DisconnectCancelsGeneration) {
  const Metrics m0 = fetch_metrics(port());
  json body = chat_body(kPromptA, 900);
  body["stream"] = true;
  size_t received = 0;
  const StreamReply s = http_post_stream(port(), "/v1/chat/completions", body.dump(), {}, 60,
                                         [&](const StreamReply& so_far) {
                                           received = so_far.chunks.size();
                                           return so_far.chunks.size() < 4;
                                         });
  EXPECT_EQ(s.status, 200);
  EXPECT_FALSE(s.done) << "the client left before the end (the reply was too short to test cancelling: "
                       << s.chunks.size() << " chunks)";
  const auto t0 = Clock::now();
  const json h = wait_all_idle(port(), 3.0);
  const double freed_s = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(h.value("slots_idle", -1), 2) << "the slot is freed after a disconnect: " << h.dump();
  const double g1 = fetch_metrics(port()).value("mote_generated_tokens_total");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const double g2 = fetch_metrics(port()).value("mote_generated_tokens_total");
  EXPECT_EQ(g1, g2) << "generation stopped";
  const double generated = g2 - m0.value("mote_generated_tokens_total");
  std::printf("[record] disconnect after %zu chunks: slot free after %.3f s, %g tokens generated in all\n", received,
              freed_s, generated);
  // The client stops reading after 4 events, but more chunks are already in its buffers and the
  // demo model decodes thousands of tokens a second: allow for that, far below the 900 asked for.
  EXPECT_LE(generated, 128) << "cancel soon after the disconnect (" << generated << " of 900 generated)";
  EXPECT_LT(freed_s, 2.0);
}

TEST_F(ServeApi, NoSlotLeakAfterManyBadAndCancelledRequests) {
  std::mt19937 rng(7);
  int statuses[6] = {0};
  for (int i = 0; i < 50; ++i) {
    switch (i % 6) {
      case 0:
        statuses[0] += http_post(port(), "/v1/chat/completions", "{oops", {}, 10).status == 400;
        break;
      case 1:
        statuses[1] += http_post(port(), "/v1/chat/completions",
                                 chat_body_messages(json::array({{{"role", "bad"}, {"content", "x"}}}), 4).dump(), {},
                                 10)
                           .status == 400;
        break;
      case 2: {  // stream cancelled after the first chunk
        json body = chat_body(kPromptB, 200);
        body["stream"] = true;
        const StreamReply s = http_post_stream(port(), "/v1/chat/completions", body.dump(), {}, 10,
                                               [](const StreamReply& r) { return r.chunks.size() < 1; });
        statuses[2] += s.status == 200;
        break;
      }
      case 3: {  // non-streaming request whose client leaves at once
        const std::string payload = chat_body(kPromptA, 200).dump();
        raw_exchange(port(),
                     "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-"
                     "Length: " +
                         std::to_string(payload.size()) + "\r\n\r\n" + payload,
                     0);
        statuses[3] += 1;
        break;
      }
      case 4: {  // garbage, then a truncated body
        std::string junk(512, '\0');
        for (char& ch : junk) ch = char(rng());
        raw_exchange(port(), junk, 1);
        raw_exchange(port(), "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 500\r\n\r\n{\"mess", 0);
        statuses[4] += 1;
        break;
      }
      case 5: {  // a normal short stream
        json body = chat_body(kPromptB, 3);
        body["stream"] = true;
        const StreamReply s = http_post_stream(port(), "/v1/chat/completions", body.dump(), {}, 60);
        statuses[5] += s.status == 200 && s.done;
        break;
      }
    }
  }
  EXPECT_EQ(statuses[0], 9);
  EXPECT_EQ(statuses[1], 9);
  EXPECT_EQ(statuses[2], 8);
  EXPECT_EQ(statuses[5], 8);
  const json h = wait_all_idle(port(), 10.0);
  EXPECT_EQ(h.value("slots_idle", -1), 2) << h.dump();
  EXPECT_EQ(h.value("queue_depth", -1), 0) << h.dump();
  EXPECT_EQ(fetch_metrics(port()).value("mote_slots_busy"), 0);
  // Still serving.
  const HttpReply r = http_post(port(), "/v1/chat/completions", chat_body(kPromptA, 2).dump());
  EXPECT_EQ(r.status, 200) << dump(r);
}

TEST_F(ServeApi, SurvivesGarbageAndHugeHeaders) {
  std::mt19937 rng(1);
  for (int i = 0; i < 5; ++i) {
    std::string junk(4096, '\0');
    for (char& ch : junk) ch = char(rng());
    bool connected = false;
    raw_exchange(port(), junk, 1, nullptr, &connected);
    EXPECT_TRUE(connected);
  }
  // A header line over 8 KiB: refused (4xx or the connection closed), never a crash.
  const std::string big = "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n";
  const std::string resp = raw_exchange(port(), big, 2);
  const int st = raw_status(resp);
  EXPECT_TRUE(st == -1 || (st >= 400 && st < 500)) << resp.substr(0, 200);
  // A request line with a huge URI.
  const int st3 = raw_status(raw_exchange(port(), "GET /" + std::string(20000, 'x') + " HTTP/1.1\r\n\r\n", 2));
  EXPECT_TRUE(st3 == -1 || (st3 >= 400 && st3 < 500)) << st3;
  // A connection that sends half a request and goes quiet is dropped by its own timeout without
  // blocking others.
  std::thread idle([&] { raw_exchange(port(), "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 99\r\n", 3); });
  ASSERT_TRUE(server_->running()) << server_->log();
  const HttpReply h = http_get(port(), "/health", {}, 5);
  EXPECT_EQ(h.status, 200) << dump(h);
  idle.join();
  EXPECT_EQ(http_get(port(), "/health", {}, 5).status, 200);
  EXPECT_TRUE(server_->running());
}

// The issue asks for bounded header sizes: 64 KiB of headers in many short lines (each under the
// 8 KiB line limit) is refused too, not read without end.
TEST_F(ServeApi, TotalHeaderSizeBounded) {
  std::string many = "GET /health HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 2000; ++i) many += "X-H" + std::to_string(i) + ": vvvvvvvvvvvvvvvvvvvvvvvv\r\n";
  many += "\r\n";
  const std::string resp = raw_exchange(port(), many, 2);
  const int st = raw_status(resp);
  EXPECT_TRUE(st == -1 || (st >= 400 && st < 500)) << "status " << st << " for " << many.size() << " bytes of headers";
  EXPECT_EQ(http_get(port(), "/health", {}, 5).status, 200);
}

// ---------------------------------------------------------------------------------------------
// Prefix routing across slots: two interleaved conversations each come back to their own slot.
TEST(ServeRouting, InterleavedConversationsLandOnTheirSlots) {
  auto server = start_demo_server({"--slots", "2"});
  ASSERT_TRUE(server);
  const int port = server->port();
  auto chat = [&](const json& msgs) { return http_post(port, "/v1/chat/completions", chat_body_messages(msgs, 8).dump()); };
  json a = json::array({{{"role", "user"}, {"content", kPromptA}}});
  json b = json::array({{{"role", "user"}, {"content", kPromptB}}});
  const HttpReply a1 = chat(a);
  const HttpReply b1 = chat(b);
  ASSERT_EQ(a1.status, 200) << dump(a1);
  ASSERT_EQ(b1.status, 200) << dump(b1);
  a.push_back({{"role", "assistant"}, {"content", content_of(a1)}});
  a.push_back({{"role", "user"}, {"content", "And then?"}});
  b.push_back({{"role", "assistant"}, {"content", content_of(b1)}});
  b.push_back({{"role", "user"}, {"content", "And then?"}});
  for (int round = 0; round < 2; ++round) {
    const HttpReply a2 = chat(a);
    const HttpReply b2 = chat(b);
    ASSERT_EQ(a2.status, 200) << dump(a2);
    ASSERT_EQ(b2.status, 200) << dump(b2);
    const int ca = cached_of(usage_of(a2)), cb = cached_of(usage_of(b2));
    std::printf("[record] round %d: A prompt %d cached %d; B prompt %d cached %d\n", round,
                usage_of(a2).value("prompt_tokens", 0), ca, usage_of(b2).value("prompt_tokens", 0), cb);
    EXPECT_GE(ca, usage_of(a1).value("prompt_tokens", 0)) << "conversation A came back to its slot";
    EXPECT_GE(cb, usage_of(b1).value("prompt_tokens", 0)) << "conversation B came back to its slot";
    a.push_back({{"role", "assistant"}, {"content", content_of(a2)}});
    a.push_back({{"role", "user"}, {"content", "Go on."}});
    b.push_back({{"role", "assistant"}, {"content", content_of(b2)}});
    b.push_back({{"role", "user"}, {"content", "Go on."}});
  }
  const Metrics m = fetch_metrics(port);
  EXPECT_GT(m.value("mote_prompt_tokens_reused_total"), 0);
  EXPECT_EQ(server->stop(), 0) << server->log();
}

// ---------------------------------------------------------------------------------------------
// Four slots decoding at once over one model: each greedy reply equals the same request run alone.
TEST(ServeConcurrency, ConcurrentGreedyRepliesEqualSequentialOnes) {
  auto server = start_demo_server({"--slots", "4"});
  ASSERT_TRUE(server);
  const int port = server->port();
  const std::vector<std::string> prompts = {kPromptA, kPromptB, "Speak the speech, I pray you.",
                                            "Now is the winter of our discontent."};
  std::vector<std::string> alone;
  for (const std::string& p : prompts) {
    const HttpReply r = http_post(port, "/v1/chat/completions", chat_body(p, 40).dump());
    ASSERT_EQ(r.status, 200) << dump(r);
    alone.push_back(content_of(r));
  }
  for (int round = 0; round < 3; ++round) {
    std::vector<std::string> together(prompts.size());
    std::vector<int> status(prompts.size(), -1);
    std::vector<std::thread> ts;
    for (size_t i = 0; i < prompts.size(); ++i) {
      ts.emplace_back([&, i] {
        // A different user turn first, so each slot holds something else before this request.
        json body = chat_body(prompts[(i + size_t(round)) % prompts.size()], 40);
        body["stream"] = round % 2 == 1;
        if (round % 2 == 1) {
          const StreamReply s = http_post_stream(port, "/v1/chat/completions", body.dump());
          status[i] = s.done ? s.status : -2;
          together[i] = stream_content(s);
        } else {
          const HttpReply r = http_post(port, "/v1/chat/completions", body.dump());
          status[i] = r.status;
          together[i] = content_of(r);
        }
      });
    }
    for (auto& t : ts) t.join();
    for (size_t i = 0; i < prompts.size(); ++i) {
      EXPECT_EQ(status[i], 200) << "round " << round << " request " << i;
      EXPECT_EQ(together[i], alone[(i + size_t(round)) % prompts.size()]) << "round " << round << " request " << i;
    }
  }
  EXPECT_EQ(wait_all_idle(port, 5.0).value("slots_idle", -1), 4);
  EXPECT_EQ(server->stop(), 0) << server->log();
}

// ---------------------------------------------------------------------------------------------
// DeepSeek-R1 template: the generation prompt opens <think>, the reply's reasoning comes apart.
TEST(ServeReasoning, ReasoningContentReturnedApart) {
  auto server = start_demo_server({"--chat-template", "deepseek-r1"});
  ASSERT_TRUE(server);
  const int port = server->port();
  const HttpReply r = http_post(port, "/v1/chat/completions", chat_body(kPromptA, 48).dump());
  ASSERT_EQ(r.status, 200) << dump(r);
  const json& msg = r.j["choices"][0]["message"];
  ASSERT_TRUE(msg.contains("reasoning_content") && msg["reasoning_content"].is_string())
      << "the reply after <think> is reasoning: " << r.body;
  const std::string reasoning = msg["reasoning_content"];
  const std::string content = msg.value("content", "");
  EXPECT_FALSE(reasoning.empty());
  EXPECT_EQ(content.find("<think>"), std::string::npos) << r.body;
  EXPECT_EQ(content.find("</think>"), std::string::npos) << r.body;
  EXPECT_EQ(reasoning.find("<think>"), std::string::npos) << r.body;
  // Streaming: reasoning deltas, the same split.
  json body = chat_body(kPromptA, 48);
  body["stream"] = true;
  const StreamReply s = http_post_stream(port, "/v1/chat/completions", body.dump());
  ASSERT_EQ(s.status, 200) << s.error;
  check_chat_stream(s, false, "chat.completion.chunk");
  EXPECT_EQ(stream_reasoning(s), reasoning);
  EXPECT_EQ(stream_content(s), content);
  EXPECT_EQ(stream_content(s).find("<think>"), std::string::npos);
  EXPECT_EQ(server->stop(), 0) << server->log();
}

// ---------------------------------------------------------------------------------------------
TEST(ServeContext, PromptOverContextIs400ContextLengthExceeded) {
  auto server = start_demo_server({"--ctx", "64"});
  ASSERT_TRUE(server);
  const int port = server->port();
  std::string text;
  for (int i = 0; i < 40; ++i) text += "Romeo and Juliet ";
  expect_error(http_post(port, "/v1/chat/completions", chat_body(text, 4).dump()), 400, "", "context_length_exceeded");
  expect_error(http_post(port, "/v1/completions", json({{"prompt", text}, {"max_tokens", 2}}).dump()), 400, "",
               "context_length_exceeded");
  // A short prompt fits and runs; a long max_tokens ends at the context ("length").
  const HttpReply ok = http_post(port, "/v1/chat/completions", chat_body("Hi", 4).dump());
  EXPECT_EQ(ok.status, 200) << dump(ok);
  const HttpReply lng = http_post(port, "/v1/completions", json({{"prompt", "ROMEO:"}, {"max_tokens", 500}}).dump());
  if (lng.status == 200) {
    EXPECT_LE(usage_of(lng).value("total_tokens", 999), 64) << lng.body;
  } else {
    expect_error(lng, 400);
  }
  EXPECT_TRUE(server->running());
  EXPECT_EQ(server->stop(), 0) << server->log();
}

// ---------------------------------------------------------------------------------------------
TEST(ServeAuth, ApiKeyRequiredOnV1AndMetrics) {
  auto server = start_demo_server({"--api-key", "sekrit-key", "--model-name", "stage-player"});
  ASSERT_TRUE(server);
  const int port = server->port();
  const httplib::Headers good = {{"Authorization", "Bearer sekrit-key"}};
  const httplib::Headers wrong = {{"Authorization", "Bearer nope"}};
  const httplib::Headers malformed = {{"Authorization", "sekrit-key"}};
  for (const httplib::Headers& h : {httplib::Headers{}, wrong, malformed}) {
    expect_error(http_get(port, "/v1/models", h), 401, "", "", "authentication_error");
    expect_error(http_get(port, "/metrics", h), 401, "", "", "authentication_error");
    expect_error(http_post(port, "/v1/chat/completions", chat_body("Hi", 2).dump(), h), 401, "", "",
                 "authentication_error");
    expect_error(http_post(port, "/v1/completions", json({{"prompt", "x"}}).dump(), h), 401, "", "",
                 "authentication_error");
  }
  EXPECT_EQ(http_get(port, "/health").status, 200) << "/health is open";
  const HttpReply models = http_get(port, "/v1/models", good);
  ASSERT_EQ(models.status, 200) << dump(models);
  EXPECT_EQ(models.j["data"][0].value("id", ""), "stage-player") << "--model-name names the model";
  EXPECT_EQ(http_get(port, "/metrics", good).status, 200);
  json body = chat_body("Hi", 2);
  body["model"] = "stage-player";
  const HttpReply r = http_post(port, "/v1/chat/completions", body.dump(), good);
  EXPECT_EQ(r.status, 200) << dump(r);
  EXPECT_EQ(r.j.value("model", ""), "stage-player");
  body["model"] = "demo";
  expect_error(http_post(port, "/v1/chat/completions", body.dump(), good), 404, "", "model_not_found");
  EXPECT_EQ(server->stop(), 0) << server->log();
}

// ---------------------------------------------------------------------------------------------
// --slots 1 --queue 1: one request runs, one waits, the rest of a burst get 503 + Retry-After.
// (The demo model decodes thousands of tokens a second, so the test does not rely on one request
// holding the slot for long: it sends a burst of 8 long streams at once.)
HttpReply as_reply(const StreamReply& s) {
  HttpReply r;
  r.status = s.status;
  r.error = s.error;
  r.body = s.body;
  r.headers = s.headers;
  r.j = json::parse(s.body, nullptr, false);
  r.is_json = !r.j.is_discarded();
  if (!r.is_json) r.j = json();
  return r;
}

TEST(ServeQueue, FullQueueIs503WithRetryAfter) {
  auto server = start_demo_server({"--slots", "1", "--queue", "1"});
  ASSERT_TRUE(server);
  const int port = server->port();
  const double rejected_before = fetch_metrics(port).value("mote_requests_rejected_total");
  constexpr int kBurst = 8;
  std::vector<StreamReply> replies(kBurst);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kBurst; ++i) {
    threads.emplace_back([&, i] {
      json body = chat_body(i % 2 ? kPromptA : kPromptB, 900);
      body["stream"] = true;
      ++ready;
      while (ready.load() < kBurst) std::this_thread::yield();
      replies[size_t(i)] = http_post_stream(port, "/v1/chat/completions", body.dump(), {}, 120);
    });
  }
  for (auto& t : threads) t.join();
  int ok = 0, busy = 0;
  for (const StreamReply& s : replies) {
    if (s.status == 200) {
      ++ok;
      EXPECT_TRUE(s.done) << "an accepted request runs to [DONE]: " << s.error;
    } else {
      ++busy;
      const HttpReply r = as_reply(s);
      expect_error(r, 503, "", "server_busy");
      EXPECT_FALSE(r.header("Retry-After").empty()) << "503 carries Retry-After";
    }
  }
  std::printf("[record] burst of %d against --slots 1 --queue 1: %d served, %d rejected\n", kBurst, ok, busy);
  EXPECT_GE(busy, 1) << "8 simultaneous long requests cannot all fit 1 slot + 1 queue place";
  EXPECT_GE(ok, 2) << "the slot and the queue place both serve";
  EXPECT_LE(ok, kBurst - 1);
  EXPECT_GE(fetch_metrics(port).value("mote_requests_rejected_total"), rejected_before + busy);
  const json idle = wait_all_idle(port, 5.0);
  EXPECT_EQ(idle.value("slots_idle", -1), 1) << idle.dump();
  EXPECT_EQ(idle.value("queue_depth", -1), 0) << idle.dump();
  EXPECT_EQ(http_post(port, "/v1/chat/completions", chat_body("Hi", 2).dump()).status, 200);
  EXPECT_EQ(server->stop(), 0) << server->log();
}

// A client that stops reading a long stream holds its slot (the server blocks writing to it);
// used to fill the slot deterministically. Returns the socket, or -1 (with the test skipped) when
// the server does not stall on a stalled reader.
int hold_the_only_slot(int port) {
  json body = chat_body(kPromptA, 16000);  // the server runs with --ctx 16384
  body["stream"] = true;
  const int fd = open_stalled_client(port, raw_post("/v1/chat/completions", body.dump()));
  if (fd < 0) {
    ADD_FAILURE() << "could not connect";
    return -1;
  }
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline && http_get(port, "/health", {}, 5).j.value("slots_idle", -1) != 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  if (http_get(port, "/health", {}, 5).j.value("slots_idle", -1) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(ServeQueue, QueuedClientThatLeavesFreesItsPlaceAndStalledClientFreesTheSlot) {
  auto server = start_demo_server({"--slots", "1", "--queue", "2", "--ctx", "16384"});
  ASSERT_TRUE(server);
  const int port = server->port();
  const int holder = hold_the_only_slot(port);
  if (holder < 0) GTEST_SKIP() << "the server kept generating for a client that stopped reading";
  // A second request waits in the queue; its client leaves.
  const int waiter = open_stalled_client(port, raw_post("/v1/chat/completions", chat_body("Hi", 4).dump()));
  ASSERT_GE(waiter, 0);
  json h;
  auto health_until = [&](const std::function<bool(const json&)>& ok, double seconds) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    do {
      h = http_get(port, "/health", {}, 5).j;
      if (ok(h)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } while (Clock::now() < deadline);
    return false;
  };
  EXPECT_TRUE(health_until([](const json& j) { return j.value("queue_depth", -1) == 1; }, 5)) << h.dump();
  close(waiter);
  EXPECT_TRUE(health_until([](const json& j) { return j.value("queue_depth", -1) == 0; }, 2))
      << "a queued request whose client left leaves the queue: " << h.dump();
  EXPECT_EQ(h.value("slots_idle", -1), 0) << "the stalled stream still holds the slot";
  // The stalled client disconnects: its generation is cancelled and the slot comes back.
  const double g0 = fetch_metrics(port).value("mote_generated_tokens_total");
  close(holder);
  EXPECT_TRUE(health_until([](const json& j) { return j.value("slots_idle", -1) == 1; }, 3))
      << "closing a stalled stream frees its slot: " << h.dump();
  const double g1 = fetch_metrics(port).value("mote_generated_tokens_total");
  std::printf("[record] stalled stream: %g tokens counted when it was closed (of 16000 asked)\n", g1 - g0);
  const HttpReply r = http_post(port, "/v1/chat/completions", chat_body("Hi", 2).dump());
  EXPECT_EQ(r.status, 200) << dump(r);
  EXPECT_EQ(server->stop(), 0) << server->log();
}

TEST(ServeQueue, WaitLongerThanTimeoutIs503) {
  auto server = start_demo_server({"--slots", "1", "--queue", "4", "--timeout", "1", "--ctx", "16384"});
  ASSERT_TRUE(server);
  const int port = server->port();
  const int holder = hold_the_only_slot(port);
  if (holder < 0) GTEST_SKIP() << "the server kept generating for a client that stopped reading";
  const auto t0 = Clock::now();
  const HttpReply r = http_post(port, "/v1/chat/completions", chat_body("Hi", 2).dump(), {}, 10);
  const double waited = std::chrono::duration<double>(Clock::now() - t0).count();
  close(holder);
  expect_error(r, 503);
  EXPECT_FALSE(r.header("Retry-After").empty()) << "503 carries Retry-After";
  EXPECT_GE(waited, 0.9);
  EXPECT_LT(waited, 5.0) << "--timeout 1 bounds the wait in the queue";
  EXPECT_EQ(wait_all_idle(port, 3.0).value("slots_idle", -1), 1);
  EXPECT_EQ(server->stop(), 0) << server->log();
}

// ---------------------------------------------------------------------------------------------
TEST(ServeLifecycle, SlotDirPersistsAcrossRestart) {
  const fs::path dir = fresh_temp_dir("serve-slot-dir");
  const json turn1 = json::array({{{"role", "system"}, {"content", "Thou art a player."}},
                                  {{"role", "user"}, {"content", kPromptB}}});
  int p1 = 0;
  std::string reply;
  {
    auto server = start_demo_server({"--slots", "1", "--slot-dir", dir.string()});
    ASSERT_TRUE(server);
    const HttpReply r1 = http_post(server->port(), "/v1/chat/completions", chat_body_messages(turn1, 6).dump());
    ASSERT_EQ(r1.status, 200) << dump(r1);
    p1 = usage_of(r1).value("prompt_tokens", 0);
    reply = content_of(r1);
    EXPECT_EQ(server->stop(), 0) << server->log();
  }
  EXPECT_FALSE(fs::is_empty(dir)) << "the slot was saved under --slot-dir";
  auto server = start_demo_server({"--slots", "1", "--slot-dir", dir.string()});
  ASSERT_TRUE(server);
  json turn2 = turn1;
  turn2.push_back({{"role", "assistant"}, {"content", reply}});
  turn2.push_back({{"role", "user"}, {"content", "Continue."}});
  const HttpReply r2 = http_post(server->port(), "/v1/chat/completions", chat_body_messages(turn2, 6).dump());
  ASSERT_EQ(r2.status, 200) << dump(r2);
  const int cached = cached_of(usage_of(r2));
  std::printf("[record] after restart: prompt %d, cached %d (first turn prompt %d)\n",
              usage_of(r2).value("prompt_tokens", 0), cached, p1);
  EXPECT_GT(cached, 0);
  EXPECT_GE(cached, p1) << "the restored slot holds the first turn";
  EXPECT_EQ(server->stop(), 0) << server->log();
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST(ServeLifecycle, SigtermExitsZeroEvenWhileStreaming) {
  auto server = start_demo_server({});
  ASSERT_TRUE(server);
  const int port = server->port();
  std::atomic<bool> started{false};
  std::thread t([&] {
    json body = chat_body(kPromptA, 900);
    body["stream"] = true;
    http_post_stream(port, "/v1/chat/completions", body.dump(), {}, 30, [&](const StreamReply& r) {
      if (!r.chunks.empty()) started = true;
      return true;
    });
  });
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (!started && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto t0 = Clock::now();
  const int status = server->stop();
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  t.join();
  EXPECT_EQ(status, 0) << server->log();
  EXPECT_LT(took, 10.0);
  std::printf("[record] SIGTERM during a stream: exit %d after %.3f s\n", status, took);
}

TEST(ServeLifecycle, SigintExitsZero) {
  auto server = start_demo_server({});
  ASSERT_TRUE(server);
  EXPECT_EQ(http_get(server->port(), "/health").status, 200);
  kill(server->pid(), SIGINT);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (server->running() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(server->running());
  EXPECT_EQ(server->stop(), 0) << server->log();
}

TEST(ServeLifecycle, ListeningLineAndDefaultHost) {
  auto server = start_demo_server({});
  ASSERT_TRUE(server);
  EXPECT_NE(server->log().find("mote serve: listening on http://127.0.0.1:" + std::to_string(server->port())),
            std::string::npos)
      << "binds to loopback by default: " << server->log();
  EXPECT_GT(server->port(), 0);
  EXPECT_GT(server->peak_rss_bytes(), 0u);
  EXPECT_EQ(server->stop(), 0) << server->log();
}

TEST(ServeLifecycle, BadFlagsExit2WithOneLine) {
  const std::string& model = demo_model_path();
  ASSERT_FALSE(model.empty());
  const std::vector<std::vector<std::string>> cases = {
      {"--port", "notaport"}, {"--port", "70000"},  {"--slots", "0"},       {"--slots", "x"},
      {"--queue", "-1"},      {"--no-such-flag"},   {"--timeout", "soon"},  {"--port"},
      {"--threads", "zero"},  {"--ctx", "-5"},
  };
  for (const auto& extra : cases) {
    std::vector<std::string> argv = {MOTE_CLI_BIN, "serve", model};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::string joined;
    for (const auto& a : extra) joined += a + " ";
    SCOPED_TRACE(joined);
    const CommandResult r = run_command(argv);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    std::string err = r.err;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    EXPECT_FALSE(err.empty());
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 0) << "one-line error, got:\n" << r.err;
  }
  // A file that does not exist is an error too (not a hang).
  const CommandResult missing = run_command({MOTE_CLI_BIN, "serve", "/nonexistent/model.mote", "--port", "0"});
  EXPECT_NE(missing.exit_code, 0);
}

}  // namespace
}  // namespace mote::test
