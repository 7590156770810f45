// libFuzzer target: config.json parsing (converter/hf/config*.cpp).
//
// The input is config.json text. parse_config validates it (ConvertError is its documented
// rejection) and, when it accepts, build_model_config serialises it as the converter does, and the
// per-layer query is asked for every layer up to a cap (the value is from the file, so the cap
// keeps one input from looping for 2^32 layers in the harness itself).
#include <algorithm>

#include <flatbuffers/flatbuffers.h>

#include "hf/config.h"
#include "hf/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const mote::convert::HfConfig config = mote::convert::parse_config(text, "fuzz/config.json");
    flatbuffers::FlatBufferBuilder b;
    b.Finish(mote::convert::build_model_config(b, config, config.num_nextn_predict_layers));
    const uint32_t layers = std::min<uint32_t>(config.num_hidden_layers + config.num_nextn_predict_layers, 4096);
    for (uint32_t l = 0; l < layers; ++l) (void)config.is_moe_layer(l);
  } catch (const mote::convert::ConvertError&) {
  }
  return 0;
}
