// Names of the converter's temporary output files, and removal of stale ones.
//
// A conversion writes "<out>.tmp-<pid>-<start>" in the output's directory (<start>: the
// process's start time in clock ticks since boot, field 22 of /proc/<pid>/stat), then renames it
// onto <out>. A conversion killed with SIGKILL (or by the OOM killer, or a power cut) cannot
// remove its file; the next conversion to the same <out> does: a temporary file is stale when its
// process is gone, or when its pid now belongs to another process (different start time).
// Names from before the start token ("<out>.tmp-<pid>") are stale when the pid is not alive.
#pragma once

#include <string>
#include <vector>

namespace mote::convert {

// "<out>.tmp-<pid>-<start>" for the calling process.
std::string temp_path_for(const std::string& out);

// Removes the stale temporary files of `out` and returns their paths. Files of live
// conversions (including this process's) are kept. Never throws.
std::vector<std::string> remove_stale_temps(const std::string& out);

// Removes temp_path_for(output) if the process is killed by SIGINT, SIGTERM, SIGHUP or SIGQUIT
// (exceptions unwind the writer, signals do not), then dies of the signal. One output per
// process (the path is kept in a static buffer; the handler is async-signal-safe).
void remove_temp_on_signals(const std::string& output);

}  // namespace mote::convert
