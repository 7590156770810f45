#include "server.h"

#include "experts_view.h"
#include "web_assets.h"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <mutex>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "completions.h"

namespace mote::serve {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// The per-request log line (one per request on stderr), kept per thread: httplib runs a request's
// routing, handler, content provider and logger on one thread.
namespace {

struct RequestLog {
  std::chrono::steady_clock::time_point start{};
  bool started = false;
  int64_t prompt = -1, cached = 0, completion = 0;
};
thread_local RequestLog t_log;
thread_local bool t_overflow = false;

}  // namespace

void log_tokens(int64_t prompt, int64_t cached, int64_t completion) {
  t_log.prompt = prompt;
  t_log.cached = cached;
  t_log.completion = completion;
}

bool on_overflow_thread() { return t_overflow; }

void send_error(httplib::Response& res, const ApiError& error) {
  res.status = error.status;
  if (error.status == 503) res.set_header("Retry-After", "1");
  res.set_content(error_json(error), "application/json");
}

// ---------------------------------------------------------------------------------------------
// The thread pool: `workers` threads for connections; when all are busy a connection runs on an
// extra short-lived thread (at most `max_overflow` at once) where the generation endpoints answer
// 503 at once, so a burst never waits unseen in httplib's queue. Past that cap it waits for a
// worker (every thread's wait is bounded by the read/keep-alive timeouts).
namespace {

class ServeTaskQueue : public httplib::TaskQueue {
 public:
  ServeTaskQueue(size_t workers, size_t max_overflow) : state_(std::make_shared<State>()), max_overflow_(max_overflow) {
    state_->idle = workers;  // counted idle before they start: a first burst must not look like overload
    for (size_t i = 0; i < workers; ++i) threads_.emplace_back([s = state_] { worker(*s); });
  }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock<std::mutex> lock(state_->mutex);
    if (state_->idle > state_->jobs.size() || state_->overflow >= max_overflow_) {
      state_->jobs.push_back(std::move(fn));
      state_->cv.notify_one();
      return;
    }
    ++state_->overflow;
    lock.unlock();
    std::thread([s = state_, fn = std::move(fn)]() mutable {
      t_overflow = true;
      fn();
      std::lock_guard<std::mutex> g(s->mutex);
      --s->overflow;
      s->cv.notify_all();
    }).detach();
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->shutdown = true;
    }
    state_->cv.notify_all();
    for (auto& t : threads_) t.join();
    std::unique_lock<std::mutex> lock(state_->mutex);
    state_->cv.wait(lock, [&] { return state_->overflow == 0; });
  }

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<std::function<void()>> jobs;
    size_t idle = 0;
    size_t overflow = 0;
    bool shutdown = false;
  };

  static void worker(State& s) {
    std::unique_lock<std::mutex> lock(s.mutex);
    while (true) {
      s.cv.wait(lock, [&] { return !s.jobs.empty() || s.shutdown; });
      if (s.jobs.empty()) return;  // shutdown with nothing left
      std::function<void()> fn = std::move(s.jobs.front());
      s.jobs.pop_front();
      --s.idle;
      lock.unlock();
      fn();
      fn = nullptr;
      lock.lock();
      ++s.idle;
    }
  }

  std::shared_ptr<State> state_;  // shared with detached overflow threads
  const size_t max_overflow_;
  std::vector<std::thread> threads_;
};

