// mote chat FILE: an interactive terminal chat. Reads one user message per line from stdin
// (a terminal or a pipe), renders the whole conversation with the model's chat template, and
// streams the reply. DeepSeek-R1-style reasoning (<think>...</think>) is shown apart from the
// answer. Commands: /reset (forget the conversation), /stats (speed and memory), /quit.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "chat/chat_tokenize.h"
#include "cli.h"
#include "session/engine.h"
#include "session/text_generation.h"

namespace mote::cli {

TextGenerationOptions generation_options(const Args& args);

namespace {

struct ChatState {
  const Engine* engine = nullptr;
  std::unique_ptr<Session> session;
  ChatFamily family{};
  std::vector<ChatMessage> messages;
  TextGenerationResult last;
  int64_t turns = 0;
};

void print_stats(const ChatState& s, FILE* out) {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::fprintf(out, "[stats] turns %lld, context %lld tokens, last reply: prompt %lld tokens at %.1f tok/s, "
               "%lld tokens at %.1f tok/s, KV cache %.1f MiB, peak RSS %.1f MiB\n",
               (long long)s.turns, (long long)s.session->position(), (long long)s.last.prompt_tokens,
               s.last.prompt_tokens / std::max(1e-9, s.last.prefill_seconds), (long long)s.last.generated_tokens,
               s.last.generated_tokens / std::max(1e-9, s.last.decode_seconds),
               s.session->kv_cache_bytes() / 1048576.0, usage.ru_maxrss / 1024.0);
  const ExpertStore& store = s.engine->model().expert_store();
  if (!store.resident()) {
    const ExpertStats e = store.stats();
    std::fprintf(out, "[stats] experts: budget %.1f MiB in %lld slots, hit rate %.3f, prefetched %llu (used %llu), "
                 "read %.1f MiB, io stall %.1f ms\n",
                 store.budget_bytes() / 1048576.0, (long long)store.slot_count(),
                 e.accesses ? double(e.hits) / double(e.accesses) : 0.0, (unsigned long long)e.prefetch_reads,
                 (unsigned long long)e.prefetch_hits, e.bytes_read / 1048576.0, e.io_stall_ns / 1e6);
  }
}

// Streams one reply: reasoning in brackets on its own, then the answer. Returns the answer.
Result<std::string> reply(ChatState& s, const TextGenerationOptions& options, bool tty) {
  ChatRenderOptions render;
  const Tokenizer* tok = s.engine->tokenizer();
  if (tok->bos_id() >= 0) render.bos_token = tok->token_text(tok->bos_id());
  if (!tok->eos_ids().empty()) render.eos_token = tok->token_text(tok->eos_ids().front());
  // Template control tokens parsed, the typed messages plain: "<|im_end|>" in a line is text.
  std::vector<int32_t> prompt;
  MOTE_RETURN_IF_ERROR(tokenize_chat(s.family, s.messages, render, *tok, &prompt));
  // The whole conversation is re-rendered each turn, so the session restarts from position 0.
  s.session->reset();
  const bool r1 = s.family == ChatFamily::kDeepSeekR1;
  ReasoningSplitter splitter(r1);
  std::string answer;
  bool in_thinking_block = false;
  auto show = [&](const ReasoningSplitter::Output& o) {
    if (!o.reasoning.empty()) {
      if (!in_thinking_block) std::fputs(tty ? "\x1b[2m[thinking] " : "[thinking] ", stdout);
      in_thinking_block = true;
      std::fputs(o.reasoning.c_str(), stdout);
    }
    if (!o.content.empty()) {
      if (in_thinking_block) std::fputs(tty ? "\x1b[0m\n[answer] " : "\n[answer] ", stdout);
      in_thinking_block = false;
      std::fputs(o.content.c_str(), stdout);
      answer += o.content;
    }
    std::fflush(stdout);
  };
  auto result = generate_from_ids(*s.engine, *s.session, prompt, options, [&](int32_t, std::string_view text) {
    show(splitter.feed(text));
    return true;
  });
  show(splitter.finish());
  if (in_thinking_block && tty) std::fputs("\x1b[0m", stdout);
  std::fputs("\n", stdout);
  if (!result) return result.status();
  s.last = *result;
  ++s.turns;
  return answer;
}

}  // namespace

int cmd_chat(const Args& args) {
  const TextGenerationOptions options = generation_options(args);
  EngineOptions engine_options;
  engine_options.chat_template = args.get("--chat-template");
  engine_options.model = model_options(args);
  auto engine = Engine::open(args.positional[0], engine_options);
  if (!engine) return std::fprintf(stderr, "mote: error: %s\n", engine.status().to_string().c_str()), 1;
  ChatState s;
  s.engine = engine->get();
  auto tokenizer = s.engine->require_tokenizer();
  auto family = s.engine->chat_family();
  if (!tokenizer || !family) {
    const Status& st = !tokenizer ? tokenizer.status() : family.status();
    return std::fprintf(stderr, "mote: error: %s\n", st.to_string().c_str()), 1;
  }
  s.family = *family;
  SessionOptions session_options;
  session_options.max_context = parse_int("--ctx", args.get("--ctx", "4096"), 1, 1 << 24);
  session_options.mtp = use_mtp(s.engine->model(), args);
  auto session = Session::create(s.engine->model(), session_options);
  if (!session) return std::fprintf(stderr, "mote: error: %s\n", session.status().to_string().c_str()), 1;
  s.session = std::move(session).value();
  const bool tty = isatty(0) && isatty(1);
  if (args.has("--system")) s.messages.push_back({"system", args.get("--system"), "", {}, ""});
  std::fprintf(stderr, "mote chat (%s template); /reset, /stats, /quit\n", chat_family_name(s.family));
  std::string line;
  while (true) {
    if (tty) std::fputs("> ", stdout), std::fflush(stdout);
    if (!std::getline(std::cin, line) || line == "/quit") break;
    if (line.empty()) continue;
    if (line == "/reset") {
      s.messages.erase(std::remove_if(s.messages.begin(), s.messages.end(),
                                      [](const ChatMessage& m) { return m.role != "system"; }),
                       s.messages.end());
      s.session->reset();
      std::puts("[conversation reset]");
      continue;
    }
    if (line == "/stats") {
      print_stats(s, stdout);
      continue;
    }
    s.messages.push_back({"user", line, "", {}, ""});
    auto answer = reply(s, options, tty);
    if (!answer) {
      std::fprintf(stderr, "mote: error: %s\n", answer.status().to_string().c_str());
      s.messages.pop_back();
      continue;
    }
    s.messages.push_back({"assistant", *answer, "", {}, ""});
  }
  return 0;
}

}  // namespace mote::cli
