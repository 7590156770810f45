// Status and Result<T>: the one error type of the runtime. No exception crosses a runtime API;
// every fallible call returns a Status (or a Result<T> holding a value or a Status).
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace mote {

// Grouped by range so a caller can test the class of an error with a comparison.
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,   // bad flag, bad id, bad shape given by the caller
  kNotFound = 2,          // missing file or tensor
  kIoError = 3,           // open/read/write/mmap failed, truncated file
  kCorruptFile = 4,       // a .mote file fails verification (header, FlatBuffer, bounds, checksum)
  kUnsupported = 5,       // architecture, weight type or feature mote does not handle
  kOutOfMemory = 6,
  kOutOfRange = 7,        // context length or capacity exceeded
  kCancelled = 8,
  kInternal = 9,
  // 10 is the C API's MOTE_ERR_BUFFER_TOO_SMALL (no runtime counterpart).
  kNonFinite = 11,        // NaN or Inf where a finite number is required (logits to sample from)
};

const char* status_code_name(StatusCode code);

// A code plus a one-line, human-readable message that names the file, tensor or field at fault.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "corrupt file: <message>"
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status io_error(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status corrupt_file(std::string m) { return {StatusCode::kCorruptFile, std::move(m)}; }
inline Status unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
inline Status out_of_range(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status non_finite(std::string m) { return {StatusCode::kNonFinite, std::move(m)}; }

// Holds either a T or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).is_ok()); }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace mote

#define MOTE_RETURN_IF_ERROR(expr)            \
  do {                                        \
    ::mote::Status mote_status_ = (expr);     \
    if (!mote_status_.is_ok()) return mote_status_; \
  } while (0)

#define MOTE_CONCAT_INNER(a, b) a##b
#define MOTE_CONCAT(a, b) MOTE_CONCAT_INNER(a, b)
// MOTE_ASSIGN_OR_RETURN(auto x, make_x()); returns the Status from the enclosing function on error.
#define MOTE_ASSIGN_OR_RETURN(lhs, expr)                                   \
  auto MOTE_CONCAT(mote_result_, __LINE__) = (expr);                       \
  if (!MOTE_CONCAT(mote_result_, __LINE__).is_ok())                        \
    return MOTE_CONCAT(mote_result_, __LINE__).status();                   \
  lhs = std::move(MOTE_CONCAT(mote_result_, __LINE__)).value()
