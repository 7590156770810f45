#include "writer/temp_files.h"

#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace mote::convert {

namespace fs = std::filesystem;

namespace {

// Field 22 (starttime) of /proc/<pid>/stat, or "" when the process does not exist. The comm
// field (2) may hold spaces and parentheses, so fields are counted after the last ')'.
std::string start_time(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22; ++i)
    if (!(rest >> field)) return "";
  return field;
}

// Parses "<pid>" or "<pid>-<start>" (all digits); false for anything else.
bool parse_suffix(const std::string& s, long* pid, std::string* start) {
  const size_t dash = s.find('-');
  const std::string p = s.substr(0, dash);
  *start = dash == std::string::npos ? "" : s.substr(dash + 1);
  auto digits = [](const std::string& d) { return !d.empty() && d.size() <= 19 && d.find_first_not_of("0123456789") == std::string::npos; };
  if (!digits(p) || (dash != std::string::npos && !digits(*start))) return false;
  *pid = std::stol(p);
  return *pid > 0;
}

}  // namespace

std::string temp_path_for(const std::string& out) {
  const long pid = long(::getpid());
  return out + ".tmp-" + std::to_string(pid) + "-" + start_time(pid);
}

std::vector<std::string> remove_stale_temps(const std::string& out) {
  std::vector<std::string> removed;
  const fs::path o(out);
  const fs::path dir = o.parent_path().empty() ? fs::path(".") : o.parent_path();
  const std::string prefix = o.filename().string() + ".tmp-";
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    long pid = 0;
    std::string start;
    if (!parse_suffix(name.substr(prefix.size()), &pid, &start)) continue;
    const std::string now = start_time(pid);
    const bool alive = !now.empty() && (start.empty() || now == start);
    std::error_code rm;
    if (!alive && it->is_regular_file(rm) && fs::remove(it->path(), rm)) removed.push_back(it->path().string());
  }
  return removed;
}

namespace {
char g_temp_path[4096];

void remove_temp_and_die(int sig) {
  if (g_temp_path[0] != '\0') ::unlink(g_temp_path);  // async-signal-safe
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}
}  // namespace

void remove_temp_on_signals(const std::string& output) {
  const std::string temp = temp_path_for(output);
  if (temp.size() >= sizeof(g_temp_path)) return;
  std::memcpy(g_temp_path, temp.c_str(), temp.size() + 1);
  struct sigaction sa {};
  sa.sa_handler = remove_temp_and_die;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaction(sig, &sa, nullptr);
}

}  // namespace mote::convert
