// HTTP client helpers for the `mote serve` tests: plain requests, streaming (SSE) requests with
// timing, raw TCP exchanges, and a Prometheus text parser. Every call has a timeout.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "serve/serve_harness.h"

namespace mote::test {

using json = nlohmann::json;

struct HttpReply {
  int status = -1;           // -1: no response (see error)
  std::string error;         // httplib error when status == -1
  std::string body;
  httplib::Headers headers;
  json j;                    // body parsed as JSON (discarded when it is not JSON)
  bool is_json = false;
  std::string header(const std::string& key) const;
};

HttpReply http_get(int port, const std::string& path, const httplib::Headers& headers = {}, int timeout_s = 30);
HttpReply http_post(int port, const std::string& path, const std::string& body,
                    const httplib::Headers& headers = {}, int timeout_s = 120,
                    const std::string& content_type = "application/json");
// Any method (e.g. "DELETE", "PUT") with an optional body.
HttpReply http_request(int port, const std::string& method, const std::string& path, const std::string& body = "",
                       const httplib::Headers& headers = {}, int timeout_s = 30);

struct StreamReply {
  int status = -1;
  std::string error;         // httplib error text (e.g. "Canceled" after keep_going returned false)
  httplib::Headers headers;
  std::string body;          // everything received
  std::vector<std::string> events;  // data payloads of complete events, in order
  std::vector<json> chunks;         // the events that parse as JSON
  bool done = false;                // a "[DONE]" event was received
  double ttft_s = -1;               // seconds to the first chunk with non-empty content/text/reasoning
  double total_s = 0;               // seconds to the end of the response
  std::string header(const std::string& key) const;
};

// POSTs `body` and reads the response as a server-sent event stream. `keep_going` (optional) is
// called after each complete event with the reply so far; returning false closes the connection
// (a client disconnect).
StreamReply http_post_stream(int port, const std::string& path, const std::string& body,
                             const httplib::Headers& headers = {}, int timeout_s = 120,
                             const std::function<bool(const StreamReply&)>& keep_going = nullptr);

// Text of the deltas in a chat stream (choices[0].delta.content) or a completion stream
// (choices[0].text), and of choices[0].delta.reasoning_content.
std::string stream_content(const StreamReply& r);
std::string stream_reasoning(const StreamReply& r);

// Connects to 127.0.0.1:port, sends `bytes` (as far as the server takes them, stopping early when
// a response arrives), then reads until the server closes or `timeout_s`. Returns what was read;
// *sent (optional) gets the number of bytes sent, *connected whether the connection was made.
std::string raw_exchange(int port, const std::string& bytes, int timeout_s = 10, size_t* sent = nullptr,
                         bool* connected = nullptr);
// Opens a connection with a tiny receive buffer (4 KiB), sends `bytes`, and never reads: a client
// that stalls, so a streaming server blocks on its writes. Returns the socket (close it to
// disconnect), or -1.
int open_stalled_client(int port, const std::string& bytes);
// An HTTP/1.1 POST request as raw bytes.
std::string raw_post(const std::string& path, const std::string& body);

// The status code of a raw HTTP response ("HTTP/1.1 413 ..."), or -1.
int raw_status(const std::string& response);

// Prometheus text exposition: series (name plus labels as written) to value. `error` gets the
// first malformed line. `help`/`type` get the names that have # HELP / # TYPE lines.
struct Metrics {
  std::map<std::string, double> series;
  std::map<std::string, std::string> type;  // name -> counter|gauge|...
  std::map<std::string, std::string> help;
  std::string error;
  bool has(const std::string& name) const;     // any series with this base name
  double value(const std::string& name) const; // sum over the series with this base name
};
Metrics parse_metrics(const std::string& text);
Metrics fetch_metrics(int port, const httplib::Headers& headers = {});

// A chat request body: one user message (or the given messages), model "demo" unless empty.
json chat_body(const std::string& user, int max_tokens, double temperature = 0.0);
json chat_body_messages(const json& messages, int max_tokens, double temperature = 0.0);

// Checks the OpenAI error shape {"error":{"message","type","param","code"}}; empty when it holds,
// else what is wrong.
std::string error_shape_problem(const HttpReply& r);

// Polls /health until slots_idle == slots_total and queue_depth == 0, or timeout; the last /health.
json wait_all_idle(int port, double timeout_s);

}  // namespace mote::test
