// Helpers for tests that run the real mote-convert binary (MOTE_CONVERT_BIN) and inspect its
// output with the runtime's verified reader.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "format/mote_file.h"

namespace mote::test {

// mote-convert <in> -o <out> --quiet <extra...>
CommandResult run_convert(const std::filesystem::path& in, const std::filesystem::path& out,
                          const std::vector<std::string>& extra = {}, bool quiet = true);

// Opens and verifies a .mote file (ADD_FAILURE and nullptr on error).
std::unique_ptr<MoteFile> open_mote(const std::filesystem::path& path);

// A tensor's bytes in an opened file ("" if absent).
std::string tensor_bytes(const MoteFile& file, const std::string& name);
// A tensor decoded to f32 (rows x cols), row-major or row groups alike.
std::vector<float> tensor_f32(const MoteFile& file, const std::string& name);

// Converts `in` into <out_dir>/out.mote expecting failure: exit status 1, stderr one line
// "mote-convert: error: ..." containing `needle`, and `out_dir` left empty (no output, no
// temporary file).
void expect_convert_error(const std::filesystem::path& in, const std::filesystem::path& out_dir,
                          const std::string& needle, const std::vector<std::string>& extra = {});

}  // namespace mote::test
