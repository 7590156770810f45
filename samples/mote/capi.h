// The commands that run on the public C API (mote.h): their flags as mote_* params, handles that
// free themselves, and the one-line error of a failed call.
#pragma once

#include <mote/mote.h>

#include <memory>
#include <string>
#include <vector>

#include "cli.h"

namespace mote::cli {

struct ModelDeleter {
  void operator()(mote_model* m) const { mote_model_destroy(m); }
};
struct SessionDeleter {
  void operator()(mote_session* s) const { mote_session_destroy(s); }
};
using ModelPtr = std::unique_ptr<mote_model, ModelDeleter>;
using SessionPtr = std::unique_ptr<mote_session, SessionDeleter>;

// The expert, thread and --chat-template flags; throws std::runtime_error on a malformed flag.
mote_model_params c_model_params(const Args& args);

// The generation flags (-n, sampling, --stop, --ignore-eos, --no-parse-special). The stop
// strings live in `stops`, which must outlive the params.
struct GenerateFlags {
  mote_generate_params params{};
  std::vector<std::string> stops;
  std::vector<const char*> stop_ptrs;
};
void c_generate_params(const Args& args, GenerateFlags* out);

// Prints "mote: error: <the library's message>" for a failed call and returns 1.
int fail_c(mote_status status);

// --kv-type / --kl-base values: "f32", "f16", "q8_0" -> mote_kv_type; anything else throws
// std::runtime_error naming `flag` (the CLI's one-line usage error).
mote_kv_type parse_kv_type(const std::string& flag, const std::string& text);
// The flag spelling of a KV type ("f32", "f16", "q8_0"; "?" for a value outside the enum).
const char* kv_type_flag_name(mote_kv_type type);
// --kv-type of args, or the library default.
mote_kv_type kv_type_from_args(const Args& args);

// Opens the model of args.positional[0] and a session of --ctx tokens (default 4096), with MTP
// unless --no-mtp. and --kv-type (default: the library's). Returns 0 or the exit status after printing the error.
int open_c(const Args& args, ModelPtr* model, SessionPtr* session,
           mote_context_policy policy = MOTE_CONTEXT_ERROR);
// "max tokens", "end of sequence", "stop string", "stopped", "error", "none".
const char* stop_reason_name(mote_stop_reason reason);
// With --expert-budget auto: one stderr line of what the plan chose and why (open_c calls it).
void print_auto_budget(const Args& args, const mote_model* model);
// Prints one stderr line of expert-cache counters when the model has a budget.
void print_c_expert_stats(const mote_model* model);

}  // namespace mote::cli
