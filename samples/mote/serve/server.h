// mote serve: an OpenAI-compatible local HTTP server on the public C API (mote.h) and cpp-httplib.
// server.cpp: configuration, the run loop (bind, signals, shutdown, slot files), the thread pool,
// the routes and the JSON error/404/405 handling. completions.cpp: the generation endpoints.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <httplib.h>
#include <mote/mote.h>

#include "metrics.h"
#include "openai_request.h"
#include "slot_pool.h"

namespace mote::serve {

struct ServerConfig {
  std::string model_path;
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port
  int slots = 4;
  int queue = 64;
  std::string api_key;     // "": no authentication
  std::string slot_dir;    // "": slots are not saved
  std::string model_name;  // "": the file's stem
  int timeout_s = 600;     // longest wait in the queue
  mote_model_params model_params{};
  std::string chat_template;  // "": the family detected at conversion
  mote_session_params session_params{};
  // Defaults for what a request leaves out (the command line's sampling flags).
  mote_generate_params defaults{};
  std::vector<std::string> default_stops;
  bool default_max_tokens_set = false;  // -n given; else a request may fill the slot's context
};

// Everything a route handler needs.
struct ServeContext {
  const ServerConfig* config = nullptr;
  std::string model_name;
  mote_model* model = nullptr;
  mote_model_info info{};
  SlotPool* pool = nullptr;
  Metrics* metrics = nullptr;
  uint64_t memory_bound = 0;
  int64_t created = 0;  // start time (the model's "created")
  std::atomic<bool> stopping{false};
};

// Route registration: handlers answer through the JSON error path, check the API key when asked,
// and make the method/path table behind 404 / 405 answers.
class Router {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  Router(httplib::Server& server, ServeContext& ctx) : server_(server), ctx_(ctx) {}

  // `pattern` is an httplib regex ("/v1/models"). auth: needs `Authorization: Bearer KEY` when
  // --api-key is set.
  void get(const std::string& pattern, Handler handler, bool auth = true);
  void post(const std::string& pattern, Handler handler, bool auth = true);
  // "GET, POST" for a path some route matches with another method; "" when none does.
  std::string allowed_methods(const std::string& path) const;
  // For what the wrappers do not cover (e.g. set_mount_point); routes added here directly are
  // not in the 405 table and get no API-key check.
  httplib::Server& server() { return server_; }

 private:
  Handler wrap(Handler handler, bool auth);
  httplib::Server& server_;
  ServeContext& ctx_;
  std::vector<std::pair<std::string, std::string>> routes_;  // method, pattern
};

// Sets an OpenAI error response (503s also get Retry-After: 1).
void send_error(httplib::Response& res, const ApiError& error);
// Adds the token figures of the request being handled on this thread to its log line.
void log_tokens(int64_t prompt, int64_t cached, int64_t completion);
// True on a connection that the server's thread pool could not give one of its own threads: the
// generation endpoints answer 503 at once there.
bool on_overflow_thread();

// Hook point for the web page: GET / and the static files, GET /v1/experts. Called once after the
// API routes are installed (server.cpp). Add routes with router.get(...).
void install_web_routes(Router& router, ServeContext& ctx);

// Runs the server until SIGINT/SIGTERM; returns the exit status (0 after a clean shutdown).
int run_server(const ServerConfig& config);

}  // namespace mote::serve