bool authorized(const httplib::Request& req, const std::string& key) {
  if (key.empty()) return true;
  const std::string expected = "Bearer " + key;
  const std::string got = req.get_header_value("Authorization");
  // Constant-time over the expected length.
  unsigned diff = got.size() != expected.size();
  for (size_t i = 0; i < expected.size(); ++i) diff |= unsigned(expected[i] ^ (i < got.size() ? got[i] : 0));
  return diff == 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Routes.

Router::Handler Router::wrap(Handler handler, bool auth) {
  return [this, handler = std::move(handler), auth](const httplib::Request& req, httplib::Response& res) {
    if (auth && !authorized(req, ctx_.config->api_key)) {
      ApiError e;
      e.status = 401;
      e.type = "authentication_error";
      e.code = "invalid_api_key";
      e.message = req.has_header("Authorization") ? "incorrect API key provided"
                                                   : "missing API key: send the header 'Authorization: Bearer KEY'";
      send_error(res, e);
      return;
    }
    try {
      handler(req, res);
    } catch (const std::exception& ex) {
      send_error(res, server_error(500, std::string("internal error: ") + ex.what()));
    } catch (...) {
      send_error(res, server_error(500, "internal error"));
    }
  };
}

void Router::get(const std::string& pattern, Handler handler, bool auth) {
  routes_.emplace_back("GET", pattern);
  server_.Get(pattern, wrap(std::move(handler), auth));
}

void Router::post(const std::string& pattern, Handler handler, bool auth) {
  routes_.emplace_back("POST", pattern);
  server_.Post(pattern, wrap(std::move(handler), auth));
}

std::string Router::allowed_methods(const std::string& path) const {
  std::string allow;
  for (const auto& [method, pattern] : routes_) {
    if (!std::regex_match(path, std::regex(pattern)) || allow.find(method) != std::string::npos) continue;
    allow += (allow.empty() ? "" : ", ") + method;
  }
  return allow;
}

namespace {

void install_api_routes(Router& r, ServeContext& ctx) {
  r.get("/health", [&ctx](const httplib::Request&, httplib::Response& res) {
    const PoolStatus p = ctx.pool->status();
    json j = {{"status", "ok"}, {"slots_total", p.slots_total}, {"slots_idle", p.slots_idle}, {"queue_depth", p.queue_depth}};
    res.set_content(j.dump(), "application/json");
  }, /*auth=*/false);
  r.get("/v1/models", [&ctx](const httplib::Request&, httplib::Response& res) {
    json model = {{"id", ctx.model_name}, {"object", "model"}, {"created", ctx.created}, {"owned_by", "mote"}};
    json j = {{"object", "list"}, {"data", json::array({model})}};
    res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  });
  r.get("/metrics", [&ctx](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_metrics(*ctx.metrics, ctx.pool->status(), ctx.model, ctx.memory_bound),
                    "text/plain; version=0.0.4");
  });
  r.post("/v1/chat/completions", [&ctx](const httplib::Request& req, httplib::Response& res) {
    handle_chat_completion(ctx, req, res);
  });
  r.post("/v1/completions", [&ctx](const httplib::Request& req, httplib::Response& res) {
    handle_completion(ctx, req, res);
  });
}

constexpr size_t kMaxHeaders = 100;
constexpr size_t kMaxHeaderBytes = 32 * 1024;

// The JSON body of an answer httplib made itself (no route, body too large, bad request line);
// "no route for this method" becomes 405.
httplib::Server::HandlerResponse fill_error(const Router& router, const httplib::Request& req, httplib::Response& res) {
  if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // ours already
  ApiError e = invalid_request("bad request");
  e.status = res.status;
  // httplib answers 400 to a POST/PUT/PATCH with no body before routing: on a path some route
  // serves with another method (or on no route at all) that is a 405 (or 404).
  const bool routable = !req.path.empty() && req.path[0] == '/' &&
                        (req.method == "POST" || req.method == "PUT" || req.method == "PATCH");
  if (res.status == 400 && routable) {
    const std::string allow = router.allowed_methods(req.path);
    if (allow.find(req.method) == std::string::npos) res.status = 404;
    else e.message = "the request has no body (send JSON with a Content-Length)";
  }
  if (res.status == 404) {
    const std::string allow = router.allowed_methods(req.path);
    if (!allow.empty()) {
      e.status = 405;
      e.message = "method " + req.method + " is not allowed on " + req.path + " (allowed: " + allow + ")";
      e.code = "method_not_allowed";
      res.set_header("Allow", allow);
    } else {
      e.status = 404;
      e.message = "no such endpoint: " + req.method + " " + req.path;
      e.code = "not_found";
    }
  } else if (res.status == 413) {
    e.message = "the request body is too large (at most 1 MiB)";
    e.code = "payload_too_large";
  } else if (res.status == 414) {
    e.message = "the request URI is too long";
  } else if (res.status >= 500) {
    e = server_error(res.status, "internal error");
  }
  send_error(res, e);
  return httplib::Server::HandlerResponse::Handled;
}

void install_error_handlers(httplib::Server& svr, Router& router, ServeContext& ctx) {
  svr.set_error_handler(httplib::Server::HandlerWithResponse(
      [&router](const httplib::Request& req, httplib::Response& res) { return fill_error(router, req, res); }));
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, server_error(500, "internal error"));
  });
  svr.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    t_log = RequestLog{};
    t_log.start = std::chrono::steady_clock::now();
    t_log.started = true;
    // httplib bounds each header line (8 KiB) but not their number: bound the whole.
    size_t bytes = 0;
    for (const auto& [k, v] : req.headers) bytes += k.size() + v.size() + 4;
    if (req.headers.size() > kMaxHeaders || bytes > kMaxHeaderBytes) {
      ApiError e = invalid_request("too many request headers (at most " + std::to_string(kMaxHeaders) + ", " +
                                   std::to_string(kMaxHeaderBytes / 1024) + " KiB)");
      e.status = 431;
      send_error(res, e);
      res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Counted before the response is written (httplib runs the post-routing handler after the
  // route and the error handler, the logger only after the write), so a client that scrapes
  // /metrics right after its 400 sees it counted.
  svr.set_post_routing_handler([&ctx](const httplib::Request&, httplib::Response& res) {
    if (res.status == 503) ++ctx.metrics->rejected;
    else if (res.status >= 400 && res.status < 500 && res.status != 499) ++ctx.metrics->errors;
  });
  svr.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    const double ms = t_log.started ? std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                                                t_log.start).count()
                                    : 0.0;
    if (t_log.prompt >= 0)
      std::fprintf(stderr, "mote serve: %s %s %d prompt=%" PRId64 " cached=%" PRId64 " completion=%" PRId64 " %.0f ms\n",
                   req.method.c_str(), req.path.c_str(), res.status, t_log.prompt, t_log.cached, t_log.completion, ms);
    else
      std::fprintf(stderr, "mote serve: %s %s %d %.0f ms\n", req.method.c_str(), req.path.c_str(), res.status, ms);
    t_log = RequestLog{};
  });
}

}  // namespace

