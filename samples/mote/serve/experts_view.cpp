#include "experts_view.h"

#include <charconv>
#include <cstdio>
#include <vector>

namespace mote::serve {
namespace {

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_int(std::string& out, int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_double(std::string& out, double v) {
  if (!(v == v) || v > 1e300 || v < -1e300) v = 0;  // JSON has no NaN or Inf
  char buf[48];
  const int n = std::snprintf(buf, sizeof buf, "%.3f", v);
  out.append(buf, size_t(n > 0 ? n : 0));
}

// A JSON string of an ASCII-safe message (control characters and non-ASCII bytes escaped).
void append_string(std::string& out, const char* s) {
  out += '"';
  for (const unsigned char* p = reinterpret_cast<const unsigned char*>(s); *p; ++p) {
    if (*p == '"' || *p == '\\') {
      out += '\\';
      out += char(*p);
    } else if (*p < 0x20 || *p >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(*p));
      out += buf;
    } else {
      out += char(*p);
    }
  }
  out += '"';
}

std::string error_json(const char* what) {
  std::string out = "{\"error\":{\"message\":";
  std::string msg = what;
  const char* last = mote_last_error();
  if (last != nullptr && *last) msg += std::string(": ") + last;
  append_string(out, msg.c_str());
  out += ",\"type\":\"server_error\"}}";
  return out;
}

}  // namespace

std::string experts_view_json(const mote_model* model) {
  if (model == nullptr) return error_json("experts view: no model");
  mote_model_info info{};
  if (mote_model_get_info(model, &info) != MOTE_OK) return error_json("mote_model_get_info");
  mote_expert_stats st{};
  if (mote_model_get_expert_stats(model, &st) != MOTE_OK) return error_json("mote_model_get_expert_stats");
  int32_t n_layers = 0, n_experts = 0;
  size_t count = 0;
  std::vector<mote_expert_entry> map;
  // The geometry never changes after open, so the second call fits unless the first said 0.
  mote_status rc = mote_model_get_expert_map(model, &n_layers, &n_experts, nullptr, 0, &count);
  if (rc != MOTE_OK && rc != MOTE_ERR_BUFFER_TOO_SMALL) return error_json("mote_model_get_expert_map");
  if (count > 0) {
    map.resize(count);
    if (mote_model_get_expert_map(model, &n_layers, &n_experts, map.data(), map.size(), &count) != MOTE_OK)
      return error_json("mote_model_get_expert_map");
  }
  std::string out;
  out.reserve(256 + count * 8);
  out += "{\"n_layers\":";
  append_int(out, n_layers);
  out += ",\"n_experts\":";
  append_int(out, n_experts);
  out += ",\"top_k\":";
  append_int(out, info.n_experts_per_tok);
  out += ",\"model_layers\":";
  append_int(out, info.n_layers);
  out += ",\"layers\":[";
  for (int32_t r = 0; r < n_layers; ++r) {
    const mote_expert_entry* row = map.data() + size_t(r) * size_t(n_experts);
    if (r > 0) out += ',';
    out += "{\"layer\":";
    append_int(out, row[0].layer);
    out += ",\"uses\":[";
    for (int32_t e = 0; e < n_experts; ++e) {
      if (e > 0) out += ',';
      append_uint(out, row[e].uses);
    }
    out += "],\"resident\":[";
    for (int32_t e = 0; e < n_experts; ++e) {
      if (e > 0) out += ',';
      out += row[e].resident ? '1' : '0';
    }
    out += "],\"pinned\":[";
    for (int32_t e = 0; e < n_experts; ++e) {
      if (e > 0) out += ',';
      out += row[e].pinned ? '1' : '0';
    }
    out += "]}";
  }
  out += "],\"stats\":{\"accesses\":";
  append_uint(out, st.accesses);
  out += ",\"hits\":";
  append_uint(out, st.hits);
  out += ",\"misses\":";
  append_uint(out, st.misses);
  out += ",\"prefetch_hits\":";
  append_uint(out, st.prefetch_hits);
  out += ",\"prefetch_reads\":";
  append_uint(out, st.prefetch_reads);
  out += ",\"evictions\":";
  append_uint(out, st.evictions);
  out += ",\"bytes_read\":";
  append_uint(out, st.bytes_read);
  out += ",\"io_stall_ms\":";
  append_double(out, st.io_stall_ms);
  out += ",\"budget_bytes\":";
  append_uint(out, st.budget_bytes);
  out += ",\"slot_count\":";
  append_int(out, st.slot_count);
  out += ",\"slot_bytes\":";
  append_uint(out, st.slot_bytes);
  out += ",\"hot_slots\":";
  append_int(out, st.hot_slots);
  out += ",\"total_bytes\":";
  append_uint(out, st.total_bytes);
  out += "}}";
  return out;
}

}  // namespace mote::serve
