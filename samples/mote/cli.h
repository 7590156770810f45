// The mote command-line tool: subcommands share this small argument parser.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mote::cli {

// Parsed "SUBCOMMAND FILE [--flag value]... [--switch]...". Flags listed in `switches` take no
// value. Unknown flags are rejected by the subcommand via `check_known`.
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;
  bool help = false;  // -h or --help was given: the other arguments are not checked

  bool has(const std::string& flag) const { return flags.count(flag) != 0; }
  std::string get(const std::string& flag, const std::string& fallback = "") const;
};

// Throws std::runtime_error with a one-line message on a malformed command line; an unknown flag
// names the closest known one ("did you mean --temp?").
Args parse_args(int argc, char** argv, int first, const std::vector<std::string>& value_flags,
                const std::vector<std::string>& switches);
// Parses "1,2,3" into ids; throws on anything that is not a comma-separated list of integers.
std::vector<int32_t> parse_ids(const std::string& text);
// The candidate closest to `word` by edit distance, if close enough to be a likely typo; else "".
std::string closest(const std::string& word, const std::vector<std::string>& candidates);
int64_t parse_int(const std::string& flag, const std::string& text, int64_t min, int64_t max);

// Expert-store flags shared by logits, run, chat and bench (expert_flags.cpp).
extern const std::vector<std::string> kExpertValueFlags;  // --expert-budget, --expert-policy, --expert-hot, --threads, --kernels
extern const std::vector<std::string> kExpertSwitches;    // --no-prefetch
// "512M", "2G", "1024": bytes (K/M/G are powers of 1024); throws naming `flag`.
uint64_t parse_size(const std::string& flag, const std::string& text);
// Peak resident set size of this process (VmHWM), in bytes; 0 if unknown.
uint64_t peak_rss_bytes();

int cmd_inspect(const Args& args);
int cmd_bench(const Args& args);
int cmd_perplexity(const Args& args);  // --text PATH [--ctx N] [--max-tokens N]
int cmd_logits(const Args& args);
int cmd_run(const Args& args);       // --ids: greedy ids
int cmd_run_text(const Args& args);  // -p: streamed text
int cmd_tokenize(const Args& args);
int cmd_chat(const Args& args);
int cmd_plan(const Args& args);       // memory plan and speed prediction (cmd_plan.cpp)

}  // namespace mote::cli