// Hook point for the web page (GET /, static files, GET /v1/experts): the lead wires it here.
void install_web_routes(Router& router, ServeContext& ctx) {
  // The page and its files need no API key (the page asks for one and sends it with its API
  // calls); what it shows comes from the routes that do. find_web_asset is a lookup table, so no
  // path can reach the file system.
  const auto serve_asset = [](const httplib::Request& req, httplib::Response& res) {
    const WebAsset* asset = find_web_asset(req.path);
    if (asset == nullptr) {
      ApiError e{404, "invalid_request_error", "no such file: " + req.path, "", "not_found"};
      send_error(res, e);
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Content-Type-Options", "nosniff");
    // The page loads nothing from elsewhere: no CDN, and no injected script could call out.
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                   "connect-src 'self'");
    const std::string mime = std::string(asset->mime) + "; charset=utf-8";
    res.set_content(asset->body.data(), asset->body.size(), mime.c_str());
  };
  router.get("/", serve_asset, /*auth=*/false);
  router.get(R"(/[A-Za-z0-9_-]+\.(html|js|css))", serve_asset, /*auth=*/false);
  router.get("/v1/experts", [&ctx](const httplib::Request&, httplib::Response& res) {
    res.set_content(experts_view_json(ctx.model), "application/json");
  });
}

// ---------------------------------------------------------------------------------------------
// The run loop.
namespace {

std::string slot_path(const ServerConfig& c, int id) {
  return (std::filesystem::path(c.slot_dir) / ("slot-" + std::to_string(id) + ".session")).string();
}

void save_slot(const ServerConfig& c, Slot& slot) {
  if (c.slot_dir.empty()) return;
  const std::string path = slot_path(c, slot.id);
  if (mote_status st = mote_session_save(slot.session, path.c_str()); st != MOTE_OK)
    std::fprintf(stderr, "mote serve: warning: cannot save slot %d to %s: %s\n", slot.id, path.c_str(), mote_last_error());
}

// Opens --slots sessions; loads DIR/slot-K.session into slot K when it is there and valid.
bool create_slots(const ServerConfig& c, mote_model* model, SlotPool* pool) {
  if (!c.slot_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(c.slot_dir, ec);
  }
  for (int i = 0; i < c.slots; ++i) {
    mote_session* s = nullptr;
    if (mote_status st = mote_session_create(model, &c.session_params, &s); st != MOTE_OK) {
      std::fprintf(stderr, "mote: error: slot %d: %s\n", i, mote_last_error()[0] ? mote_last_error() : mote_status_string(st));
      return false;
    }
    if (!c.slot_dir.empty() && std::filesystem::exists(slot_path(c, i))) {
      if (mote_session_load(s, slot_path(c, i).c_str()) != MOTE_OK)
        std::fprintf(stderr, "mote serve: warning: ignoring %s: %s\n", slot_path(c, i).c_str(), mote_last_error());
      else
        std::fprintf(stderr, "mote serve: slot %d: loaded %s\n", i, slot_path(c, i).c_str());
    }
    pool->add_slot(s);
  }
  return true;
}

// SIGINT/SIGTERM arrive here (they are blocked in every other thread); SIGUSR1 only ends the
// thread when the server stopped on its own.
void signal_thread(ServeContext* ctx, httplib::Server* svr, const std::atomic<bool>* listen_done) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  int sig = 0;
  sigwait(&set, &sig);
  if (sig == SIGUSR1) return;
  std::fprintf(stderr, "mote serve: %s: shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  ctx->stopping = true;
  ctx->pool->shutdown();
  // stop() does nothing before listen_after_bind() has started: a signal right after the listening
  // line would be lost.
  while (!svr->is_running() && !*listen_done) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  svr->stop();
}

// httplib listens with a backlog of 5 (compiled into the Debian .so): a burst of clients would
// overflow it and see SYN retries or resets. Listening again on the bound socket raises it.
class ServeHttpServer : public httplib::Server {
 public:
  void raise_backlog(int backlog) {
    const int fd = int(svr_sock_);
    if (fd >= 0) ::listen(fd, backlog);
  }
};

void configure(httplib::Server& svr, const ServerConfig& c) {
  const size_t workers = size_t(c.slots) + size_t(c.queue) + 8;
  svr.new_task_queue = [workers] { return new ServeTaskQueue(workers, 64); };
  svr.set_payload_max_length(1 << 20);
  svr.set_read_timeout(5, 0);
  svr.set_write_timeout(10, 0);
  svr.set_keep_alive_timeout(3);
  svr.set_keep_alive_max_count(100);
  svr.set_tcp_nodelay(true);
}

}  // namespace

