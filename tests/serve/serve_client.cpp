#include "serve/serve_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>

namespace mote::test {

namespace {

using Clock = std::chrono::steady_clock;

std::string header_of(const httplib::Headers& h, const std::string& key) {
  for (const auto& [k, v] : h)
    if (strcasecmp(k.c_str(), key.c_str()) == 0) return v;
  return "";
}

void configure(httplib::Client& cli, int timeout_s) {
  cli.set_connection_timeout(5);
  cli.set_read_timeout(timeout_s);
  cli.set_write_timeout(timeout_s);
  cli.set_keep_alive(false);
}

HttpReply to_reply(const httplib::Result& res) {
  HttpReply r;
  if (!res) {
    r.error = httplib::to_string(res.error());
    return r;
  }
  r.status = res->status;
  r.body = res->body;
  r.headers = res->headers;
  r.j = json::parse(r.body, nullptr, false);
  r.is_json = !r.j.is_discarded();
  if (!r.is_json) r.j = json();
  return r;
}

bool delta_has_text(const json& chunk) {
  if (!chunk.is_object() || !chunk.contains("choices") || !chunk["choices"].is_array() || chunk["choices"].empty())
    return false;
  const json& c = chunk["choices"][0];
  if (c.contains("text") && c["text"].is_string() && !c["text"].get<std::string>().empty()) return true;
  if (c.contains("delta") && c["delta"].is_object()) {
    const json& d = c["delta"];
    for (const char* f : {"content", "reasoning_content"})
      if (d.contains(f) && d[f].is_string() && !d[f].get<std::string>().empty()) return true;
  }
  return false;
}

// A whole HTTP response: headers plus a Content-Length body or a chunked body's last chunk.
bool response_complete(const std::string& got) {
  const size_t hdr_end = got.find("\r\n\r\n");
  if (hdr_end == std::string::npos) return false;
  std::string headers = got.substr(0, hdr_end);
  for (char& c : headers) c = char(std::tolower(uint8_t(c)));
  const size_t cl = headers.find("\r\ncontent-length:");
  if (cl != std::string::npos) {
    const size_t len = size_t(std::strtoull(headers.c_str() + cl + 17, nullptr, 10));
    return got.size() >= hdr_end + 4 + len;
  }
  if (headers.find("chunked") != std::string::npos) return got.find("\r\n0\r\n\r\n", hdr_end) != std::string::npos;
  return false;
}

}  // namespace

std::string HttpReply::header(const std::string& key) const { return header_of(headers, key); }
std::string StreamReply::header(const std::string& key) const { return header_of(headers, key); }

HttpReply http_get(int port, const std::string& path, const httplib::Headers& headers, int timeout_s) {
  httplib::Client cli("127.0.0.1", port);
  configure(cli, timeout_s);
  return to_reply(cli.Get(path.c_str(), headers));
}

HttpReply http_post(int port, const std::string& path, const std::string& body, const httplib::Headers& headers,
                    int timeout_s, const std::string& content_type) {
  httplib::Client cli("127.0.0.1", port);
  configure(cli, timeout_s);
  return to_reply(cli.Post(path.c_str(), headers, body, content_type.c_str()));
}

HttpReply http_request(int port, const std::string& method, const std::string& path, const std::string& body,
                       const httplib::Headers& headers, int timeout_s) {
  httplib::Client cli("127.0.0.1", port);
  configure(cli, timeout_s);
  httplib::Request req;
  req.method = method;
  req.path = path;
  req.headers = headers;
  req.body = body;
  if (!body.empty() && !req.has_header("Content-Type")) req.headers.emplace("Content-Type", "application/json");
  return to_reply(cli.send(req));
}

StreamReply http_post_stream(int port, const std::string& path, const std::string& body,
                             const httplib::Headers& headers, int timeout_s,
                             const std::function<bool(const StreamReply&)>& keep_going) {
  StreamReply out;
  httplib::Client cli("127.0.0.1", port);
  configure(cli, timeout_s);
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.headers = headers;
  req.headers.emplace("Content-Type", "application/json");
  req.headers.emplace("Accept", "text/event-stream");
  req.body = body;
  const auto t0 = Clock::now();
  size_t parsed = 0;  // bytes of out.body consumed into events
  req.response_handler = [&](const httplib::Response& res) {
    out.status = res.status;
    out.headers = res.headers;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    out.body.append(data, n);
    bool go = true;
    while (true) {
      // An event ends at a blank line ("\n\n" or "\r\n\r\n").
      size_t end = out.body.find("\n\n", parsed);
      size_t sep = 2;
      const size_t crlf = out.body.find("\r\n\r\n", parsed);
      if (crlf != std::string::npos && (end == std::string::npos || crlf < end)) end = crlf, sep = 4;
      if (end == std::string::npos) break;
      const SseParse ev = parse_sse(out.body.substr(parsed, end - parsed) + "\n\n");
      parsed = end + sep;
      for (const std::string& d : ev.data) {
        out.events.push_back(d);
        if (d == "[DONE]") {
          out.done = true;
          continue;
        }
        json j = json::parse(d, nullptr, false);
        if (j.is_discarded()) continue;
        if (out.ttft_s < 0 && delta_has_text(j))
          out.ttft_s = std::chrono::duration<double>(Clock::now() - t0).count();
        out.chunks.push_back(std::move(j));
      }
      if (keep_going && !keep_going(out)) go = false;
    }
    return go;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  const bool ok = cli.send(req, res, err);
  out.total_s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!ok) out.error = httplib::to_string(err);
  if (out.status < 0 && res.status > 0) {
    out.status = res.status;
    out.headers = res.headers;
  }
  return out;
}

std::string stream_content(const StreamReply& r) {
  std::string s;
  for (const json& c : r.chunks) {
    if (!c.contains("choices") || !c["choices"].is_array() || c["choices"].empty()) continue;
    const json& ch = c["choices"][0];
    if (ch.contains("text") && ch["text"].is_string()) s += ch["text"].get<std::string>();
    if (ch.contains("delta") && ch["delta"].is_object() && ch["delta"].contains("content") &&
        ch["delta"]["content"].is_string())
      s += ch["delta"]["content"].get<std::string>();
  }
  return s;
}

std::string stream_reasoning(const StreamReply& r) {
  std::string s;
  for (const json& c : r.chunks) {
    if (!c.contains("choices") || !c["choices"].is_array() || c["choices"].empty()) continue;
    const json& ch = c["choices"][0];
    if (ch.contains("delta") && ch["delta"].is_object() && ch["delta"].contains("reasoning_content") &&
        ch["delta"]["reasoning_content"].is_string())
      s += ch["delta"]["reasoning_content"].get<std::string>();
  }
  return s;
}

std::string raw_exchange(int port, const std::string& bytes, int timeout_s, size_t* sent_out, bool* connected) {
  if (sent_out) *sent_out = 0;
  if (connected) *connected = false;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  if (connected) *connected = true;
  // Reading stops at `deadline`; sending what is left may take up to 5 s more (a zero timeout
  // sends everything, then closes at once).
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  const auto send_deadline = deadline + std::chrono::seconds(5);
  size_t sent = 0;
  std::string got;
  bool write_open = true;
  char buf[8192];
  while (true) {
    const bool sending = write_open && sent < bytes.size();
    const auto now = Clock::now();
    if (now >= (sending ? send_deadline : deadline)) break;
    if (response_complete(got)) break;
    pollfd pfd{fd, short(POLLIN | (sending ? POLLOUT : 0)), 0};
    const auto until = sending ? send_deadline : deadline;
    const int ms = int(std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count());
    const int r = poll(&pfd, 1, ms > 0 ? ms : 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n > 0) {
        got.append(buf, size_t(n));
        write_open = false;  // a response started: stop sending the rest
        continue;
      }
      break;  // closed or reset
    }
    if (pfd.revents & POLLOUT) {
      const ssize_t n = send(fd, bytes.data() + sent, std::min<size_t>(bytes.size() - sent, 65536), MSG_NOSIGNAL);
      if (n > 0) {
        sent += size_t(n);
      } else {
        write_open = false;
      }
    }
  }
  close(fd);
  if (sent_out) *sent_out = sent;
  return got;
}

