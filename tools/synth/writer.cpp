// Streaming checkpoint writer: every tensor is generated and written in kChunkBytes pieces, so
// memory stays bounded by one chunk buffer plus the headers, whatever the model size.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "synth.h"

namespace mote::synth {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr size_t kChunkBytes = 4u << 20;  // bytes generated and written per write()

struct Shard {
  std::string file;              // final file name in out_dir
  std::vector<size_t> tensors;   // indices into the plan
};

// Groups tensors into shards of at most shard_bytes (a tensor larger than that gets its own).
std::vector<Shard> assign_shards(const std::vector<PlannedTensor>& plan, uint64_t shard_bytes) {
  std::vector<Shard> shards;
  uint64_t cur = 0;
  for (size_t i = 0; i < plan.size(); ++i) {
    if (shards.empty() || (cur > 0 && cur + plan[i].bytes() > shard_bytes)) {
      shards.push_back({});
      cur = 0;
    }
    shards.back().tensors.push_back(i);
    cur += plan[i].bytes();
  }
  char buf[64];
  for (size_t s = 0; s < shards.size(); ++s) {
    std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
    shards[s].file = buf;
  }
  return shards;
}

// The safetensors header: u64 little-endian length, then JSON padded with spaces to 8 bytes.
std::string shard_header(const std::vector<PlannedTensor>& plan, const Shard& shard) {
  json h = json::object();
  h["__metadata__"] = {{"format", "pt"}};
  uint64_t off = 0;
  for (size_t i : shard.tensors) {
    const PlannedTensor& t = plan[i];
    h[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes()}}};
    off += t.bytes();
  }
  std::string text = h.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  uint64_t n = text.size();
  for (int b = 0; b < 8; ++b) out[b] = char((n >> (8 * b)) & 0xFF);
  return out + text;
}

class Writer {
 public:
  Writer(const Options& opt, const std::vector<PlannedTensor>& plan)
      : opt_(opt), plan_(plan), buf_(kChunkBytes), start_(std::chrono::steady_clock::now()) {
    for (const auto& t : plan) total_bytes_ += t.bytes();
    threads_ = std::clamp(int(std::thread::hardware_concurrency()), 1, 8);
  }

  void write_shard(const Shard& shard, const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw SynthError("cannot write " + path + ": " + std::strerror(errno));
    try {
      const std::string header = shard_header(plan_, shard);
      write_all(fd, header.data(), header.size(), path);
      for (size_t i : shard.tensors) write_tensor(fd, plan_[i], path);
    } catch (...) {
      ::close(fd);
      throw;
    }
    if (::close(fd) != 0) throw SynthError("cannot write " + path + ": " + std::strerror(errno));
  }

  void report(bool final) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double mb = double(written_) / (1 << 20);
    std::fprintf(stderr, "mote-synth: %s%zu/%zu tensors, %.0f/%.0f MB, %.0f MB/s\n", final ? "done: " : "",
                 tensors_done_, plan_.size(), mb, double(total_bytes_) / (1 << 20), s > 0 ? mb / s : 0.0);
  }

 private:
  void write_all(int fd, const void* data, size_t n, const std::string& path) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t w = ::write(fd, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) throw SynthError("cannot write " + path + ": " + std::strerror(errno));
      p += w;
      n -= size_t(w);
    }
  }

  // Generates elements [begin, begin + count) into buf_, split across threads_.
  void fill(const PlannedTensor& t, uint64_t begin, uint64_t count) {
    const size_t es = dtype_size(t.dtype);
    const uint64_t per = (count + threads_ - 1) / threads_;
    if (threads_ == 1 || count < 65536) return fill_values(t.values, t.dtype, begin, count, buf_.data());
    std::vector<std::thread> pool;
    for (int k = 0; k < threads_; ++k) {
      const uint64_t b = std::min(count, per * k), e = std::min(count, per * (k + 1));
      if (b < e)
        pool.emplace_back([&, b, e] { fill_values(t.values, t.dtype, begin + b, e - b, buf_.data() + b * es); });
    }
    for (auto& th : pool) th.join();
  }

  void write_tensor(int fd, const PlannedTensor& t, const std::string& path) {
    const size_t es = dtype_size(t.dtype);
    const uint64_t n = t.elements(), step = kChunkBytes / es;
    for (uint64_t i = 0; i < n; i += step) {
      const uint64_t count = std::min(step, n - i);
      fill(t, i, count);
      write_all(fd, buf_.data(), count * es, path);
      written_ += count * es;
      maybe_report();
    }
    ++tensors_done_;
  }

  void maybe_report() {
    if (opt_.quiet) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_report_ < std::chrono::seconds(2)) return;
    last_report_ = now;
    report(false);
  }

  const Options& opt_;
  const std::vector<PlannedTensor>& plan_;
  std::vector<uint8_t> buf_;
  std::chrono::steady_clock::time_point start_, last_report_ = std::chrono::steady_clock::now();
  uint64_t total_bytes_ = 0, written_ = 0;
  size_t tensors_done_ = 0;
  int threads_ = 1;
};

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) throw SynthError("cannot write " + path);
}

}  // namespace

