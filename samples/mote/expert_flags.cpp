// Expert-store command-line flags (converted to mote_model_params in capi.cpp), sizes and peak
// memory, shared by the subcommands that open a model.
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

#include "cli.h"

namespace mote::cli {

const std::vector<std::string> kExpertValueFlags = {"--expert-budget", "--expert-policy", "--expert-hot", "--threads",
                                                  "--kernels", "--expert-stats", "--mem-limit", "--backend",
                                                  "--vram-budget", "--tier-mode"};
const std::vector<std::string> kExpertSwitches = {"--no-prefetch"};

uint64_t parse_size(const std::string& flag, const std::string& text) {
  size_t used = 0;
  unsigned long long n = 0;
  try {
    if (!text.empty() && text[0] != '-') n = std::stoull(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  uint64_t scale = 1;
  const std::string suffix = used == 0 ? "?" : text.substr(used);
  if (suffix == "K" || suffix == "k") scale = 1ull << 10;
  else if (suffix == "M" || suffix == "m") scale = 1ull << 20;
  else if (suffix == "G" || suffix == "g") scale = 1ull << 30;
  else if (!suffix.empty())
    throw std::runtime_error(flag + " must be bytes or a size like 512M, 2G, not '" + text + "'");
  return uint64_t(n) * scale;
}

uint64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "VmHWM:  1234 kB"
  return 0;
}

}  // namespace mote::cli
