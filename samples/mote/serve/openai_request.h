// mote serve: the OpenAI request bodies (POST /v1/chat/completions and /v1/completions) parsed and
// validated into plain structs, and the OpenAI error JSON. Nothing here touches the model: the
// checks that need it (model name, context length, chat template) are the server's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mote::serve {

// An error answered as {"error":{"message","type","param","code"}} with HTTP `status`.
struct ApiError {
  int status = 400;
  std::string type = "invalid_request_error";  // authentication_error, server_error, ...
  std::string message;
  std::string param;  // "" -> null
  std::string code;   // "" -> null
};

ApiError invalid_request(std::string message, std::string param = "", std::string code = "");
ApiError server_error(int status, std::string message, std::string code = "");
// The JSON body of an error (valid UTF-8 whatever the message holds).
std::string error_json(const ApiError& error);

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool valid_utf8(std::string_view text);

// The sampling and output fields both endpoints share. Absent fields stay empty: the server's
// defaults (the command-line flags) apply.
struct SamplingRequest {
  std::optional<double> temperature;        // [0, 2]
  std::optional<double> top_p;              // [0, 1]
  std::optional<double> presence_penalty;   // [-2, 2]
  std::optional<double> frequency_penalty;  // [-2, 2]
  std::optional<uint64_t> seed;
  std::optional<int64_t> max_tokens;        // >= 1 (max_tokens or max_completion_tokens)
  std::optional<std::vector<std::string>> stop;  // at most 4, empty strings dropped
  bool stream = false;
  bool include_usage = false;               // stream_options.include_usage
};

struct ChatMessageIn {
  std::string role;  // system, user, assistant ("developer" is read as system)
  std::string content;
};

struct ChatRequest {
  std::optional<std::string> model;
  std::vector<ChatMessageIn> messages;
  SamplingRequest sampling;
};

struct CompletionRequest {
  std::optional<std::string> model;
  std::string prompt;
  SamplingRequest sampling;
};

// Parse `body`; on failure fill `error` (400 naming the field in message and param) and return false.
bool parse_chat_request(std::string_view body, ChatRequest* out, ApiError* error);
bool parse_completion_request(std::string_view body, CompletionRequest* out, ApiError* error);

}  // namespace mote::serve
