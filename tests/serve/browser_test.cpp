// The web chat page of `mote serve`, driven by Debian's headless chromium over the DevTools
// protocol (serve/cdp_client.h). Checks the DOM, not the pixels: a reply streams into the page
// (seen growing while #status says "generating"), equals what the server answers non-streaming for
// the same request at temperature 0, a second turn continues the conversation, the expert panel
// fills in, the stop button ends a long reply and frees the slot, and no JavaScript exception is
// thrown. Saves a screenshot after the first reply to MOTE_BUILD_DIR/serve-browser-test.png.
// Skipped only when no chromium binary is found ($MOTE_CHROMIUM, /usr/bin/chromium,
// chromium-browser).
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "serve/cdp_client.h"
#include "serve/serve_harness.h"

namespace mote::test {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// The DOM contract of the page (samples/mote/serve/web).
const char* const kContractIds[] = {"prompt", "send",        "stop",       "messages",        "status",
                                    "expert-panel", "heatmap", "hit-rate", "bytes-per-token", "memory",
                                    "temperature",  "top-p",   "max-tokens", "seed",          "system",
                                    "api-key"};

constexpr const char* kSystemPrompt = "You are a helpful assistant.";

std::string js_str(const std::string& s) { return json(s).dump(); }

// Letters and digits only (ASCII), other bytes (UTF-8) kept: what survives markdown rendering.
std::string alnum_only(const std::string& s) {
  std::string out;
  for (unsigned char c : s)
    if (std::isalnum(c) || c >= 0x80) out.push_back(static_cast<char>(c));
  return out;
}

std::string collapse_ws(const std::string& s) {
  std::string out;
  bool space = false;
  for (unsigned char c : s) {
    if (std::isspace(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(static_cast<char>(c));
  }
  return out;
}

bool has_markdown_chars(const std::string& s) { return s.find_first_of("*_#`[]<>|~&\\") != std::string::npos; }

// The page's text must be the server's text as rendered: exactly (whitespace collapsed) when the
// raw text has no markdown characters, else the same letters and digits in the same order.
void expect_rendered_equals(const std::string& page_text, const std::string& raw, const std::string& what) {
  if (!has_markdown_chars(raw)) {
    EXPECT_EQ(collapse_ws(page_text), collapse_ws(raw)) << what;
  } else {
    EXPECT_EQ(alnum_only(page_text), alnum_only(raw)) << what << "\npage text: " << page_text << "\nserver: " << raw;
  }
}

// Installs an in-page recorder: a MutationObserver that notes (assistant count, last assistant
// .content length, #status text) at every DOM change, so fast streams are seen too.
const char* const kRecorderJs = R"JS(
(() => {
  if (window.__moteRec) return true;
  const rec = window.__moteRec = {samples: []};
  rec.snap = () => {
    const a = document.querySelectorAll('#messages .msg.assistant');
    const c = a.length ? a[a.length - 1].querySelector('.content') : null;
    const len = c ? c.textContent.length : 0;
    const st = (document.getElementById('status') || {}).textContent || '';
    const s = st.trim();
    const p = rec.samples[rec.samples.length - 1];
    if (!p || p.len !== len || p.status !== s || p.n !== a.length)
      rec.samples.push({n: a.length, len: len, status: s, t: performance.now()});
  };
  new MutationObserver(rec.snap).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: false});
  rec.snap();
  return true;
})()
)JS";

// A snapshot of the page state the test looks at.
const char* const kStateJs = R"JS(
(() => {
  const a = [...document.querySelectorAll('#messages .msg.assistant')];
  const u = [...document.querySelectorAll('#messages .msg.user')];
  const last = a.length ? a[a.length - 1].querySelector('.content') : null;
  const t = id => { const e = document.getElementById(id); return e ? e.textContent.trim() : null; };
  return {
    status: t('status'),
    n_assistant: a.length,
    n_user: u.length,
    text: last ? last.textContent : null,
    assistant_texts: a.map(e => { const c = e.querySelector('.content'); return c ? c.textContent : null; }),
    user_texts: u.map(e => e.textContent),
  };
})()
)JS";

