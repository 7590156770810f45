#include "completions.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "connection.h"

namespace mote::serve {

using nlohmann::json;

namespace {

// One request, parsed and tokenized. Pointers into the strings (c_messages, stop_ptrs) are bound
// by bind() where the Job finally lives, just before use.
struct Job {
  bool chat = true;
  std::vector<ChatMessageIn> messages;
  std::vector<mote_chat_message> c_messages;
  std::string prompt;
  std::vector<int32_t> ids;  // the whole rendered prompt
  SamplingRequest sampling;
  std::vector<std::string> stops;
  std::vector<const char*> stop_ptrs;
  mote_generate_params params{};
  bool starts_in_reasoning = false;
  std::string id;
  int64_t created = 0;
  int fd = -1;  // the client's socket, -1 if unknown

  void bind() {
    c_messages.clear();
    for (const ChatMessageIn& m : messages) c_messages.push_back({m.role.c_str(), m.content.c_str()});
    stop_ptrs.clear();
    for (const std::string& s : stops) stop_ptrs.push_back(s.c_str());
    params.stop = stop_ptrs.empty() ? nullptr : stop_ptrs.data();
    params.n_stop = stop_ptrs.size();
  }
};

struct Outcome {
  mote_status status = MOTE_OK;
  std::string error;  // set when the generation failed
  std::string finish = "stop";
  int64_t prompt = 0, cached = 0, completion = 0;
};

// The token callback's state. emit (streaming) gets each piece of text; false = the client is gone.
struct Run {
  ServeContext* ctx = nullptr;
  Job* job = nullptr;
  ReasoningSplitter splitter;
  std::string content, reasoning;
  std::function<bool(const std::string& content, const std::string& reasoning)> emit;
  bool gone = false;
  int64_t counted = 0;  // tokens already added to mote_generated_tokens_total

  bool deliver(const std::string& c, const std::string& r) {
    content += c;
    reasoning += r;
    if (emit && (!c.empty() || !r.empty()) && !emit(c, r)) gone = true;
    return !gone;
  }

  // No exception may cross the C API: any failure here stops the generation.
  static int on_token(void* user, int32_t token, const char* text, size_t len) {
    try {
      return static_cast<Run*>(user)->token(token, text, len);
    } catch (...) {
      static_cast<Run*>(user)->gone = true;
      return 1;
    }
  }

