// mote-route-stats: how a model routes a text, token by token, through the C API only.
//
//   mote-route-stats MODEL.mote [--text FILE] [--tokens N] [--skip N]
//
// Feeds up to N tokens (default 256) of FILE one at a time (teacher forcing; a model without a
// tokenizer gets one id per word, a hash of the word mod the vocab, so repeats stay repeats) and,
// after each step, diffs mote_model_get_expert_map's use counts to get the experts each MoE layer
// routed that token to. Without FILE the ids are seeded random. Prints per layer, then the mean:
//   top10   share of all accesses taken by the 10% most used experts (uniform: 0.10)
//   max     busiest expert's count / mean count (uniform: ~1 + noise)
//   share   fraction of tokens sharing at least one routed expert with the previous token
//   reuse   mean fraction of the previous token's experts used again by this token
// Memory: O(layers x experts) counters; the model opened as the default parameters give.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mote/mote.h"

namespace {

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "mote-route-stats: %s\n", msg.c_str());
  std::exit(1);
}

std::vector<int32_t> text_ids(mote_model* model, const std::string& path, int32_t vocab) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str().substr(0, 1 << 20);
  std::vector<int32_t> ids(text.size() + 16);
  size_t n = 0;
  if (mote_tokenize(model, text.data(), text.size(), 0, ids.data(), ids.size(), &n) == MOTE_OK && n > 0) {
    ids.resize(n);
    return ids;
  }
  ids.clear();  // no tokenizer: one id per whitespace-separated word
  std::istringstream words(text);
  for (std::string w; words >> w;) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : w) h = (h ^ c) * 1099511628211ull;
    ids.push_back(int32_t(h % uint64_t(vocab)));
  }
  return ids;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) die("usage: mote-route-stats MODEL.mote [--text FILE] [--tokens N] [--skip N]");
  std::string text;
  size_t n_tokens = 256, skip = 0;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) die(a + " needs a value");
    if (a == "--text") text = argv[++i];
    else if (a == "--tokens") n_tokens = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--skip") skip = std::strtoull(argv[++i], nullptr, 10);
    else die("unknown argument " + a);
  }
  mote_model_params mp = mote_model_params_default();
  mote_model* model = nullptr;
  if (mote_model_open(argv[1], &mp, &model) != MOTE_OK) die(std::string("cannot open ") + argv[1]);
  mote_model_info info{};
  mote_model_get_info(model, &info);
  std::vector<int32_t> ids;
  if (!text.empty()) ids = text_ids(model, text, info.vocab_size);
  else
    for (size_t i = 0; i < n_tokens; ++i) ids.push_back(int32_t((i * 2654435761u + 12345u) % uint32_t(info.vocab_size)));
  if (ids.size() > skip) ids.erase(ids.begin(), ids.begin() + long(skip));
  if (ids.size() > n_tokens) ids.resize(n_tokens);
  int32_t L = 0, E = 0;
  size_t count = 0;
  mote_model_get_expert_map(model, &L, &E, nullptr, 0, &count);
  if (count == 0) die("the model has no routed experts");
  std::vector<mote_expert_entry> map(count);
  std::vector<uint64_t> prev(count, 0), uses(count, 0);
  std::vector<std::vector<int32_t>> last(static_cast<size_t>(L));
  std::vector<double> shared(size_t(L), 0), reuse(size_t(L), 0);
  mote_session_params sp = mote_session_params_default();
  mote_session* session = nullptr;
  if (mote_session_create(model, &sp, &session) != MOTE_OK) die("cannot create a session");
  size_t steps = 0;
  for (size_t t = 0; t < ids.size(); ++t) {
    if (mote_session_eval(session, &ids[t], 1, 0, nullptr, 0) != MOTE_OK) break;
    mote_model_get_expert_map(model, &L, &E, map.data(), map.size(), &count);
    for (int32_t l = 0; l < L; ++l) {
      std::vector<int32_t> cur;
      for (int32_t e = 0; e < E; ++e) {
        const size_t k = size_t(l) * size_t(E) + size_t(e);
        if (map[k].uses > prev[k]) cur.push_back(e), ++uses[k];
        prev[k] = map[k].uses;
      }
      std::vector<int32_t>& p = last[size_t(l)];
      if (t > 0 && !p.empty()) {
        size_t common = 0;
        for (int32_t e : cur) common += std::count(p.begin(), p.end(), e);
        shared[size_t(l)] += common > 0;
        reuse[size_t(l)] += double(common) / double(p.size());
      }
      p = cur;
    }
    ++steps;
  }
  double s_top = 0, s_max = 0, s_share = 0, s_reuse = 0;
  std::printf("layer   top10    max  share  reuse   (%zu tokens, %d experts)\n", steps, E);
  for (int32_t l = 0; l < L; ++l) {
    std::vector<uint64_t> c(uses.begin() + long(l) * E, uses.begin() + long(l + 1) * E);
    std::sort(c.rbegin(), c.rend());
    uint64_t total = 0, top = 0;
    for (size_t i = 0; i < c.size(); ++i) total += c[i], top += i < std::max<size_t>(1, c.size() / 10) ? c[i] : 0;
    if (total == 0) continue;
    const double t10 = double(top) / double(total), mx = double(c[0]) * E / double(total);
    const double sh = steps > 1 ? shared[size_t(l)] / double(steps - 1) : 0, re = steps > 1 ? reuse[size_t(l)] / double(steps - 1) : 0;
    std::printf("%5d  %6.3f  %5.2f  %5.3f  %5.3f\n", l, t10, mx, sh, re);
    s_top += t10, s_max += mx, s_share += sh, s_reuse += re;
  }
  std::printf("mean   %6.3f  %5.2f  %5.3f  %5.3f\n", s_top / L, s_max / L, s_share / L, s_reuse / L);
  mote_session_destroy(session);
  mote_model_destroy(model);
  return 0;
}
