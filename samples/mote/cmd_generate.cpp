// mote logits / mote run: drive a Session over token ids.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli.h"
#include "model/model.h"
#include "session/session.h"

namespace mote::cli {

namespace {

int fail(const Status& st) {
  std::fprintf(stderr, "mote: error: %s\n", st.to_string().c_str());
  return 1;
}

// Opens the model and a session with room for `context` tokens.
Status open_session(const std::string& path, const ModelOptions& model_opts, int64_t context,
                    std::unique_ptr<Model>* model, std::unique_ptr<Session>* session) {
  auto opened = Model::open(path, model_opts);
  if (!opened) return opened.status();
  *model = std::move(opened).value();
  SessionOptions options;
  options.max_context = context;
  auto created = Session::create(**model, options);
  if (!created) return created.status();
  *session = std::move(created).value();
  return Status::ok();
}

}  // namespace

int cmd_logits(const Args& args) {
  if (!args.has("--ids") || !args.has("--out"))
    throw std::runtime_error("logits needs --ids 1,2,3 and --out PATH");
  const std::vector<int32_t> ids = parse_ids(args.get("--ids"));
  const std::string mode = args.get("--mode", "prefill");
  if (mode != "prefill" && mode != "decode")
    throw std::runtime_error("--mode must be prefill or decode, not '" + mode + "'");
  std::unique_ptr<Model> model;
  std::unique_ptr<Session> session;
  if (Status st = open_session(args.positional[0], model_options(args), int64_t(ids.size()), &model, &session); !st)
    return fail(st);
  const int64_t vocab = session->vocab_size();
  std::vector<float> logits(ids.size() * size_t(vocab));
  if (mode == "prefill") {
    if (Status st = session->prefill(ids, logits.data(), LogitsMode::kAll); !st) return fail(st);
  } else {
    for (size_t i = 0; i < ids.size(); ++i)
      if (Status st = session->decode(ids[i], logits.data() + i * size_t(vocab)); !st) return fail(st);
  }
  const std::string out_path = args.get("--out");
  FILE* out = std::fopen(out_path.c_str(), "wb");
  if (out == nullptr)
    return fail(io_error(out_path + ": cannot open for writing: " + std::strerror(errno)));
  const size_t written = std::fwrite(logits.data(), sizeof(float), logits.size(), out);
  if (std::fclose(out) != 0 || written != logits.size())
    return fail(io_error(out_path + ": write failed"));
  print_expert_stats(*model);
  std::fprintf(stderr, "wrote [%zu, %lld] float32 logits to %s\n", ids.size(), (long long)vocab,
               out_path.c_str());
  return 0;
}

int cmd_run(const Args& args) {
  if (!args.has("--ids")) throw std::runtime_error("run needs --ids 1,2,3");
  const std::vector<int32_t> prompt = parse_ids(args.get("--ids"));
  const int64_t n = parse_int("-n", args.get("-n", "32"), 1, 1 << 20);
  std::unique_ptr<Model> model;
  std::unique_ptr<Session> session;
  if (Status st = open_session(args.positional[0], model_options(args), int64_t(prompt.size()) + n, &model,
                               &session); !st)
    return fail(st);
  std::vector<int32_t> out(size_t(n), 0);
  GenerateOptions options;
  options.stop_at_eos = !args.has("--ignore-eos");
  auto generated = session->generate_greedy(prompt, out, options);
  if (!generated) return fail(generated.status());
  std::string text;
  for (int64_t i = 0; i < *generated; ++i) text += (i ? "," : "") + std::to_string(out[size_t(i)]);
  std::printf("%s\n", text.c_str());
  print_expert_stats(*model);
  return 0;
}

}  // namespace mote::cli
