// Error reporting inside the converter (a host tool): every failure throws ConvertError with a
// one-line message that names the file, tensor or field at fault. main() catches it, prints
// "mote-convert: error: <message>" and exits with status 1. Stack unwinding releases every
// resource (file descriptors, the writer's temporary file).
#pragma once

#include <stdexcept>
#include <string>

namespace mote::convert {

class ConvertError : public std::runtime_error {
 public:
  explicit ConvertError(const std::string& message) : std::runtime_error(message) {}
};

[[noreturn]] inline void fail(const std::string& message) { throw ConvertError(message); }

// "[a,b,c]" for messages.
template <typename Vec>
std::string shape_string(const Vec& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s.push_back(',');
    s.append(std::to_string(shape[i]));
  }
  s.push_back(']');
  return s;
}

}  // namespace mote::convert
