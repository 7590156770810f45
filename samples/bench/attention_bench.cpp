// mote-bench-attention: attention decode (one query token) at a long context over f32, f16 and
// q8_0 rows (kernels/attention.h), for every fast kernel table this CPU runs, 1 thread and all
// threads. Reports microseconds per call and GB/s of K/V bytes read (each key and value row read
// once per call: GQA K + V pieces of every kv head; MLA the latent row once). To measure memory
// rather than cache, each call uses the next of several layers' caches (together > 256 MiB for
// f32 at the default context).
//
//   mote-bench-attention [--context N] [--layers N] [--iters N]
//
// Shapes: OLMoE (16 heads, 16 kv heads, head_dim 128) and DeepSeek-V3 MLA (128 heads, one latent
// row of kv_lora 512 + dr 64, value 512). Rows hold pseudo-random values; the speed of these
// kernels does not depend on them.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/kernels.h"
#include "kernels/kv_rows.h"

namespace {

using mote::KvType;
using mote::kernels::AttentionArgs;

struct Shape {
  const char* name;
  int64_t nh, nkv, dk, dv;
  bool mla;
};

struct Layer {
  std::vector<float> f32;
  std::vector<uint8_t> bytes;
};

// Seconds per call of `fn` over `layers` caches, best of 3 rounds of `iters` calls.
double time_calls(mote::kernels::AttentionFn fn, std::vector<AttentionArgs>& args, int iters) {
  double best = 1e30;
  for (int round = 0; round < 3; ++round) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) fn(args[size_t(i) % args.size()]);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
    best = std::min(best, s);
  }
  return best;
}

void run_shape(const Shape& sh, int64_t context, int layers, int iters) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int64_t dk_a = sh.mla ? 512 : sh.dk;
  std::vector<float> q(size_t(sh.nh * dk_a)), q2(size_t(sh.nh * 64)), out(size_t(sh.nh * sh.dv));
  for (float& x : q) x = u(rng);
  for (float& x : q2) x = u(rng);
  std::vector<float> work(size_t(mote::kernels::attention_workspace_floats(1, sh.nh, sh.dv)));
  for (KvType type : {KvType::kF32, KvType::kF16, KvType::kQ8_0}) {
    const int64_t kpiece = mote::kv_piece_bytes(type, sh.dk), vpiece = sh.mla ? 0 : mote::kv_piece_bytes(type, sh.dv);
    const int64_t row_b = sh.mla ? kpiece : sh.nkv * (kpiece + vpiece);
    const int64_t row_f = sh.mla ? sh.dk : sh.nkv * (sh.dk + sh.dv);
    std::vector<Layer> cache(static_cast<size_t>(layers));
    std::vector<float> src(static_cast<size_t>(row_f));
    for (Layer& l : cache) {
      if (type == KvType::kF32) {
        l.f32.resize(size_t(context * row_f));
        for (float& x : l.f32) x = u(rng);
      } else {
        l.bytes.resize(size_t(context * row_b));
        for (int64_t r = 0; r < context; ++r) {
          for (float& x : src) x = u(rng);
          if (sh.mla) {
            mote::kernels::store_kv_piece(type, src.data(), sh.dk, l.bytes.data() + r * row_b);
          } else {
            for (int64_t g = 0; g < sh.nkv; ++g) {
              mote::kernels::store_kv_piece(type, src.data() + g * sh.dk, sh.dk, l.bytes.data() + r * row_b + g * kpiece);
              mote::kernels::store_kv_piece(type, src.data() + sh.nkv * sh.dk + g * sh.dv, sh.dv,
                                            l.bytes.data() + r * row_b + sh.nkv * kpiece + g * vpiece);
            }
          }
        }
      }
    }
    std::vector<AttentionArgs> args;
    for (Layer& l : cache) {
      AttentionArgs a;
      a.n_tokens = 1;
      a.start = context - 1;
      a.n_heads = sh.nh;
      a.n_kv_heads = sh.nkv;
      a.dk = sh.dk;
      a.dv = sh.dv;
      a.scale = 1.0f / std::sqrt(float(sh.dk));
      a.q = q.data();
      a.q_head_stride = dk_a;
      if (sh.mla) {
        a.q2 = q2.data();
        a.dk_a = dk_a;
        a.q2_head_stride = 64;
      }
      if (type == KvType::kF32) {
        a.k = l.f32.data();
        a.k_row_stride = row_f;
        a.k_head_stride = sh.mla ? 0 : sh.dk;
        a.v = sh.mla ? l.f32.data() : l.f32.data() + sh.nkv * sh.dk;
        a.v_row_stride = row_f;
        a.v_head_stride = sh.mla ? 0 : sh.dv;
      } else {
        a.kv_type = type;
        a.k_bytes = l.bytes.data();
        a.k_row_bytes = row_b;
        a.k_head_bytes = sh.mla ? 0 : kpiece;
        a.v_bytes = sh.mla ? l.bytes.data() : l.bytes.data() + sh.nkv * kpiece;
        a.v_row_bytes = row_b;
        a.v_head_bytes = sh.mla ? 0 : vpiece;
      }
      a.out = out.data();
      a.out_head_stride = sh.dv;
      a.out_token_stride = sh.nh * sh.dv;
      a.work = work.data();
      a.work_floats = int64_t(work.size());
      args.push_back(a);
    }
    const double bytes = double(context) * double(row_b);
    for (const char* table : {"reference", "avx2", "avx512", "neon"}) {
      const mote::kernels::AttentionFn fn = mote::kernels::find_attention(table);
      if (fn == nullptr) continue;
      for (int threads : {1, 0}) {
        if (std::strcmp(table, "reference") == 0 && threads == 0) continue;  // the reference is single-threaded
        mote::kernels::set_num_threads(threads);
        const int n = std::strcmp(table, "reference") == 0 ? std::max(1, iters / 20) : iters;
        const double s = time_calls(fn, args, n);
        std::printf("%-8s %-5s %-9s threads %-3s %9.1f us  %7.2f GB/s of K/V rows (%.1f MiB per layer)\n", sh.name,
                    mote::kv_type_name(type), table, threads == 0 ? "all" : "1", s * 1e6, bytes / s * 1e-9,
                    bytes / 1048576.0);
      }
    }
  }
  mote::kernels::set_num_threads(0);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t context = 4096;
  int layers = 8, iters = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--context") == 0) context = std::max<int64_t>(1, std::atoll(argv[i + 1]));
    if (std::strcmp(argv[i], "--layers") == 0) layers = std::max(1, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--iters") == 0) iters = std::max(1, std::atoi(argv[i + 1]));
  }
  std::printf("attention decode at context %lld, %d layers' caches in rotation\n", (long long)context, layers);
  run_shape({"olmoe", 16, 16, 128, 128, false}, context, layers, iters);
  run_shape({"dsv3-mla", 128, 1, 576, 512, true}, context, layers, iters);
  return 0;
}
