// mote logits / mote run --ids, on the C API (mote_session_eval, mote_sampler). No MTP state:
// these commands compare logits and greedy ids, one pass per position or batch, exactly as a plain
// session computes them.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "capi.h"
#include "cli.h"

namespace mote::cli {

namespace {

// Opens the model and a session with room for `context` tokens.
int open_plain(const Args& args, int64_t context, ModelPtr* model, SessionPtr* session) {
  const mote_model_params params = c_model_params(args);
  mote_model* m = nullptr;
  if (mote_status st = mote_model_open(args.positional[0].c_str(), &params, &m); st != MOTE_OK) return fail_c(st);
  model->reset(m);
  print_auto_budget(args, m);
  mote_session_params sp = mote_session_params_default();
  sp.max_context = int32_t(std::min<int64_t>(context, INT32_MAX));
  sp.mtp = 0;
  sp.kv_type = kv_type_from_args(args);
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

namespace {

struct SamplerDeleter {
  void operator()(mote_sampler* s) const { mote_sampler_destroy(s); }
};

// Greedy ids after `prompt`: up to n, stopping after an end-of-sequence id unless ignore_eos.
int greedy_ids(mote_model* model, mote_session* session, const std::vector<int32_t>& prompt, int64_t n,
               bool ignore_eos, std::vector<int32_t>* out) {
  mote_model_info info{};
  if (mote_status st = mote_model_get_info(model, &info); st != MOTE_OK) return fail_c(st);
  std::vector<int32_t> eos(16);
  size_t n_eos = 0;
  if (mote_status st = mote_model_get_eos_tokens(model, eos.data(), eos.size(), &n_eos); st == MOTE_ERR_BUFFER_TOO_SMALL) {
    eos.resize(n_eos);
    if (mote_status again = mote_model_get_eos_tokens(model, eos.data(), eos.size(), &n_eos); again != MOTE_OK)
      return fail_c(again);
  } else if (st != MOTE_OK) {
    return fail_c(st);
  }
  eos.resize(n_eos);
  const mote_sampling_params greedy = mote_sampling_params_default();  // temperature 0: argmax, lowest id on ties
  mote_sampler* raw = nullptr;
  if (mote_status st = mote_sampler_create(model, &greedy, &raw); st != MOTE_OK) return fail_c(st);
  std::unique_ptr<mote_sampler, SamplerDeleter> sampler(raw);
  std::vector<float> logits(size_t(info.vocab_size));
  std::vector<int32_t> next = prompt;
  int64_t position = int64_t(prompt.size()) - 1;  // of the token whose logits are sampled
  for (int64_t i = 0; i < n; ++i) {
    if (mote_status st = mote_session_eval(session, next.data(), next.size(), 0, logits.data(), logits.size());
        st != MOTE_OK)
      return fail_c(st);
    int32_t token = -1;
    if (mote_status st = mote_sampler_sample(sampler.get(), logits.data(), logits.size(), &token); st != MOTE_OK) {
      if (st != MOTE_ERR_NON_FINITE) return fail_c(st);
      std::fprintf(stderr, "mote: error: non-finite logits at position %lld (NaN or Inf: corrupt weights or overflow)\n",
                   (long long)position);
      return 1;
    }
    out->push_back(token);
    if (!ignore_eos && std::find(eos.begin(), eos.end(), token) != eos.end()) break;
    next.assign(1, token);
    position += 1;
  }
  return 0;
}

}  // namespace

// Greedy ids from ids: no tokenizer needed; stops after any of the model's end-of-sequence ids
// (printed too) unless --ignore-eos.
int cmd_run(const Args& args) {
  if (!args.has("--ids")) throw std::runtime_error("run needs --ids 1,2,3");
  const std::vector<int32_t> prompt = parse_ids(args.get("--ids"));
  const int64_t n = parse_int("-n", args.get("-n", "32"), 1, 1 << 20);
  ModelPtr model;
  SessionPtr session;
  if (int rc = open_plain(args, int64_t(prompt.size()) + n, &model, &session); rc != 0) return rc;
  std::vector<int32_t> out;
  if (int rc = greedy_ids(model.get(), session.get(), prompt, n, args.has("--ignore-eos"), &out); rc != 0) return rc;
  std::string text;
  for (size_t i = 0; i < out.size(); ++i) text += (i ? "," : "") + std::to_string(out[i]);
  std::printf("%s\n", text.c_str());
  print_c_expert_stats(model.get());
  return 0;
}

}  // namespace mote::cli