int run_server(const ServerConfig& c) {
  // Block the stop signals before any thread starts (the model's pool, httplib's): only the
  // signal thread receives them. A write to a closed socket must not kill the process.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  mote_model_params mp = c.model_params;
  if (!c.chat_template.empty()) mp.chat_template = c.chat_template.c_str();
  mote_model* model = nullptr;
  if (mote_status st = mote_model_open(c.model_path.c_str(), &mp, &model); st != MOTE_OK) {
    std::fprintf(stderr, "mote: error: %s\n", mote_last_error()[0] ? mote_last_error() : mote_status_string(st));
    return 1;
  }
  std::unique_ptr<mote_model, void (*)(mote_model*)> model_guard(model, mote_model_destroy);

  Metrics metrics;
  SlotPool pool(size_t(c.queue), std::chrono::seconds(c.timeout_s));
  if (!create_slots(c, model, &pool)) return 1;
  pool.set_on_release([&c](Slot& s) { save_slot(c, s); });

  ServeContext ctx;
  ctx.config = &c;
  ctx.model = model;
  ctx.pool = &pool;
  ctx.metrics = &metrics;
  ctx.created = int64_t(std::time(nullptr));
  mote_model_get_info(model, &ctx.info);
  ctx.model_name = !c.model_name.empty() ? c.model_name : std::filesystem::path(c.model_path).stem().string();
  const MemoryBound bound = compute_memory_bound(model, pool.slots()[0]->session, pool.slots().size());
  ctx.memory_bound = bound.total();
  std::fprintf(stderr,
               "mote serve: model %s, %d slots x %d tokens, queue %d; memory bound %.1f MiB (dense %.1f + experts %.1f "
               "+ %d x %.1f per slot + %.0f)\n",
               ctx.model_name.c_str(), c.slots, c.session_params.max_context, c.queue, bound.total() / 1048576.0,
               bound.dense / 1048576.0, bound.experts / 1048576.0, c.slots, bound.per_slot / 1048576.0,
               bound.allowance / 1048576.0);

  ServeHttpServer svr;
  configure(svr, c);
  Router router(svr, ctx);
  install_api_routes(router, ctx);
  install_web_routes(router, ctx);
  install_error_handlers(svr, router, ctx);

  int port = c.port;
  if (port == 0) port = svr.bind_to_any_port(c.host);
  else if (!svr.bind_to_port(c.host, port)) port = -1;
  if (port <= 0) {
    std::fprintf(stderr, "mote: error: cannot listen on %s:%d (address in use or not available)\n", c.host.c_str(), c.port);
    return 1;
  }
  svr.raise_backlog(512);
  const bool v6 = c.host.find(':') != std::string::npos;
  std::fprintf(stderr, "mote serve: listening on http://%s%s%s:%d\n", v6 ? "[" : "", c.host.c_str(), v6 ? "]" : "", port);
  std::fflush(stderr);

  std::atomic<bool> listen_done{false};
  std::thread signals(signal_thread, &ctx, &svr, &listen_done);
  svr.listen_after_bind();  // returns after stop(), once every connection's thread is done
  listen_done = true;
  if (!ctx.stopping) pthread_kill(signals.native_handle(), SIGUSR1);
  signals.join();
  ctx.stopping = true;
  pool.shutdown();
  for (Slot* s : pool.slots()) save_slot(c, *s);
  std::fprintf(stderr, "mote serve: stopped\n");
  return 0;
}

}  // namespace mote::serve
