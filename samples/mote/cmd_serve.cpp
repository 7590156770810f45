// mote serve FILE: an OpenAI-compatible local HTTP server (samples/mote/serve/). Built only where
// cpp-httplib was found (MOTE_HAVE_SERVE); elsewhere the command says so in one line.
#include <cstdio>
#include <stdexcept>
#include <string>

#include "capi.h"
#include "commands.h"

#ifdef MOTE_HAVE_SERVE
#include "serve/server.h"
#endif

namespace mote::cli {

#ifdef MOTE_HAVE_SERVE

namespace {

serve::ServerConfig serve_config(const Args& args) {
  serve::ServerConfig c;
  c.model_path = args.positional[0];
  c.host = args.get("--host", "127.0.0.1");
  if (c.host.empty()) throw std::runtime_error("--host must not be empty");
  c.port = int(parse_int("--port", args.get("--port", "8080"), 0, 65535));
  c.slots = int(parse_int("--slots", args.get("--slots", "4"), 1, 256));
  c.queue = int(parse_int("--queue", args.get("--queue", "64"), 0, 4096));
  c.timeout_s = int(parse_int("--timeout", args.get("--timeout", "600"), 1, 86400));
  c.api_key = args.get("--api-key");
  if (args.has("--api-key") && c.api_key.empty()) throw std::runtime_error("--api-key must not be empty");
  c.slot_dir = args.get("--slot-dir");
  c.model_name = args.get("--model-name");
  c.model_params = c_model_params(args);
  c.chat_template = args.get("--chat-template");
  c.session_params = mote_session_params_default();
  c.session_params.max_context = int32_t(parse_int("--ctx", args.get("--ctx", "4096"), 2, 1 << 24));
  c.session_params.mtp = !args.has("--no-mtp");
  c.session_params.kv_type = kv_type_from_args(args);
  c.session_params.context_policy = MOTE_CONTEXT_ERROR;  // requests are checked and clamped up front
  GenerateFlags flags;
  c_generate_params(args, &flags);
  c.defaults = flags.params;
  c.default_stops = flags.stops;
  c.defaults.stop = nullptr;
  c.defaults.n_stop = 0;
  c.default_max_tokens_set = args.has("-n");
  return c;
}

}  // namespace

int cmd_serve(const Args& args) {
  serve::ServerConfig config;
  try {
    config = serve_config(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mote: error: %s\n", e.what());
    return 2;
  }
  return serve::run_server(config);
}

#else

int cmd_serve(const Args&) {
  std::fprintf(stderr, "mote: error: serve: this mote was built without cpp-httplib (install libcpp-httplib-dev and rebuild)\n");
  return 1;
}

#endif

}  // namespace mote::cli