int open_stalled_client(int port, const std::string& bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      close(fd);
      return -1;
    }
    sent += size_t(n);
  }
  return fd;
}

std::string raw_post(const std::string& path, const std::string& body) {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

int raw_status(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return -1;
  return std::atoi(response.substr(9, 3).c_str());
}

bool Metrics::has(const std::string& name) const {
  for (const auto& [k, v] : series) {
    if (k == name || (k.rfind(name, 0) == 0 && k.size() > name.size() && k[name.size()] == '{')) return true;
  }
  return false;
}

double Metrics::value(const std::string& name) const {
  double sum = 0;
  for (const auto& [k, v] : series)
    if (k == name || (k.rfind(name, 0) == 0 && k.size() > name.size() && k[name.size()] == '{')) sum += v;
  return sum;
}

Metrics parse_metrics(const std::string& text) {
  Metrics m;
  std::istringstream in(text);
  std::string line;
  auto bad = [&](const std::string& why) {
    if (m.error.empty()) m.error = why + ": " + line.substr(0, 120);
  };
  auto valid_name = [](const std::string& n) {
    if (n.empty() || !(std::isalpha(uint8_t(n[0])) || n[0] == '_' || n[0] == ':')) return false;
    for (char c : n)
      if (!(std::isalnum(uint8_t(c)) || c == '_' || c == ':')) return false;
    return true;
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream ls(line);
      std::string hash, kind, name;
      ls >> hash >> kind >> name;
      if (kind == "HELP" || kind == "TYPE") {
        if (!valid_name(name)) bad("bad metric name in # " + kind);
        std::string rest;
        std::getline(ls, rest);
        if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
        if (kind == "TYPE") {
          if (rest != "counter" && rest != "gauge" && rest != "histogram" && rest != "summary" && rest != "untyped")
            bad("bad # TYPE");
          m.type[name] = rest;
        } else {
          m.help[name] = rest;
        }
      }
      continue;
    }
    // name[{labels}] value [timestamp]
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    const std::string name = line.substr(0, i);
    if (!valid_name(name)) {
      bad("bad metric name");
      continue;
    }
    std::string series = name;
    if (i < line.size() && line[i] == '{') {
      const size_t close = line.find('}', i);
      if (close == std::string::npos) {
        bad("unterminated labels");
        continue;
      }
      series = line.substr(0, close + 1);
      i = close + 1;
    }
    if (i >= line.size() || line[i] != ' ') {
      bad("no value");
      continue;
    }
    std::istringstream vs(line.substr(i + 1));
    std::string value;
    vs >> value;
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (value.empty() || (end && *end != '\0' && value != "NaN" && value != "+Inf" && value != "-Inf")) {
      bad("bad value");
      continue;
    }
    m.series[series] = v;
  }
  return m;
}

