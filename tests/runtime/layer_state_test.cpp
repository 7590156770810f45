// Per-layer state plans (session/layer_state.h) from the real config.json files of
// tools/synth/configs (through the converter's config parser and HParams::from_config, as a
// converted model would give them), with byte totals computed by hand; and the ring rewind rule
// checked against a simulation of a ring's contents over random forwards and rewinds.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "hf/config.h"
#include "session/layer_state.h"

namespace mote {
namespace {

HParams real_config(const std::string& name) {
  const std::filesystem::path path =
      std::filesystem::path(MOTE_TEST_SOURCE_DIR) / ".." / "tools" / "synth" / "configs" / (name + ".json");
  const convert::HfConfig cfg = convert::parse_config(test::read_file_bytes(path), path.string());
  flatbuffers::FlatBufferBuilder b;
  b.Finish(convert::build_model_config(b, cfg, cfg.num_nextn_predict_layers));
  Result<HParams> hp = HParams::from_config(*flatbuffers::GetRoot<fb::ModelConfig>(b.GetBufferPointer()));
  EXPECT_TRUE(hp) << hp.status().to_string();
  return *hp;
}

LayerStatePlan plan(const HParams& hp, KvType type, int64_t context, int64_t batch, bool mtp, bool rings = true) {
  LayerStateOptions o;
  o.type = type;
  o.max_context = context;
  o.max_batch = batch;
  o.mtp = mtp;
  o.rings = rings;
  Result<LayerStatePlan> p = plan_layer_state(hp, o);
  EXPECT_TRUE(p) << p.status().to_string();
  return *p;
}

// Every descriptor: aligned, non-overlapping, in order, bytes = rows * row_bytes.
void expect_consistent(const LayerStatePlan& p) {
  int64_t end = 0;
  for (const LayerStateDesc& d : p.layers) {
    EXPECT_EQ(d.offset % kLayerStateAlign, 0);
    EXPECT_GE(d.offset, end);
    EXPECT_EQ(d.bytes, d.rows * d.row_bytes);
    end = d.offset + d.bytes;
  }
  EXPECT_GE(p.total_bytes, end);
  EXPECT_LT(p.total_bytes, end + kLayerStateAlign);
}

// gpt-oss-20b: 24 layers alternating sliding (window 128) and full, 8 kv heads of 64.
TEST(LayerState, GptOssAlternatingRings) {
  const HParams hp = real_config("gpt-oss-20b");
  ASSERT_EQ(hp.n_layers, 24);
  // f32 row: 2 * 8 * 64 * 4 = 4096 bytes; ring rows = 128 + 64 - 1 + 1 = 192.
  const LayerStatePlan f32 = plan(hp, KvType::kF32, 4096, 64, false);
  expect_consistent(f32);
  ASSERT_EQ(f32.layers.size(), 24u);
  for (const LayerStateDesc& d : f32.layers) {
    EXPECT_EQ(d.row_bytes, 4096);
    EXPECT_EQ(d.k_head_bytes, 256);
    EXPECT_EQ(d.v_offset, 8 * 256);
    if (d.layer % 2 == 0) {
      EXPECT_EQ(d.kind, LayerStateKind::kKvRing) << d.layer;
      EXPECT_EQ(d.window, 128);
      EXPECT_EQ(d.rows, 192);
    } else {
      EXPECT_EQ(d.kind, LayerStateKind::kKv) << d.layer;
      EXPECT_EQ(d.rows, 4096);
    }
  }
  const LayerStateBytes b = layer_state_bytes(f32);
  EXPECT_EQ(b.kv, 12LL * 4096 * 4096);     // 201,326,592
  EXPECT_EQ(b.kv_ring, 12LL * 192 * 4096);  // 9,437,184
  EXPECT_EQ(f32.total_bytes, 210763776);
  // Without rings every layer is full: 402,653,184 bytes.
  EXPECT_EQ(plan(hp, KvType::kF32, 4096, 64, false, false).total_bytes, 24LL * 4096 * 4096);
  // q8_0: a head of 64 is 2 blocks = 72 bytes; row = 16 * 72 = 1152.
  const LayerStatePlan q8 = plan(hp, KvType::kQ8_0, 4096, 64, false);
  expect_consistent(q8);
  EXPECT_EQ(q8.layers[0].row_bytes, 1152);
  EXPECT_EQ(q8.total_bytes, 12LL * 4096 * 1152 + 12LL * 192 * 1152);  // 59,277,312
  // A context shorter than the ring: full rows (row = position) everywhere.
  const LayerStatePlan short_ctx = plan(hp, KvType::kF16, 150, 64, false);
  for (const LayerStateDesc& d : short_ctx.layers) EXPECT_EQ(d.kind, LayerStateKind::kKv);
  EXPECT_EQ(short_ctx.total_bytes, 24LL * 150 * 2048);
}

// DeepSeek-V3: 61 MLA layers + 1 MTP layer, latent 512 + 64.
TEST(LayerState, DeepSeekV3Latents) {
  const HParams hp = real_config("deepseek-v3");
  ASSERT_EQ(hp.n_layers, 61);
  ASSERT_EQ(hp.n_mtp_layers, 1);
  const LayerStatePlan f16 = plan(hp, KvType::kF16, 4096, 512, true);
  expect_consistent(f16);
  ASSERT_EQ(f16.layers.size(), 62u);
  EXPECT_EQ(f16.layers.back().layer, 61);
  for (const LayerStateDesc& d : f16.layers) {
    EXPECT_EQ(d.kind, LayerStateKind::kMlaLatent);
    EXPECT_EQ(d.row_bytes, 1152);
    EXPECT_EQ(d.rows, 4096);
  }
  EXPECT_EQ(f16.total_bytes, 62LL * 4096 * 1152);  // 292,552,704
  EXPECT_EQ(layer_state_bytes(f16).mla_latent, 62LL * 4096 * 1152);
  EXPECT_EQ(plan(hp, KvType::kF32, 4096, 512, false).total_bytes, 61LL * 4096 * 2304);  // 575,668,224
  // q8_0: 18 blocks of 36 = 648 bytes a row. 1001 rows: 648,648 bytes, aligned to 648,704.
  const LayerStatePlan q8 = plan(hp, KvType::kQ8_0, 1001, 1, true);
  expect_consistent(q8);
  EXPECT_EQ(q8.layers[0].row_bytes, 648);
  EXPECT_EQ(q8.layers[1].offset, 648704);
  EXPECT_EQ(q8.total_bytes, 62LL * 648704);
}

// OLMoE-1B-7B: 16 layers, 16 kv heads of 128, no window.
TEST(LayerState, OlmoeFullKv) {
  const HParams hp = real_config("olmoe-1b-7b");
  const LayerStatePlan f32 = plan(hp, KvType::kF32, 4096, 32, true);  // no MTP layers: mtp adds nothing
  expect_consistent(f32);
  ASSERT_EQ(f32.layers.size(), 16u);
  EXPECT_EQ(f32.layers[3].row_bytes, 16384);
  EXPECT_EQ(f32.total_bytes, 1073741824);  // 16 * 4096 * 16384: 1 GiB
  const LayerStatePlan q8 = plan(hp, KvType::kQ8_0, 4096, 32, false);
  EXPECT_EQ(q8.layers[0].k_head_bytes, 144);
  EXPECT_EQ(q8.layers[0].v_offset, 16 * 144);
  EXPECT_EQ(q8.layers[0].row_bytes, 4608);
  EXPECT_EQ(q8.total_bytes, 301989888);  // 16 * 4096 * 4608
  const LayerStateBytes b = layer_state_bytes(q8);
  EXPECT_EQ(b.kv, q8.total_bytes);
  EXPECT_EQ(b.kv_ring + b.mla_latent + b.recurrent, 0);
}

// kv_read_bytes_at: what one decoded token reads (the `mote bench` KV roofline), by hand.
TEST(LayerState, KvReadBytesPerToken) {
  // gpt-oss-20b f16: row 2048 bytes; 12 sliding layers read min(p + 1, 128) rows, 12 full p + 1.
  const HParams gpt = real_config("gpt-oss-20b");
  for (bool rings : {true, false}) {  // a sliding layer reads its window whether or not it is a ring
    const LayerStatePlan f16 = plan(gpt, KvType::kF16, 4096, 64, false, rings);
    EXPECT_EQ(kv_read_bytes_at(f16, gpt, 0), 24LL * 2048);
    EXPECT_EQ(kv_read_bytes_at(f16, gpt, 99), 24LL * 100 * 2048);
    EXPECT_EQ(kv_read_bytes_at(f16, gpt, 4095), 12LL * 128 * 2048 + 12LL * 4096 * 2048);
  }
  EXPECT_EQ(kv_read_bytes_at(plan(gpt, KvType::kF16, 4096, 64, false), gpt, -1), 0);
  // DeepSeek-V3 with its MTP layer planned: only the 61 main layers count. f32 2304, f16 1152,
  // q8_0 648 bytes a row.
  const HParams ds = real_config("deepseek-v3");
  EXPECT_EQ(kv_read_bytes_at(plan(ds, KvType::kF32, 4096, 512, true), ds, 511), 61LL * 512 * 2304);
  EXPECT_EQ(kv_read_bytes_at(plan(ds, KvType::kF16, 4096, 512, true), ds, 511), 61LL * 512 * 1152);
  EXPECT_EQ(kv_read_bytes_at(plan(ds, KvType::kQ8_0, 4096, 512, false), ds, 511), 61LL * 512 * 648);
  // OLMoE q8_0: 16 layers of 4608-byte rows.
  const HParams olmoe = real_config("olmoe-1b-7b");
  EXPECT_EQ(kv_read_bytes_at(plan(olmoe, KvType::kQ8_0, 4096, 32, false), olmoe, 4095), 16LL * 4096 * 4608);
}

TEST(LayerState, RejectsBadOptions) {
  const HParams hp = real_config("olmoe-1b-7b");
  LayerStateOptions o;
  o.max_context = 0;
  o.max_batch = 1;
  EXPECT_FALSE(plan_layer_state(hp, o));
  o.max_context = 10;
  o.max_batch = 0;
  EXPECT_FALSE(plan_layer_state(hp, o));
}

TEST(LayerState, FullKindsRewindAnywhere) {
  LayerStateDesc d;
  for (LayerStateKind k : {LayerStateKind::kKv, LayerStateKind::kMlaLatent}) {
    d.kind = k;
    d.rows = 100;
    EXPECT_TRUE(can_rewind(d, 90, 0));
    EXPECT_TRUE(can_rewind(d, 90, 45));
    EXPECT_TRUE(can_rewind(d, 90, 90));
    EXPECT_FALSE(can_rewind(d, 90, 91));
    EXPECT_FALSE(can_rewind(d, 90, -1));
  }
  d.kind = LayerStateKind::kRecurrent;
  EXPECT_TRUE(can_rewind(d, 90, 90));
  EXPECT_FALSE(can_rewind(d, 90, 89));
}

// The exact ring rule at the boundary: R = 10, w = 4, position 50: 50 - to <= R - w + 1 = 7.
TEST(LayerState, RingRewindBoundary) {
  LayerStateDesc d;
  d.kind = LayerStateKind::kKvRing;
  d.rows = 10;
  d.window = 4;
  EXPECT_TRUE(can_rewind(d, 50, 43));
  EXPECT_FALSE(can_rewind(d, 50, 42));
  EXPECT_TRUE(can_rewind(d, 50, 0));
  EXPECT_TRUE(can_rewind(d, 5, 2));       // nothing evicted yet
  EXPECT_FALSE(can_rewind(d, 50, 43, 42 + 1));  // rows from 43 on current: 43 needs 40 .. 42
  EXPECT_TRUE(can_rewind(d, 50, 46, 43));
}

// Simulation: a ring of R rows remembers which position each row holds. Random forwards of 1 ..
// max_batch tokens (each must find every key its tokens need: checks the ring size) and random
// rewinds, some after earlier rewinds; RewindTracker::restart_from must allow exactly the
// rewinds after which the token at `to` would find its keys.
TEST(LayerState, RingRewindMatchesSimulation) {
  std::mt19937 rng(11);
  int64_t rewinds_ok = 0, rewinds_refused = 0, ok_after_rewind = 0;
  for (int64_t window : {1, 2, 5, 16})
    for (int64_t max_batch : {1, 3, 8})
      for (int64_t slack : {0, 1, 4}) {
        LayerStateDesc d;
        d.kind = LayerStateKind::kKvRing;
        d.window = window;
        d.rows = window + max_batch - 1 + slack;
        LayerStatePlan plan;
        plan.layers = {d};
        RewindTracker tracker(plan);
        std::vector<int64_t> label(size_t(d.rows), -1);
        int64_t position = 0;
        bool rewound = false;  // since the last start from 0
        auto forward = [&](int64_t n) {
          for (int64_t p = position; p < position + n; ++p) label[size_t(p % d.rows)] = p;
          for (int64_t p = position; p < position + n; ++p)
            for (int64_t k = std::max<int64_t>(0, p - window + 1); k <= p; ++k)
              ASSERT_EQ(label[size_t(k % d.rows)], k) << "ring too small: w" << window << " batch " << n;
          tracker.forwarded(plan, position, n);
          position += n;
        };
        for (int step = 0; step < 600; ++step) {
          if (rng() % 3 != 0 || position == 0) {
            forward(1 + int64_t(rng() % uint32_t(max_batch)));
            continue;
          }
          const int64_t back = rng() % 2 ? 1 + int64_t(rng() % uint32_t(max_batch + slack + 1))
                                         : int64_t(rng() % uint32_t(position + 1));
          const int64_t to = std::max<int64_t>(0, position - back);
          bool truth = true;
          for (int64_t k = std::max<int64_t>(0, to - window + 1); k < to; ++k)
            truth = truth && label[size_t(k % d.rows)] == k;
          ASSERT_EQ(tracker.restart_from(plan, position, to), truth ? to : 0)
              << "w" << window << " R" << d.rows << " position " << position << " to " << to << " floor "
              << tracker.floor(0);
          if (!rewound) {
            ASSERT_EQ(can_rewind(d, position, to), truth) << "no-history overload";
          }
          if (truth) {
            ++rewinds_ok;
            ok_after_rewind += rewound;
            position = to;
            tracker.rewound(to);
            rewound = true;
          } else {  // re-evaluate from 0 up to `to`
            ++rewinds_refused;
            std::fill(label.begin(), label.end(), -1);
            position = 0;
            tracker.rewound(0);
            rewound = false;
            while (position < to) forward(std::min<int64_t>(max_batch, to - position));
          }
        }
        // Right after a forward of max_batch tokens with no rewind before, rolling back
        // max_batch + slack is possible.
        forward(max_batch);
        if (!rewound && position >= max_batch + slack) {
          EXPECT_TRUE(can_rewind(d, position, position - max_batch - slack));
        }
      }
  EXPECT_GT(rewinds_ok, 100);
  EXPECT_GT(rewinds_refused, 100);
  EXPECT_GT(ok_after_rewind, 50);
}

// A plan's tracker: full layers never restrict, ring layers do (gpt-oss).
TEST(LayerState, TrackerOverARealPlan) {
  const HParams hp = real_config("gpt-oss-20b");
  const LayerStatePlan p = plan(hp, KvType::kF16, 4096, 8, false);  // ring rows 128 + 8 - 1 + 1 = 136
  RewindTracker tracker(p);
  for (int64_t pos = 0; pos < 1000; pos += 8) tracker.forwarded(p, pos, 8);
  EXPECT_EQ(tracker.floor(0), 1000 - 136);
  EXPECT_EQ(tracker.floor(1), 0);
  EXPECT_EQ(tracker.restart_from(p, 1000, 991), 991);  // 991 - 127 = 864 = floor
  EXPECT_EQ(tracker.restart_from(p, 1000, 990), 0);
  EXPECT_EQ(tracker.restart_from(p, 1000, 1000), 1000);
}

}  // namespace
}  // namespace mote

