#include "cli.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace mote::cli {

std::string Args::get(const std::string& flag, const std::string& fallback) const {
  auto it = flags.find(flag);
  return it == flags.end() ? fallback : it->second;
}

namespace {

// Edits (insert, delete, substitute, swap two neighbours) from a to b: "chta" is one from "chat".
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::string closest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const std::string& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_distance) best = c, best_distance = d;
  }
  // Up to a third of the word's length: "--tmep" -> "--temp", "chta" -> "chat", "--foo" -> nothing.
  return best_distance <= std::max<size_t>(1, word.size() / 3) ? best : "";
}

Args parse_args(int argc, char** argv, int first, const std::vector<std::string>& value_flags,
                const std::vector<std::string>& switches) {
  Args args;
  // --help anywhere wins over every other argument, right or wrong.
  for (int i = first; i < argc; ++i)
    if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) args.help = true;
  if (args.help) return args;
  for (int i = first; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.size() > 1 && a[0] == '-') {
      if (std::find(switches.begin(), switches.end(), a) != switches.end()) {
        args.flags[a] = "1";
      } else if (std::find(value_flags.begin(), value_flags.end(), a) != value_flags.end()) {
        if (i + 1 >= argc) throw std::runtime_error("flag " + a + " needs a value");
        args.flags[a] = argv[++i];
      } else {
        std::vector<std::string> known = value_flags;
        known.insert(known.end(), switches.begin(), switches.end());
        const std::string near = closest(a, known);
        throw std::runtime_error("unknown flag " + a + (near.empty() ? "" : "; did you mean " + near + "?"));
      }
    } else {
      args.positional.push_back(a);
    }
  }
  if (args.positional.size() != 1)
    throw std::runtime_error("expected exactly one FILE argument");
  return args;
}

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || errno != 0 || v < 0 || v > INT32_MAX)
      throw std::runtime_error("--ids: '" + item + "' is not a token id (expected e.g. 1,2,3)");
    ids.push_back(int32_t(v));
    pos = comma + 1;
  }
  return ids;
}

int64_t parse_int(const std::string& flag, const std::string& text, int64_t min, int64_t max) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < min || v > max)
    throw std::runtime_error(flag + ": '" + text + "' must be an integer in [" +
                             std::to_string(min) + ", " + std::to_string(max) + "]");
  return v;
}

}  // namespace mote::cli
