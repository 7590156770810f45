#include "hf/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hf/error.h"

namespace mote::convert {

namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// weight_map of an index file: tensor name -> shard file name (a plain name, no directories).
std::map<std::string, std::string> read_weight_map(const fs::path& index_path) {
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(read_text(index_path));
  } catch (const nlohmann::json::exception& e) {
    fail(index_path.string() + ": invalid JSON: " + e.what());
  }
  const auto wm = index.is_object() ? index.find("weight_map") : index.end();
  if (wm == index.end() || !wm->is_object())
    fail(index_path.string() + ": missing or non-object field 'weight_map'");
  std::map<std::string, std::string> out;
  for (const auto& [name, shard] : wm->items()) {
    if (!shard.is_string()) fail(index_path.string() + ": weight_map entry '" + name + "' is not a string");
    const std::string file = shard.get<std::string>();
    if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..")
      fail(index_path.string() + ": weight_map entry '" + name + "' names an invalid shard '" + file + "'");
    out.emplace(name, file);
  }
  return out;
}

}  // namespace

std::unique_ptr<Checkpoint> Checkpoint::open(const std::string& dir) {
  auto ck = std::make_unique<Checkpoint>();
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  const fs::path single_path = fs::path(dir) / "model.safetensors";
  if (fs::exists(index_path)) {
    const auto weight_map = read_weight_map(index_path);
    std::map<std::string, uint32_t> shard_index;
    for (const auto& [name, shard] : weight_map) {
      auto [it, inserted] = shard_index.emplace(shard, uint32_t(ck->files_.size()));
      if (inserted) ck->files_.push_back(SafetensorsFile::open((fs::path(dir) / shard).string()));
      const SafetensorsFile* file = ck->files_[it->second].get();
      const StTensorInfo* info = file->find(name);
      if (info == nullptr)
        fail("tensor " + name + " listed in " + index_path.string() + " is missing from " + file->path());
      ck->tensors_.push_back(TensorRef{file, info});
    }
  } else if (fs::exists(single_path)) {
    ck->files_.push_back(SafetensorsFile::open(single_path.string()));
    for (const StTensorInfo& t : ck->files_[0]->tensors()) ck->tensors_.push_back(TensorRef{ck->files_[0].get(), &t});
  } else {
    fail("no model.safetensors or model.safetensors.index.json in " + dir);
  }
  std::sort(ck->tensors_.begin(), ck->tensors_.end(),
            [](const TensorRef& a, const TensorRef& b) { return a.info->name < b.info->name; });
  return ck;
}

std::unique_ptr<Checkpoint> Checkpoint::of_file(std::unique_ptr<SafetensorsFile> file) {
  auto ck = std::make_unique<Checkpoint>();
  ck->files_.push_back(std::move(file));
  for (const StTensorInfo& t : ck->files_[0]->tensors()) ck->tensors_.push_back(TensorRef{ck->files_[0].get(), &t});
  return ck;  // a file's tensors are sorted by name already
}

TensorRef Checkpoint::find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorRef& t, std::string_view n) { return t.info->name < n; });
  return it != tensors_.end() && it->info->name == name ? *it : TensorRef{};
}

uint64_t Checkpoint::total_bytes() const {
  uint64_t total = 0;
  for (const auto& f : files_) total += f->file_size();
  return total;
}

}  // namespace mote::convert