json read_config(const Options& opt) {
  std::ifstream f(opt.config_path, std::ios::binary);
  if (!f) throw SynthError("cannot read config " + opt.config_path);
  json c = json::parse(f, nullptr, false);
  if (c.is_discarded() || !c.is_object()) throw SynthError("bad config " + opt.config_path + ": not a JSON object");
  if (opt.layers >= 0) {
    c["num_hidden_layers"] = uint64_t(opt.layers);
    // Keep the shallow model meaningful: at least one MoE layer where the config has any.
    if (c.contains("first_k_dense_replace") && c["first_k_dense_replace"].is_number_integer() &&
        c["first_k_dense_replace"].get<int>() >= opt.layers && opt.layers > 1)
      c["first_k_dense_replace"] = uint64_t(opt.layers - 1);
    // Per-layer lists (gpt-oss layer_types) keep their first `layers` entries.
    if (c.contains("layer_types") && c["layer_types"].is_array() && c["layer_types"].size() > size_t(opt.layers))
      c["layer_types"].erase(c["layer_types"].begin() + opt.layers, c["layer_types"].end());
  }
  for (const auto& [key, text] : opt.overrides) {
    json v = json::parse(text, nullptr, false);
    c[key] = v.is_discarded() ? json(text) : v;
  }
  if (opt.fp8 && !c.contains("quantization_config"))
    c["quantization_config"] = {{"activation_scheme", "dynamic"}, {"fmt", "e4m3"},
                                {"quant_method", "fp8"}, {"weight_block_size", {128, 128}}};
  return c;
}

void synthesize(const Options& opt) {
  const json config = read_config(opt);
  const std::vector<PlannedTensor> plan = plan_tensors(config, opt);
  if (opt.dry_run) {
    uint64_t total = 0;
    for (const auto& t : plan) total += t.bytes();
    std::printf("%zu tensors, %llu bytes, %zu shards\n", plan.size(), (unsigned long long)total,
                assign_shards(plan, opt.shard_bytes).size());
    return;
  }
  std::error_code ec;
  fs::create_directories(opt.out_dir, ec);
  if (ec || !fs::is_directory(opt.out_dir))
    throw SynthError("cannot create output directory " + opt.out_dir + ": " + ec.message());
  const std::vector<Shard> shards = assign_shards(plan, opt.shard_bytes);
  const fs::path dir(opt.out_dir);
  auto tmp = [&](const std::string& f) { return (dir / (".synth-tmp-" + f)).string(); };
  std::vector<std::string> finals;
  try {
    Writer w(opt, plan);
    json map = json::object();
    uint64_t total = 0;
    for (const Shard& s : shards) {
      w.write_shard(s, tmp(s.file));
      finals.push_back(s.file);
      for (size_t i : s.tensors) map[plan[i].name] = s.file, total += plan[i].bytes();
    }
    const json index = {{"metadata", {{"total_size", total}}}, {"weight_map", map}};
    write_text(tmp("model.safetensors.index.json"), index.dump(2) + "\n");
    finals.push_back("model.safetensors.index.json");
    write_text(tmp("config.json"), config.dump(2) + "\n");
    finals.push_back("config.json");
    if (!opt.quiet) w.report(true);
  } catch (...) {
    for (const auto& f : finals) fs::remove(tmp(f), ec);
    for (const Shard& s : shards) fs::remove(tmp(s.file), ec);
    throw;
  }
  for (const auto& f : finals) {
    fs::rename(tmp(f), dir / f, ec);
    if (ec) throw SynthError("cannot rename " + tmp(f) + ": " + ec.message());
  }
}

}  // namespace mote::synth
