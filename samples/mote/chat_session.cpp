#include "chat_session.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace mote::cli {

namespace {

std::string messages_path(const std::string& path) { return path + ".messages.json"; }

bool file_exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

bool error(const std::string& message) {
  std::fprintf(stderr, "mote: error: %s\n", message.c_str());
  return false;
}

}  // namespace

int ChatSession::open(const Args& args) {
  c_generate_params(args, &flags_);
  if (int rc = open_c(args, &model_, &session_, MOTE_CONTEXT_SHIFT); rc != 0) return rc;
  if (mote_status st = mote_model_get_info(model_.get(), &info_); st != MOTE_OK) return fail_c(st);
  if (info_.chat_template[0] == '\0') {
    // Let the library say why (no template in the file, or one it cannot render), with the names.
    const mote_chat_message probe{"user", "x"};
    size_t len = 0;
    const mote_status st = mote_chat_render(model_.get(), &probe, 1, 1, nullptr, 0, &len);
    return st == MOTE_ERR_BUFFER_TOO_SMALL ? fail_c(MOTE_ERR_UNSUPPORTED) : fail_c(st);
  }
  if (args.has("--system")) add("system", args.get("--system"));
  session_path_ = args.get("--session");
  if (!session_path_.empty() && file_exists(session_path_)) {
    if (!load(session_path_)) return 1;
    std::fprintf(stderr, "[loaded %s: %zu messages]\n", session_path_.c_str(), messages_.size());
  }
  return 0;
}

void ChatSession::drop_last_user_message() {
  if (!messages_.empty() && messages_.back().first == "user") messages_.pop_back();
}

void ChatSession::reset() {
  messages_.erase(std::remove_if(messages_.begin(), messages_.end(),
                                 [](const auto& m) { return m.first != "system"; }),
                  messages_.end());
  mote_session_reset(session_.get());
}

mote_status ChatSession::generate(mote_token_callback callback, void* user_data) {
  std::vector<mote_chat_message> list;
  for (const auto& [role, content] : messages_) list.push_back({role.c_str(), content.c_str()});
  // The whole conversation each turn: the session keeps what it already holds (the previous
  // turns, the partial reply of a stopped one) and evaluates only the rest.
  return mote_chat_generate(session_.get(), list.data(), list.size(), &flags_.params, callback, user_data);
}

void ChatSession::print_stats(FILE* out) const {
  mote_stats s{};
  mote_session_get_stats(session_.get(), &s);
  const auto turns = std::count_if(messages_.begin(), messages_.end(), [](const auto& m) { return m.first == "assistant"; });
  std::fprintf(out,
               "[stats] turns %lld, context %lld tokens, last reply: [prompt %lld tokens, reused %lld], "
               "%lld tokens (ended by %s); prefill %.1f tok/s, decode %.1f tok/s, KV cache %.1f MiB, peak RSS %.1f MiB\n",
               (long long)turns, (long long)s.context_tokens, (long long)s.last_prompt_tokens,
               (long long)s.last_reused_tokens, (long long)s.last_generated_tokens, stop_reason_name(s.stop_reason),
               s.prefill_tok_s, s.decode_tok_s,
               double(s.kv_cache_bytes) / 1048576.0, double(s.peak_rss_bytes) / 1048576.0);
  mote_expert_stats e{};
  if (mote_model_get_expert_stats(model_.get(), &e) == MOTE_OK && e.budget_bytes > 0)
    std::fprintf(out, "[stats] experts: budget %.1f MiB, hit rate %.3f, prefetched %llu (used %llu), read %.1f MiB, "
                 "io stall %.1f ms\n",
                 double(e.budget_bytes) / 1048576.0, e.accesses ? double(e.hits) / double(e.accesses) : 0.0,
                 (unsigned long long)e.prefetch_reads, (unsigned long long)e.prefetch_hits,
                 double(e.bytes_read) / 1048576.0, e.io_stall_ms);
}

bool ChatSession::save(const std::string& path) const {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& [role, content] : messages_) j.push_back({{"role", role}, {"content", content}});
  // Written aside and renamed, as the session file is: a crash leaves the old pair or the new one.
  const std::string json_path = messages_path(path), tmp = json_path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << j.dump(1) << "\n";
    if (!f.flush()) return error(tmp + ": cannot write the messages");
  }
  if (std::rename(tmp.c_str(), json_path.c_str()) != 0) return error(json_path + ": cannot write the messages");
  if (mote_status st = mote_session_save(session_.get(), path.c_str()); st != MOTE_OK) return fail_c(st), false;
  return true;
}

bool ChatSession::load(const std::string& path) {
  std::ifstream f(messages_path(path), std::ios::binary);
  if (!f) return error(messages_path(path) + ": cannot open (it holds the messages saved with " + path + ")");
  std::vector<std::pair<std::string, std::string>> loaded;
  try {
    const nlohmann::json j = nlohmann::json::parse(f);
    for (const auto& m : j) loaded.emplace_back(m.at("role").get<std::string>(), m.at("content").get<std::string>());
  } catch (const std::exception& e) {
    return error(messages_path(path) + ": not a saved conversation (" + e.what() + ")");
  }
  if (mote_status st = mote_session_load(session_.get(), path.c_str()); st != MOTE_OK) return fail_c(st), false;
  messages_ = std::move(loaded);
  return true;
}

void ChatSession::autosave() const {
  if (!session_path_.empty()) save(session_path_);
}

}  // namespace mote::cli