struct TurnResult {
  std::string final_text;
  std::set<size_t> generating_lengths;  // distinct non-zero .content lengths seen while "generating"
  bool saw_generating = false;
  double seconds = 0;
  std::string error;
};

class BrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chromium_ = find_chromium();
    if (chromium_.empty()) GTEST_SKIP() << "no chromium found ($MOTE_CHROMIUM, /usr/bin/chromium, chromium-browser)";
    const std::string& model = demo_model_path();
    ASSERT_FALSE(model.empty()) << "demo model conversion failed";
    std::string err;
    // A small expert budget (the demo model has 6.6 MiB of experts) so the panel shows misses and reads.
    server_ = ServeProcess::start(model, {"--slots", "2", "--expert-budget", "3M"}, &err);
    ASSERT_TRUE(server_) << "mote serve did not start: " << err;
    CdpBrowser::Options opt;
    opt.binary = chromium_;
    opt.temp_base = fs::path(MOTE_TEST_TMP) / "browser";
    browser_ = CdpBrowser::launch(opt, &err);
    ASSERT_TRUE(browser_) << "chromium did not start: " << err;
    json r;
    ASSERT_TRUE(browser_->call("Network.enable", json::object(), &r, &err)) << err;
  }

  void TearDown() override {
    if (browser_ && HasFailure()) {
      std::cout << "[browser] console errors:";
      for (const auto& e : browser_->console_errors()) std::cout << "\n  " << e;
      std::cout << "\n[browser] chromium log tail:\n" << browser_->browser_log_tail(2000) << std::endl;
    }
    browser_.reset();
    if (server_) {
      if (HasFailure()) std::cout << "[browser] server log tail:\n" << tail(server_->log(), 3000) << std::endl;
      server_->stop();
    }
  }

  static std::string tail(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(s.size() - n); }

  json eval(const std::string& js) {
    json v;
    std::string err;
    if (!browser_->evaluate(js, &v, &err)) ADD_FAILURE() << err;
    return v;
  }

  // Sets an input's value as a user would (input and change events).
  void set_field(const std::string& id, const std::string& value) {
    json v = eval("(() => { const e = document.getElementById(" + js_str(id) + "); if (!e) return false; e.value = " +
                  js_str(value) +
                  "; e.dispatchEvent(new Event('input', {bubbles: true})); "
                  "e.dispatchEvent(new Event('change', {bubbles: true})); return e.value; })()");
    EXPECT_EQ(v, json(value)) << "setting #" << id;
  }

  // The body the page POSTed to /v1/chat/completions as request number `index` (0-based), from
  // Network.requestWillBeSent.
  json chat_request_body(size_t index) {
    std::vector<json> reqs;
    for (const auto& ev : browser_->events_named("Network.requestWillBeSent")) {
      const json& req = ev["params"]["request"];
      if (req.value("method", "") == "POST" && req.value("url", "").find("/v1/chat/completions") != std::string::npos)
        reqs.push_back(ev);
    }
    if (index >= reqs.size()) {
      ADD_FAILURE() << "the page sent " << reqs.size() << " chat requests, expected at least " << index + 1;
      return json();
    }
    const json& ev = reqs[index];
    std::string body;
    if (ev["params"]["request"].contains("postData")) {
      body = ev["params"]["request"]["postData"].get<std::string>();
    } else {
      json r;
      std::string err;
      if (!browser_->call("Network.getRequestPostData", {{"requestId", ev["params"]["requestId"]}}, &r, &err)) {
        ADD_FAILURE() << err;
        return json();
      }
      body = r.value("postData", "");
    }
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded()) ADD_FAILURE() << "the page's chat request body is not JSON: " << body;
    return j;
  }

  // The server's non-streaming answer to the same request.
  json reference_reply(json body) {
    body["stream"] = false;
    body.erase("stream_options");
    httplib::Client cli("127.0.0.1", server_->port());
    cli.set_connection_timeout(10);
    cli.set_read_timeout(120);
    auto res = cli.Post("/v1/chat/completions", body.dump(), "application/json");
    if (!res) {
      ADD_FAILURE() << "reference request failed: " << httplib::to_string(res.error());
      return json();
    }
    EXPECT_EQ(res->status, 200) << res->body;
    json j = json::parse(res->body, nullptr, false);
    if (j.is_discarded() || !j.contains("choices")) {
      ADD_FAILURE() << "reference reply: " << res->body;
      return json();
    }
    return j;
  }

  json health() {
    httplib::Client cli("127.0.0.1", server_->port());
    cli.set_connection_timeout(5);
    cli.set_read_timeout(10);
    auto res = cli.Get("/health");
    if (!res) return json();
    json j = json::parse(res->body, nullptr, false);
    return j.is_discarded() ? json() : j;
  }

  // Types `message`, clicks #send, and follows the reply until #status is "idle" again.
  TurnResult send_and_follow(const std::string& message, size_t expected_assistant_count, int timeout_s = 60) {
    TurnResult tr;
    set_field("prompt", message);
    eval(kRecorderJs);
    eval("window.__moteRec.samples = []; window.__moteRec.snap(); true");
    json clicked = eval("(() => { const b = document.getElementById('send'); if (!b) return false; b.click(); return true; })()");
    if (clicked != json(true)) {
      tr.error = "no #send button to click";
      return tr;
    }
    const auto t0 = Clock::now();
    const auto deadline = t0 + std::chrono::seconds(timeout_s);
    bool done = false;
    json st;
    while (Clock::now() < deadline) {
      std::string err;
      if (!browser_->evaluate(kStateJs, &st, &err)) {
        tr.error = err;
        return tr;
      }
      const std::string status = st.value("status", json()).is_string() ? st["status"].get<std::string>() : "";
      const size_t n = st.value("n_assistant", 0);
      const std::string text = st["text"].is_string() ? st["text"].get<std::string>() : "";
      if (n == expected_assistant_count && status == "generating") {
        tr.saw_generating = true;
        if (!text.empty()) tr.generating_lengths.insert(text.size());
      }
      // Done: the new assistant message exists, something was generated, and the page is idle.
      if (n == expected_assistant_count && status == "idle" && (tr.saw_generating || !text.empty())) {
        done = true;
        tr.final_text = text;
        break;
      }
      browser_->pump(50);
    }
    tr.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    // Merge what the in-page recorder saw (it catches changes between our polls).
    json samples = eval("window.__moteRec ? window.__moteRec.samples : []");
    if (samples.is_array()) {
      for (const auto& s : samples) {
        if (s.value("n", 0) != static_cast<int>(expected_assistant_count)) continue;
        if (s.value("status", "") != "generating") continue;
        tr.saw_generating = true;
        // The recorder counts UTF-16 units and the poll counts bytes: keep the sets apart by
        // using the recorder's values only when the poll saw fewer than two.
        if (s.value("len", 0) > 0) recorder_lengths_.insert(s.value("len", 0));
      }
    }
    if (!done) {
      tr.error = "the reply did not finish (status idle) within " + std::to_string(timeout_s) + " s; last state " +
                 st.dump();
    }
    return tr;
  }

  std::string chromium_;
  std::unique_ptr<ServeProcess> server_;
  std::unique_ptr<CdpBrowser> browser_;
  std::set<int> recorder_lengths_;
};

