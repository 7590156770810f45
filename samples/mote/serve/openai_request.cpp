#include "openai_request.h"

#include <cmath>
#include <exception>
#include <utility>

#include <nlohmann/json.hpp>

namespace mote::serve {

using nlohmann::json;

ApiError invalid_request(std::string message, std::string param, std::string code) {
  ApiError e;
  e.status = 400;
  e.message = std::move(message);
  e.param = std::move(param);
  e.code = std::move(code);
  return e;
}

ApiError server_error(int status, std::string message, std::string code) {
  ApiError e;
  e.status = status;
  e.type = "server_error";
  e.message = std::move(message);
  e.code = std::move(code);
  return e;
}

std::string error_json(const ApiError& error) {
  json e = {{"message", error.message},
            {"type", error.type},
            {"param", error.param.empty() ? json(nullptr) : json(error.param)},
            {"code", error.code.empty() ? json(nullptr) : json(error.code)}};
  // replace: a message quoting bad input never makes dump() throw.
  return json{{"error", e}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0, min = 0;
    if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07, min = 0x10000;
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

namespace {

// Thrown inside the parsers only; turned into an ApiError at their boundary.
struct FieldError {
  std::string message;
  std::string param;
};

[[noreturn]] void fail(const std::string& param, const std::string& what) { throw FieldError{param + " " + what, param}; }

const json* field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string get_string(const json& v, const std::string& param) {
  if (!v.is_string()) fail(param, "must be a string");
  std::string s = v.get<std::string>();
  if (!valid_utf8(s)) fail(param, "is not valid UTF-8");
  return s;
}

std::optional<double> get_number(const json& body, const char* name, double lo, double hi) {
  const json* v = field(body, name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) fail(name, "must be a number");
  const double d = v->get<double>();
  if (!std::isfinite(d) || d < lo || d > hi)
    fail(name, "must be between " + json(lo).dump() + " and " + json(hi).dump());
  return d;
}

// An integer (a float with no fractional part counts) in [lo, hi].
std::optional<int64_t> get_int(const json& body, const char* name, int64_t lo, int64_t hi) {
  const json* v = field(body, name);
  if (v == nullptr) return std::nullopt;
  int64_t i = 0;
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    i = u > uint64_t(INT64_MAX) ? INT64_MAX : int64_t(u);
  } else if (v->is_number_integer()) {
    i = v->get<int64_t>();
  } else if (v->is_number_float()) {
    const double d = v->get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e18) fail(name, "must be an integer");
    i = int64_t(d);
  } else {
    fail(name, "must be an integer");
  }
  if (i < lo || i > hi) fail(name, "must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return i;
}

std::optional<bool> get_bool(const json& body, const char* name) {
  const json* v = field(body, name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) fail(name, "must be a boolean");
  return v->get<bool>();
}

std::vector<std::string> get_stop(const json& v) {
  std::vector<std::string> stops;
  if (v.is_string()) {
    stops.push_back(get_string(v, "stop"));
  } else if (v.is_array()) {
    if (v.size() > 4) fail("stop", "may hold at most 4 strings");
    for (size_t i = 0; i < v.size(); ++i) stops.push_back(get_string(v[i], "stop[" + std::to_string(i) + "]"));
  } else {
    fail("stop", "must be a string or an array of strings");
  }
  std::erase_if(stops, [](const std::string& s) { return s.empty(); });
  return stops;
}

SamplingRequest parse_sampling(const json& body) {
  SamplingRequest s;
  s.temperature = get_number(body, "temperature", 0.0, 2.0);
  s.top_p = get_number(body, "top_p", 0.0, 1.0);
  s.presence_penalty = get_number(body, "presence_penalty", -2.0, 2.0);
  s.frequency_penalty = get_number(body, "frequency_penalty", -2.0, 2.0);
  if (auto seed = get_int(body, "seed", INT64_MIN, INT64_MAX)) s.seed = uint64_t(*seed);
  s.max_tokens = get_int(body, "max_completion_tokens", 1, 1 << 30);
  if (!s.max_tokens) s.max_tokens = get_int(body, "max_tokens", 1, 1 << 30);
  if (const json* stop = field(body, "stop")) s.stop = get_stop(*stop);
  s.stream = get_bool(body, "stream").value_or(false);
  if (const json* opts = field(body, "stream_options")) {
    if (!opts->is_object()) fail("stream_options", "must be an object");
    s.include_usage = get_bool(*opts, "include_usage").value_or(false);
  }
  if (auto n = get_int(body, "n", 1, 1 << 30); n && *n != 1) fail("n", "must be 1 (one choice per request)");
  if (const json* model = field(body, "model"); model && !model->is_string()) fail("model", "must be a string");
  return s;
}

std::string message_content(const json& m, const std::string& param, const std::string& role) {
  const json* c = field(m, "content");
  if (c == nullptr) {
    if (role == "assistant") return "";  // an assistant turn may carry no text
    fail(param, "is required");
  }
  if (c->is_string()) return get_string(*c, param);
  if (!c->is_array()) fail(param, "must be a string or an array of content parts");
  std::string text;
  for (size_t i = 0; i < c->size(); ++i) {
    const json& part = (*c)[i];
    const std::string p = param + "[" + std::to_string(i) + "]";
    if (!part.is_object()) fail(p, "must be an object {\"type\":\"text\",\"text\":...}");
    const json* type = field(part, "type");
    if (type == nullptr || !type->is_string() || type->get<std::string>() != "text")
      fail(p + ".type", "must be \"text\" (only text content is supported)");
    const json* t = field(part, "text");
    if (t == nullptr) fail(p + ".text", "is required");
    if (!text.empty()) text += "\n";
    text += get_string(*t, p + ".text");
  }
  return text;
}

std::vector<ChatMessageIn> parse_messages(const json& body) {
  const json* list = field(body, "messages");
  if (list == nullptr) fail("messages", "is required");
  if (!list->is_array()) fail("messages", "must be an array");
  if (list->empty()) fail("messages", "must hold at least one message");
  std::vector<ChatMessageIn> out;
  for (size_t i = 0; i < list->size(); ++i) {
    const json& m = (*list)[i];
    const std::string p = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) fail(p, "must be an object");
    const json* role = field(m, "role");
    if (role == nullptr) fail(p + ".role", "is required");
    std::string r = get_string(*role, p + ".role");
    if (r == "developer") r = "system";
    if (r != "system" && r != "user" && r != "assistant")
      fail(p + ".role", "must be one of system, user, assistant (got '" + r + "')");
    out.push_back({r, message_content(m, p + ".content", r)});
  }
  return out;
}

// Runs `body_parser` on the parsed JSON object, turning every failure into a 400.
template <class F>
bool parse_body(std::string_view body, ApiError* error, F body_parser) {
  json j;
  try {
    j = json::parse(body.begin(), body.end());
  } catch (const std::exception& e) {
    const std::string what = e.what();
    const bool utf8 = what.find("UTF-8") != std::string::npos || what.find("surrogate") != std::string::npos;
    *error = invalid_request(utf8 ? "the request body is not valid UTF-8 JSON: " + what
                                  : "the request body is not valid JSON: " + what,
                             "", utf8 ? "invalid_utf8" : "invalid_json");
    return false;
  }
  if (!j.is_object()) {
    *error = invalid_request("the request body must be a JSON object");
    return false;
  }
  try {
    body_parser(j);
  } catch (const FieldError& f) {
    *error = invalid_request(f.message, f.param);
    return false;
  } catch (const std::exception& e) {
    *error = invalid_request(std::string("invalid request: ") + e.what());
    return false;
  }
  return true;
}

std::optional<std::string> model_field(const json& j) {
  const json* m = field(j, "model");
  if (m == nullptr) return std::nullopt;
  return get_string(*m, "model");
}

}  // namespace

bool parse_chat_request(std::string_view body, ChatRequest* out, ApiError* error) {
  return parse_body(body, error, [&](const json& j) {
    out->model = model_field(j);
    out->messages = parse_messages(j);
    out->sampling = parse_sampling(j);
  });
}

bool parse_completion_request(std::string_view body, CompletionRequest* out, ApiError* error) {
  return parse_body(body, error, [&](const json& j) {
    out->model = model_field(j);
    const json* p = field(j, "prompt");
    if (p == nullptr) fail("prompt", "is required");
    if (p->is_array()) {
      if (p->size() != 1) fail("prompt", "must be a string (an array must hold exactly one string)");
      out->prompt = get_string((*p)[0], "prompt[0]");
    } else {
      out->prompt = get_string(*p, "prompt");
    }
    out->sampling = parse_sampling(j);
  });
}

}  // namespace mote::serve
