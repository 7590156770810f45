// The web page of `mote serve` (samples/mote/serve/web), compiled into the binary: the files are
// turned into byte arrays at build time (cmake/embed_web_assets.cmake; target mote_web_assets).
#pragma once

#include <string_view>

namespace mote::serve {

struct WebAsset {
  std::string_view path;  // "/index.html", "/app.js", "/style.css"
  std::string_view mime;  // "text/html", "application/javascript", "text/css"
  std::string_view body;  // the file's bytes, exactly
};

// The asset served at url_path ("/" and "" give /index.html; a query or fragment is ignored), or
// nullptr. A lookup in a fixed table: no path reaches anything but the embedded files. The
// returned pointer lives as long as the program.
const WebAsset* find_web_asset(std::string_view url_path);

}  // namespace mote::serve
