// Tokenizer and generation files stored verbatim as blobs: tokenizer.json,
// tokenizer_config.json, tokenizer.model, generation_config.json under their file names, and the chat template
// as "chat_template" (from chat_template.jinja if present, else the top-level "chat_template"
// string of tokenizer_config.json; a list of named templates yields the one named "default",
// else the first), its family as "chat_family" (chat/chat_template.h), and a SentencePiece
// tokenizer.model. Absent files are skipped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mote::convert {

struct BlobSource {
  std::string name;     // blob name in the .mote file
  std::string path;     // file to stream from; empty when `bytes` holds the content
  std::string bytes;    // small in-memory content (the chat template from JSON)
  uint64_t size = 0;
};

// Finds the blobs of checkpoint folder `dir`. Throws ConvertError on an unreadable file or a
// tokenizer_config.json that is not valid JSON.
// `notes` receives remarks for the user (e.g. an unrecognised chat template).
std::vector<BlobSource> find_blobs(const std::string& dir, std::vector<std::string>* notes);

// Loads tokenizer.json (+ tokenizer_config.json) or tokenizer.model of `dir` with the runtime's
// tokenizer loader, so a truncated, empty or invalid file fails the conversion with a message
// naming it instead of the first run. Absent files are fine (no tokenizer stored). Peak memory:
// the file plus the parsed tokenizer (freed before the weights are converted). A tokenizer that
// loads as kUnsupported (a feature mote does not implement yet) adds a note to `notes` instead.
void check_tokenizer_files(const std::string& dir, std::vector<std::string>* notes);

}  // namespace mote::convert
