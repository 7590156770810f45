// mote logits (on the C API: mote_session_eval) / mote run --ids (on the runtime's Session, see
// cmd_run). No MTP state: these commands compare logits and greedy ids, one pass per position or
// batch, exactly as a plain session computes them.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "capi.h"
#include "cli.h"
#include "model/model.h"
#include "session/session.h"

namespace mote::cli {

namespace {

// Opens the model and a session with room for `context` tokens.
int open_plain(const Args& args, int64_t context, ModelPtr* model, SessionPtr* session) {
  const mote_model_params params = c_model_params(args);
  mote_model* m = nullptr;
  if (mote_status st = mote_model_open(args.positional[0].c_str(), &params, &m); st != MOTE_OK) return fail_c(st);
  model->reset(m);
  mote_session_params sp = mote_session_params_default();
  sp.max_context = int32_t(std::min<int64_t>(context, INT32_MAX));
  sp.mtp = 0;
  mote_session* s = nullptr;
  if (mote_status st = mote_session_create(m, &sp, &s); st != MOTE_OK) return fail_c(st);
  session->reset(s);
  return 0;
}

int write_floats(const std::string& path, const std::vector<float>& values) {
  FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr)
    return std::fprintf(stderr, "mote: error: %s: cannot open for writing: %s\n", path.c_str(), std::strerror(errno)), 1;
  const size_t written = std::fwrite(values.data(), sizeof(float), values.size(), out);
  if (std::fclose(out) != 0 || written != values.size())
    return std::fprintf(stderr, "mote: error: %s: write failed\n", path.c_str()), 1;
  return 0;
}

int fail(const Status& st) {
  std::fprintf(stderr, "mote: error: %s\n", st.to_string().c_str());
  return 1;
}

}  // namespace

int cmd_logits(const Args& args) {
  if (!args.has("--ids") || !args.has("--out"))
    throw std::runtime_error("logits needs --ids 1,2,3 and --out PATH");
  const std::vector<int32_t> ids = parse_ids(args.get("--ids"));
  const std::string mode = args.get("--mode", "prefill");
  if (mode != "prefill" && mode != "decode")
    throw std::runtime_error("--mode must be prefill or decode, not '" + mode + "'");
  ModelPtr model;
  SessionPtr session;
  if (int rc = open_plain(args, int64_t(ids.size()), &model, &session); rc != 0) return rc;
  mote_model_info info{};
  if (mote_status st = mote_model_get_info(model.get(), &info); st != MOTE_OK) return fail_c(st);
  const size_t vocab = size_t(info.vocab_size);
  std::vector<float> logits(ids.size() * vocab);
  if (mode == "prefill") {
    if (mote_status st = mote_session_eval(session.get(), ids.data(), ids.size(), 1, logits.data(), logits.size());
        st != MOTE_OK)
      return fail_c(st);
  } else {
    for (size_t i = 0; i < ids.size(); ++i)
      if (mote_status st = mote_session_eval(session.get(), &ids[i], 1, 0, logits.data() + i * vocab, vocab);
          st != MOTE_OK)
        return fail_c(st);
  }
  const std::string out_path = args.get("--out");
  if (int rc = write_floats(out_path, logits); rc != 0) return rc;
  print_c_expert_stats(model.get());
  std::fprintf(stderr, "wrote [%zu, %zu] float32 logits to %s\n", ids.size(), vocab, out_path.c_str());
  return 0;
}

// run --ids stays on the runtime's Session: it needs no tokenizer, stops at any of the model's
// end-of-sequence ids and prints that id too; mote_generate_tokens streams text (a tokenizer is
// required), does not emit the EOS id, and mote_model_info names only the first EOS id.
int cmd_run(const Args& args) {
  if (!args.has("--ids")) throw std::runtime_error("run needs --ids 1,2,3");
  const std::vector<int32_t> prompt = parse_ids(args.get("--ids"));
  const int64_t n = parse_int("-n", args.get("-n", "32"), 1, 1 << 20);
  auto model = Model::open(args.positional[0], model_options(args));
  if (!model) return fail(model.status());
  SessionOptions options;
  options.max_context = int64_t(prompt.size()) + n;
  auto session = Session::create(**model, options);
  if (!session) return fail(session.status());
  std::vector<int32_t> out(size_t(n), 0);
  GenerateOptions generate;
  generate.stop_at_eos = !args.has("--ignore-eos");
  auto generated = (*session)->generate_greedy(prompt, out, generate);
  if (!generated) return fail(generated.status());
  std::string text;
  for (int64_t i = 0; i < *generated; ++i) text += (i ? "," : "") + std::to_string(out[size_t(i)]);
  std::printf("%s\n", text.c_str());
  print_expert_stats(**model);
  return 0;
}

}  // namespace mote::cli