namespace mote {
namespace {

// The README's "KV cache precision" bytes: every type at 4k context, batch 64 (the session
// default), without MTP, on the real widths; gpt-oss also without rings. Checks the f16 halving.
TEST(LayerStatePlanTable, FourKContextBytesPerType) {
  const std::filesystem::path demo = std::filesystem::path(MOTE_TEST_SOURCE_DIR) / ".." / "samples" / "models" /
                                     "mote-demo" / "config.json";
  for (const std::string name : {"mote-demo", "olmoe-1b-7b", "deepseek-v3", "gpt-oss-20b"}) {
    HParams hp;
    if (name == "mote-demo") {
      const convert::HfConfig cfg = convert::parse_config(test::read_file_bytes(demo), demo.string());
      flatbuffers::FlatBufferBuilder b;
      b.Finish(convert::build_model_config(b, cfg, cfg.num_nextn_predict_layers));
      hp = *HParams::from_config(*flatbuffers::GetRoot<fb::ModelConfig>(b.GetBufferPointer()));
    } else {
      hp = real_config(name);
    }
    int64_t f32 = 0;
    for (KvType type : {KvType::kF32, KvType::kF16, KvType::kQ8_0}) {
      const int64_t with_rings = plan(hp, type, 4096, 64, false).total_bytes;
      const int64_t no_rings = plan(hp, type, 4096, 64, false, false).total_bytes;
      if (type == KvType::kF32) f32 = with_rings;
      if (type == KvType::kF16) {
        EXPECT_NEAR(double(with_rings) * 2, double(f32), 64.0 * 2 * double(hp.n_layers));
      }
      std::printf("note: %-12s %-5s 4k ctx: %12lld bytes (%.1f MiB); without rings %12lld (%.1f MiB)\n", name.c_str(),
                  kv_type_name(type), (long long)with_rings, double(with_rings) / 1048576.0, (long long)no_rings,
                  double(no_rings) / 1048576.0);
    }
  }
}

}  // namespace
}  // namespace mote