TEST_F(BrowserTest, ChatPageStreamsAReply) {
  std::string err;
  const std::string url = server_->base_url() + "/";
  {
    httplib::Client cli("127.0.0.1", server_->port());
    cli.set_connection_timeout(5);
    cli.set_read_timeout(10);
    auto res = cli.Get("/");
    ASSERT_TRUE(res) << "GET / failed: " << httplib::to_string(res.error());
    ASSERT_EQ(res->status, 200) << "GET / does not serve the page";
    EXPECT_NE(res->get_header_value("Content-Type").find("text/html"), std::string::npos)
        << res->get_header_value("Content-Type");
  }
  ASSERT_TRUE(browser_->navigate(url, &err)) << err;
  ASSERT_TRUE(browser_->wait_for("document.readyState === 'complete' && !!document.querySelector('#prompt')", 15000,
                                 &err))
      << err;

  // The DOM contract: every id present, the element kinds the test relies on.
  json missing = eval(std::string("(() => { const ids = ") + json(std::vector<std::string>(std::begin(kContractIds),
                                                                                               std::end(kContractIds)))
                                                                 .dump() +
                      "; return ids.filter(id => !document.getElementById(id)); })()");
  ASSERT_EQ(missing, json::array()) << "contract ids missing from the page";
  json kinds = eval(R"JS(({
      prompt: document.getElementById('prompt').tagName,
      send: document.getElementById('send').tagName,
      stop: document.getElementById('stop').tagName,
      messages: document.getElementById('messages').tagName,
      heatmap: document.getElementById('heatmap').tagName,
      heatmap_in_panel: !!document.querySelector('#expert-panel #heatmap'),
    }))JS");
  EXPECT_EQ(kinds.value("prompt", ""), "TEXTAREA");
  EXPECT_EQ(kinds.value("send", ""), "BUTTON");
  EXPECT_EQ(kinds.value("stop", ""), "BUTTON");
  EXPECT_EQ(kinds.value("messages", ""), "DIV");
  EXPECT_EQ(kinds.value("heatmap", ""), "CANVAS");
  EXPECT_EQ(kinds.value("heatmap_in_panel", false), true) << "canvas#heatmap not inside #expert-panel";
  EXPECT_EQ(eval("document.getElementById('status').textContent.trim()"), json("idle")) << "status before sending";

  // Deterministic settings: greedy decoding, a short reply, a known system prompt.
  set_field("temperature", "0");
  set_field("max-tokens", "48");
  set_field("system", kSystemPrompt);
  ASSERT_FALSE(HasFailure());

  // ---- First turn, as a user sees it (no throttling: the screenshot shows the real speed).
  const std::string msg1 = "Hello! Tell me a short story about a cat.";
  TurnResult t1 = send_and_follow(msg1, 1);
  ASSERT_TRUE(t1.error.empty()) << t1.error;
  std::cout << "[browser] first reply in " << t1.seconds << " s, " << t1.final_text.size() << " bytes" << std::endl;
  EXPECT_TRUE(t1.saw_generating) << "#status never showed 'generating'";
  EXPECT_FALSE(collapse_ws(t1.final_text).empty()) << "empty reply";
  json st = eval(kStateJs);
  EXPECT_EQ(st.value("n_user", 0), 1);
  ASSERT_EQ(st.value("n_assistant", 0), 1);
  EXPECT_NE(st["user_texts"][0].get<std::string>().find(msg1), std::string::npos)
      << "div.msg.user does not show the message: " << st["user_texts"].dump();

  // What the page asked for, and the server's non-streaming answer to the same request.
  json req1 = chat_request_body(0);
  ASSERT_TRUE(req1.is_object());
  EXPECT_EQ(req1.value("stream", false), true) << req1.dump();
  ASSERT_TRUE(req1.contains("temperature")) << "the page sent no temperature: " << req1.dump();
  EXPECT_EQ(req1["temperature"].get<double>(), 0.0) << req1.dump();
  const json max_tokens = req1.contains("max_tokens") ? req1["max_tokens"] : req1.value("max_completion_tokens", json());
  EXPECT_EQ(max_tokens, json(48)) << req1.dump();
  ASSERT_TRUE(req1.contains("messages") && req1["messages"].is_array()) << req1.dump();
  const json& m1 = req1["messages"];
  ASSERT_EQ(m1.size(), 2u) << m1.dump();
  EXPECT_EQ(m1[0], json({{"role", "system"}, {"content", kSystemPrompt}}));
  EXPECT_EQ(m1[1], json({{"role", "user"}, {"content", msg1}}));
  json ref1 = reference_reply(req1);
  ASSERT_TRUE(ref1.is_object());
  const std::string raw1 = ref1["choices"][0]["message"].value("content", "");
  std::cout << "[browser] reply 1 (" << ref1["choices"][0].value("finish_reason", "?") << "): " << raw1 << std::endl;
  expect_rendered_equals(t1.final_text, raw1, "first reply: page text vs non-streaming server reply");

  // The expert panel filled in from the server (after at least one poll).
  std::string panel_err;
  EXPECT_TRUE(browser_->wait_for(R"JS((() => {
        const d = id => /\d/.test((document.getElementById(id) || {}).textContent || '');
        return d('hit-rate') && d('bytes-per-token') && d('memory');
      })())JS",
                                 10000, &panel_err))
      << "expert panel not filled: " << panel_err
      << eval("({hit: document.getElementById('hit-rate').textContent, bpt: "
              "document.getElementById('bytes-per-token').textContent, mem: "
              "document.getElementById('memory').textContent})")
             .dump();
  json canvas = eval("({w: document.getElementById('heatmap').width, h: document.getElementById('heatmap').height})");
  EXPECT_GT(canvas.value("w", 0), 0) << canvas.dump();
  EXPECT_GT(canvas.value("h", 0), 0) << canvas.dump();
  // The heat map has been drawn: some pixels of the canvas are not transparent.
  EXPECT_TRUE(browser_->wait_for(R"JS((() => {
        const c = document.getElementById('heatmap');
        if (!c.width || !c.height) return false;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
        return false;
      })())JS",
                                 10000, &panel_err))
      << "canvas#heatmap is blank: " << panel_err << "; panel note: "
      << eval("(document.getElementById('panel-note') || {}).textContent || ''").dump();
  std::cout << "[browser] panel: "
            << eval("({hit: document.getElementById('hit-rate').textContent, bpt: "
                    "document.getElementById('bytes-per-token').textContent, mem: "
                    "document.getElementById('memory').textContent})")
                   .dump()
            << std::endl;

  const fs::path shot = fs::path(MOTE_BUILD_DIR) / "serve-browser-test.png";
  ASSERT_TRUE(browser_->screenshot(shot, &err)) << err;
  std::cout << "[browser] screenshot: " << shot.string() << std::endl;

  // ---- Second turn continues the conversation, and shows the page rendering a stream piece by
  // piece. The demo model writes 48 tokens in a few milliseconds, inside one animation frame (the
  // page paints once per frame), so the browser's download is throttled for this turn (DevTools
  // network emulation, 16 KB/s: the reply arrives over several hundred ms). The server's own
  // streaming is checked without throttling below: the stop button, pressed on the first text,
  // ends a long reply early.
  json r;
  ASSERT_TRUE(browser_->call("Network.emulateNetworkConditions",
                             {{"offline", false}, {"latency", 0}, {"downloadThroughput", 16000}, {"uploadThroughput", -1}},
                             &r, &err))
      << err;
  recorder_lengths_.clear();
  const std::string msg2 = "And what happened next?";
  TurnResult t2 = send_and_follow(msg2, 2);
  ASSERT_TRUE(browser_->call("Network.emulateNetworkConditions",
                             {{"offline", false}, {"latency", 0}, {"downloadThroughput", -1}, {"uploadThroughput", -1}},
                             &r, &err))
      << err;
  ASSERT_TRUE(t2.error.empty()) << t2.error;
  std::cout << "[browser] second reply (throttled) in " << t2.seconds << " s, distinct lengths seen while generating: poll "
            << t2.generating_lengths.size() << ", in-page recorder " << recorder_lengths_.size() << std::endl;
  EXPECT_TRUE(t2.saw_generating) << "#status never showed 'generating'";
  EXPECT_GE(std::max(t2.generating_lengths.size(), recorder_lengths_.size()), 2u)
      << "the reply was not seen growing while #status was 'generating' (not streamed?)";
  st = eval(kStateJs);
  EXPECT_EQ(st.value("n_user", 0), 2);
  EXPECT_EQ(st.value("n_assistant", 0), 2);
  EXPECT_FALSE(collapse_ws(t2.final_text).empty());
  json req2 = chat_request_body(1);
  ASSERT_TRUE(req2.is_object() && req2["messages"].is_array());
  const json& m2 = req2["messages"];
  ASSERT_EQ(m2.size(), 4u) << m2.dump();
  EXPECT_EQ(m2[1], json({{"role", "user"}, {"content", msg1}}));
  EXPECT_EQ(m2[2].value("role", ""), "assistant");
  EXPECT_EQ(m2[2].value("content", ""), raw1) << "the page did not send the first reply back as the server gave it";
  EXPECT_EQ(m2[3], json({{"role", "user"}, {"content", msg2}}));
  json ref2 = reference_reply(req2);
  ASSERT_TRUE(ref2.is_object());
  expect_rendered_equals(t2.final_text, ref2["choices"][0]["message"].value("content", ""),
                         "second reply: page text vs non-streaming server reply");
  // The first message is unchanged on the page.
  expect_rendered_equals(st["assistant_texts"][0].get<std::string>(), raw1, "first reply after the second turn");

  // ---- Stop during a long reply: clicked from the page as soon as text appears.
  set_field("max-tokens", "400");
  set_field("prompt", "Write a very long story about the sea, the wind and a lighthouse keeper.");
  eval(R"JS((() => {
      window.__moteStop = null;
      const n0 = document.querySelectorAll('#messages .msg.assistant').length;
      const mo = new MutationObserver(() => {
        const a = document.querySelectorAll('#messages .msg.assistant');
        if (a.length <= n0 || window.__moteStop) return;
        const c = a[a.length - 1].querySelector('.content');
        const s = (document.getElementById('status') || {}).textContent.trim();
        if (c && c.textContent.length > 0 && s === 'generating') {
          window.__moteStop = {t: performance.now(), len: c.textContent.length};
          mo.disconnect();
          document.getElementById('stop').click();
        }
      });
      mo.observe(document.body, {subtree: true, childList: true, characterData: true});
      document.getElementById('send').click();
      return true;
    })())JS");
  ASSERT_TRUE(browser_->wait_for("!!window.__moteStop", 60000, &err)) << "no text appeared while #status was 'generating' during the long reply: " << err;
  ASSERT_TRUE(browser_->wait_for("document.getElementById('status').textContent.trim() === 'idle'", 5000, &err))
      << "status did not return to idle within 5 s of stop: " << err;
  json stopped = eval("({dt: performance.now() - window.__moteStop.t, len: window.__moteStop.len})");
  std::cout << "[browser] stop -> idle seen after " << stopped.value("dt", 0.0) << " ms" << std::endl;
  st = eval(kStateJs);
  EXPECT_EQ(st.value("n_assistant", 0), 3);
  const std::string stopped_text = st["text"].is_string() ? st["text"].get<std::string>() : "";
  // Stays put: no more text arrives after the stop.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(eval(kStateJs)["text"], json(stopped_text)) << "text kept arriving after stop";
  // The server freed the slot.
  json h;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  bool idle = false;
  while (Clock::now() < deadline) {
    h = health();
    if (h.is_object() && h.contains("slots_idle") && h.contains("slots_total") &&
        h["slots_idle"] == h["slots_total"] && h.value("queue_depth", 0) == 0) {
      idle = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(idle) << "slots not all idle 10 s after stop: /health " << h.dump();
  // The stop cut the reply short of what the server generates without one.
  json req3 = chat_request_body(2);
  if (req3.is_object()) {
    const json mt = req3.contains("max_tokens") ? req3["max_tokens"] : req3.value("max_completion_tokens", json());
    EXPECT_EQ(mt, json(400)) << req3.dump();
    json ref3 = reference_reply(req3);
    if (ref3.is_object() && ref3["choices"][0].value("finish_reason", "") == "length") {
      EXPECT_LT(alnum_only(stopped_text).size(), alnum_only(ref3["choices"][0]["message"].value("content", "")).size())
          << "the stopped reply is as long as the full one (stop had no effect?)";
    }
  }

  // No uncaught exception or unhandled rejection in the page at any point.
  browser_->pump(100);
  const auto exceptions = browser_->page_exceptions();
  std::string all;
  for (const auto& e : exceptions) all += "\n  " + e;
  EXPECT_TRUE(exceptions.empty()) << "JavaScript exceptions in the page:" << all;
  for (const auto& e : browser_->console_errors()) std::cout << "[browser] " << e << std::endl;
}

}  // namespace
}  // namespace mote::test