Metrics fetch_metrics(int port, const httplib::Headers& headers) {
  const HttpReply r = http_get(port, "/metrics", headers);
  if (r.status != 200) {
    Metrics m;
    m.error = "GET /metrics: status " + std::to_string(r.status) + " " + r.error;
    return m;
  }
  return parse_metrics(r.body);
}

json chat_body(const std::string& user, int max_tokens, double temperature) {
  return chat_body_messages(json::array({{{"role", "user"}, {"content", user}}}), max_tokens, temperature);
}

json chat_body_messages(const json& messages, int max_tokens, double temperature) {
  return {{"model", demo_model_name()}, {"messages", messages}, {"max_tokens", max_tokens},
          {"temperature", temperature}};
}

std::string error_shape_problem(const HttpReply& r) {
  if (!r.is_json) return "body is not JSON: " + r.body.substr(0, 200);
  if (!r.j.is_object() || !r.j.contains("error") || !r.j["error"].is_object())
    return "no \"error\" object: " + r.body.substr(0, 200);
  const json& e = r.j["error"];
  if (!e.contains("message") || !e["message"].is_string() || e["message"].get<std::string>().empty())
    return "error.message missing or empty: " + r.body.substr(0, 200);
  if (!e.contains("type") || !e["type"].is_string()) return "error.type missing: " + r.body.substr(0, 200);
  for (const char* f : {"param", "code"})
    if (!e.contains(f) || !(e[f].is_string() || e[f].is_null()))
      return std::string("error.") + f + " missing (must be a string or null): " + r.body.substr(0, 200);
  return "";
}

json wait_all_idle(int port, double timeout_s) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  json last;
  while (true) {
    const HttpReply h = http_get(port, "/health", {}, 5);
    if (h.status == 200 && h.is_json) {
      last = h.j;
      if (last.value("slots_idle", -1) == last.value("slots_total", -2) && last.value("queue_depth", -1) == 0)
        return last;
    }
    if (Clock::now() >= deadline) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

}  // namespace mote::test
