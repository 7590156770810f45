#include "cli.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>

namespace mote::cli {

std::string Args::get(const std::string& flag, const std::string& fallback) const {
  auto it = flags.find(flag);
  return it == flags.end() ? fallback : it->second;
}

Args parse_args(int argc, char** argv, int first, const std::vector<std::string>& value_flags,
                const std::vector<std::string>& switches) {
  Args args;
  for (int i = first; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.size() > 1 && a[0] == '-') {
      if (std::find(switches.begin(), switches.end(), a) != switches.end()) {
        args.flags[a] = "1";
      } else if (std::find(value_flags.begin(), value_flags.end(), a) != value_flags.end()) {
        if (i + 1 >= argc) throw std::runtime_error("flag " + a + " needs a value");
        args.flags[a] = argv[++i];
      } else {
        throw std::runtime_error("unknown flag " + a);
      }
    } else {
      args.positional.push_back(a);
    }
  }
  if (args.positional.size() != 1)
    throw std::runtime_error("expected exactly one FILE argument (see mote --help)");
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