  int token(int32_t, const char* text, size_t len) {
    Run* run = this;
    // Counted per token, not at the end, so /metrics (and the page's bytes-per-token figure)
    // moves while a long reply is being generated.
    run->ctx->metrics->generated_tokens.fetch_add(1, std::memory_order_relaxed);
    ++run->counted;
    bool ok;
    if (run->job->chat) {
      const ReasoningSplitter::Output o = run->splitter.feed(std::string_view(text, len));
      ok = run->deliver(o.content, o.reasoning);
    } else {
      ok = run->deliver(std::string(text, len), "");
    }
    if (!ok) return 1;
    if (run->ctx->stopping) return 1;
    if (peer_closed(run->job->fd)) {
      run->gone = true;
      return 1;
    }
    return 0;
  }
};

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string random_id(const char* prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s%016llx%08llx", prefix, (unsigned long long)rng(), (unsigned long long)(rng() >> 32));
  return buf;
}

ApiError busy(const std::string& message, const std::string& code) {
  ApiError e = server_error(503, message, code);
  return e;
}

// Runs `call` (a tokenize call following the "capacity in, count out" rule) until the buffer fits.
template <class F>
mote_status tokenize_into(std::vector<int32_t>* ids, size_t guess, F call) {
  ids->resize(std::max<size_t>(guess, 16));
  size_t count = 0;
  mote_status st = call(ids->data(), ids->size(), &count);
  if (st == MOTE_ERR_BUFFER_TOO_SMALL) {
    ids->resize(count);
    st = call(ids->data(), ids->size(), &count);
  }
  if (st == MOTE_OK) ids->resize(count);
  return st;
}

std::string last_error(mote_status st) {
  const char* m = mote_last_error();
  return m[0] != '\0' ? m : mote_status_string(st);
}

bool tokenize(const ServeContext& ctx, Job& job, ApiError* err) {
  job.bind();
  mote_status st;
  if (job.chat) {
    if (ctx.info.chat_template == nullptr || ctx.info.chat_template[0] == '\0') {
      *err = invalid_request("the model has no chat template: start the server with --chat-template NAME, or use "
                             "/v1/completions", "messages");
      return false;
    }
    size_t bytes = 0;
    for (const ChatMessageIn& m : job.messages) bytes += m.content.size() + 16;
    st = tokenize_into(&job.ids, bytes + 64, [&](int32_t* ids, size_t cap, size_t* count) {
      return mote_chat_tokenize(ctx.model, job.c_messages.data(), job.c_messages.size(), 1, ids, cap, count);
    });
  } else {
    st = tokenize_into(&job.ids, job.prompt.size() + 16, [&](int32_t* ids, size_t cap, size_t* count) {
      return mote_tokenize_ex(ctx.model, job.prompt.data(), job.prompt.size(), 1, 1, ids, cap, count);
    });
  }
  if (st == MOTE_OK && job.ids.empty()) {
    *err = invalid_request("the prompt is empty", job.chat ? "messages" : "prompt");
    return false;
  }
  if (st != MOTE_OK) {
    *err = st == MOTE_ERR_INVALID_ARGUMENT || st == MOTE_ERR_UNSUPPORTED
               ? invalid_request(last_error(st), job.chat ? "messages" : "prompt")
               : server_error(500, last_error(st));
    return false;
  }
  return true;
}

// The request's fields over the server's defaults; max_tokens clamped to the room left.
void build_params(const ServeContext& ctx, Job& job) {
  const ServerConfig& c = *ctx.config;
  const SamplingRequest& s = job.sampling;
  mote_generate_params p = c.defaults;
  if (s.temperature) p.sampling.temperature = float(*s.temperature);
  if (s.top_p) p.sampling.top_p = float(*s.top_p);
  if (s.presence_penalty) p.sampling.presence_penalty = float(*s.presence_penalty);
  if (s.frequency_penalty) p.sampling.frequency_penalty = float(*s.frequency_penalty);
  if (s.seed) p.sampling.seed = *s.seed;
  job.stops = s.stop ? *s.stop : c.default_stops;
  const int64_t room = int64_t(c.session_params.max_context) - int64_t(job.ids.size());
  const int64_t wanted = s.max_tokens ? *s.max_tokens : c.default_max_tokens_set ? p.max_tokens : room;
  p.max_tokens = int32_t(std::clamp<int64_t>(wanted, 1, std::max<int64_t>(room, 1)));
  p.reuse_prefix = 1;
  p.add_special = 1;
  p.parse_special = 1;
  job.params = p;
}

// Parse, check and tokenize. False: `err` says why.
bool prepare(ServeContext& ctx, const httplib::Request& req, bool chat, Job* job, ApiError* err) {
  job->chat = chat;
  std::optional<std::string> model;
  if (chat) {
    ChatRequest r;
    if (!parse_chat_request(req.body, &r, err)) return false;
    model = r.model;
    job->messages = std::move(r.messages);
    job->sampling = r.sampling;
  } else {
    CompletionRequest r;
    if (!parse_completion_request(req.body, &r, err)) return false;
    model = r.model;
    job->prompt = std::move(r.prompt);
    job->sampling = r.sampling;
  }
  if (model && *model != ctx.model_name) {
    *err = invalid_request("the model '" + *model + "' does not exist (this server has '" + ctx.model_name + "')",
                           "model", "model_not_found");
    err->status = 404;
    return false;
  }
  if (!tokenize(ctx, *job, err)) return false;
  const int64_t n = int64_t(job->ids.size()), ctx_tokens = ctx.config->session_params.max_context;
  if (n + 1 > ctx_tokens) {
    *err = invalid_request("the prompt is " + std::to_string(n) + " tokens; this server's context holds " +
                               std::to_string(ctx_tokens) + " tokens per request (prompt + at least 1 generated)",
                           chat ? "messages" : "prompt", "context_length_exceeded");
    return false;
  }
  build_params(ctx, *job);
  job->starts_in_reasoning = chat && std::string(ctx.info.chat_template) == "deepseek-r1";
  job->id = random_id(chat ? "chatcmpl-" : "cmpl-");
  job->created = int64_t(std::time(nullptr));
  return true;
}

Outcome generate(ServeContext& ctx, Job& job, Slot& slot, Run& run) {
  job.bind();
  run.ctx = &ctx;
  run.job = &job;
  run.splitter = ReasoningSplitter(job.starts_in_reasoning);
  mote_status st;
  if (job.chat)
    st = mote_chat_generate(slot.session, job.c_messages.data(), job.c_messages.size(), &job.params, &Run::on_token, &run);
  else
    st = mote_generate(slot.session, job.prompt.data(), job.prompt.size(), &job.params, &Run::on_token, &run);
  Outcome out;
  out.status = st;
  if (st != MOTE_OK && st != MOTE_ERR_CANCELLED && st != MOTE_ERR_OUT_OF_RANGE) out.error = last_error(st);
  if (job.chat && !run.gone) {
    const ReasoningSplitter::Output o = run.splitter.finish();
    run.deliver(o.content, o.reasoning);
  }
  mote_stats s{};
  mote_session_get_stats(slot.session, &s);
  out.prompt = int64_t(job.ids.size());
  out.cached = std::clamp<int64_t>(s.last_reused_tokens, 0, out.prompt);
  out.completion = std::max<int64_t>(s.last_generated_tokens, 0);
  out.finish = st == MOTE_ERR_OUT_OF_RANGE || s.stop_reason == MOTE_STOP_MAX_TOKENS ? "length" : "stop";
  Metrics& m = *ctx.metrics;
  m.prompt_tokens += uint64_t(out.prompt);
  m.reused_tokens += uint64_t(out.cached);
  if (out.completion > run.counted) m.generated_tokens += uint64_t(out.completion - run.counted);
  if (s.last_prompt_tokens > 0) m.prefill_tok_s = s.prefill_tok_s;
  if (out.completion > 0) m.decode_tok_s = s.decode_tok_s;
  log_tokens(out.prompt, out.cached, out.completion);
  return out;
}

json usage_json(const Outcome& o) {
  return {{"prompt_tokens", o.prompt},
          {"completion_tokens", o.completion},
          {"total_tokens", o.prompt + o.completion},
          {"prompt_tokens_details", {{"cached_tokens", o.cached}}}};
}

json chunk_json(const ServeContext& ctx, const Job& job, json choices) {
  return {{"id", job.id},
          {"object", job.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", job.created},
          {"model", ctx.model_name},
          {"choices", std::move(choices)}};
}

json choice_delta(const Job& job, const std::string& content, const std::string& reasoning, json finish) {
  json c = {{"index", 0}};
  if (job.chat) {
    json delta = json::object();
    if (!reasoning.empty()) delta["reasoning_content"] = reasoning;
    if (!content.empty()) delta["content"] = content;
    c["delta"] = delta;
  } else {
    c["text"] = content;
  }
  c["logprobs"] = nullptr;
  c["finish_reason"] = std::move(finish);
  return json::array({c});
}

void respond_json(ServeContext& ctx, Job& job, SlotLease& lease, httplib::Response& res) {
  Run run;
  const Outcome out = generate(ctx, job, *lease.slot(), run);
  lease.release();
  if (run.gone) {
    res.status = 499;  // the client closed the request: nobody reads this
    return;
  }
  if (!out.error.empty()) return send_error(res, server_error(500, "generation failed: " + out.error));
  if (out.status == MOTE_ERR_CANCELLED && ctx.stopping)
    return send_error(res, busy("the server is shutting down", "shutting_down"));
  json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", out.finish}};
  if (job.chat) {
    json message = {{"role", "assistant"}, {"content", run.content}};
    if (!run.reasoning.empty()) message["reasoning_content"] = run.reasoning;
    choice["message"] = message;
  } else {
    choice["text"] = run.content;
  }
  json body = {{"id", job.id},
               {"object", job.chat ? "chat.completion" : "text_completion"},
               {"created", job.created},
               {"model", ctx.model_name},
               {"choices", json::array({choice})},
               {"usage", usage_json(out)}};
  res.set_content(dump(body), "application/json");
}

struct StreamState {
  Job job;
  SlotLease lease;
};

// The whole stream in one provider call: role chunk, text chunks, final chunk, usage, [DONE].
// False when the client went away (httplib then drops the connection).
bool write_stream(ServeContext& ctx, StreamState& st, httplib::DataSink& sink) {
  Job& job = st.job;
  auto send = [&](const std::string& data) { return sink.write(data.data(), data.size()); };
  auto event = [&](const json& j) { return send("data: " + dump(j) + "\n\n"); };
  if (job.chat) {
    json first = {{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr},
                   {"finish_reason", nullptr}}};
    if (!event(chunk_json(ctx, job, first))) return false;
  }
  Run run;
  run.emit = [&](const std::string& c, const std::string& r) {
    return event(chunk_json(ctx, job, choice_delta(job, c, r, nullptr)));
  };
  const Outcome out = generate(ctx, job, *st.lease.slot(), run);
  st.lease.release();
  if (run.gone) return false;
  if (!out.error.empty()) {
    event(json::parse(error_json(server_error(500, "generation failed: " + out.error))));
  } else {
    if (!event(chunk_json(ctx, job, choice_delta(job, "", "", out.finish)))) return false;
    if (job.sampling.include_usage) {
      json u = chunk_json(ctx, job, json::array());
      u["usage"] = usage_json(out);
      if (!event(u)) return false;
    }
  }
  if (!send("data: [DONE]\n\n")) return false;
  sink.done();
  return true;
}

void handle(ServeContext& ctx, const httplib::Request& req, httplib::Response& res, bool chat) {
  ++ctx.metrics->requests;
  if (on_overflow_thread())
    return send_error(res, busy("the server is at its connection limit; retry shortly", "server_busy"));
  Job job;
  ApiError err;
  if (!prepare(ctx, req, chat, &job, &err)) return send_error(res, err);
  job.fd = find_connection_fd(req);
  SlotLease lease;
  const int fd = job.fd;
  switch (ctx.pool->acquire(job.ids, [&ctx, fd] { return ctx.stopping.load() || peer_closed(fd); }, &lease)) {
    case Admission::kGranted: break;
    case Admission::kQueueFull:
      return send_error(res, busy("all slots are busy and the queue is full; retry shortly", "server_busy"));
    case Admission::kTimeout:
      return send_error(res, busy("timed out waiting for a free slot; retry shortly", "queue_timeout"));
    case Admission::kShutdown: return send_error(res, busy("the server is shutting down", "shutting_down"));
    case Admission::kCancelled:
      if (ctx.stopping) return send_error(res, busy("the server is shutting down", "shutting_down"));
      res.status = 499;
      return;
  }
  if (!job.sampling.stream) return respond_json(ctx, job, lease, res);
  auto state = std::make_shared<StreamState>();
  state->job = std::move(job);
  state->lease = std::move(lease);
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider("text/event-stream", [&ctx, state](size_t, httplib::DataSink& sink) {
    try {  // the provider runs outside httplib's handler try block
      return write_stream(ctx, *state, sink);
    } catch (...) {
      state->lease.release();
      return false;
    }
  });
}

}  // namespace

void handle_chat_completion(ServeContext& ctx, const httplib::Request& req, httplib::Response& res) {
  handle(ctx, req, res, true);
}

void handle_completion(ServeContext& ctx, const httplib::Request& req, httplib::Response& res) {
  handle(ctx, req, res, false);
}

}  // namespace mote::serve
