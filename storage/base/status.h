#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace siteledger {

// The fixed set of error codes. The HTTP layer maps each onto one status in
// one function; nothing else may invent codes.
enum class StatusCode : uint8_t {
  kOk = 0,
  kNotFound,
  kInvalidArgument,
  kConflict,
  kPreconditionFailed,
  kPermissionDenied,
  kUnauthenticated,
  kTooLarge,
  kUnsupported,
  kRateLimited,
  kQuotaExceeded,
  kUnavailable,
  kCorruption,
  kIOError,
  kInternal,
};

// "OK", "NotFound", ...: the enumerator without its k; "Unknown" for a value
// outside the enum. Never fails; any thread.
std::string_view StatusCodeName(StatusCode code);

// Status is the outcome of an operation: OK, or a code with a message meant
// for the person who has to act on it. A Conflict may carry the version the
// caller should have expected (`actual_version`). A plain value: const
// methods may run on any number of threads at once; a Status being changed
// must not be read elsewhere meanwhile.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status NotFound(std::string m) {
    return {StatusCode::kNotFound, std::move(m)};
  }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status Conflict(std::string m, uint64_t actual_version = 0) {
    Status s(StatusCode::kConflict, std::move(m));
    s.actual_version_ = actual_version;
    return s;
  }
  static Status PreconditionFailed(std::string m) {
    return {StatusCode::kPreconditionFailed, std::move(m)};
  }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status Unauthenticated(std::string m) {
    return {StatusCode::kUnauthenticated, std::move(m)};
  }
  static Status TooLarge(std::string m) {
    return {StatusCode::kTooLarge, std::move(m)};
  }
  static Status Unsupported(std::string m) {
    return {StatusCode::kUnsupported, std::move(m)};
  }
  static Status RateLimited(std::string m) {
    return {StatusCode::kRateLimited, std::move(m)};
  }
  static Status QuotaExceeded(std::string m) {
    return {StatusCode::kQuotaExceeded, std::move(m)};
  }
  static Status Unavailable(std::string m) {
    return {StatusCode::kUnavailable, std::move(m)};
  }
  static Status Corruption(std::string m) {
    return {StatusCode::kCorruption, std::move(m)};
  }
  static Status IOError(std::string m) {
    return {StatusCode::kIOError, std::move(m)};
  }
  static Status Internal(std::string m) {
    return {StatusCode::kInternal, std::move(m)};
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // For Conflict from an append: the stream's version at the time.
  uint64_t actual_version() const { return actual_version_; }

  // "NotFound: tenant 7 has no events", or "OK". Never fails.
  std::string ToString() const;

  // Prefixes the message with `context` ("context: message"), keeping code
  // and version. An OK status comes back unchanged. Never fails.
  Status WithContext(std::string_view context) const;

  // Drops an error on purpose; the caller says why in a comment.
  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  uint64_t actual_version_ = 0;
};

// A value or the Status that explains its absence.
template <typename T>
using Result = std::expected<T, Status>;

// Shorthand for returning an error from a function that returns Result<T>.
// REQUIRES: !s.ok() (an OK status in a Result would read as an error).
inline std::unexpected<Status> Err(Status s) {
  return std::unexpected<Status>(std::move(s));
}

}  // namespace siteledger

// Returns early with the Status if `expr` (a Status) is not OK.
#define SL_RETURN_IF_ERROR(expr)              \
  do {                                        \
    ::siteledger::Status sl_status_ = (expr); \
    if (!sl_status_.ok()) return sl_status_;  \
  } while (0)

// Like SL_RETURN_IF_ERROR, inside a function that returns Result<T>.
#define SL_RETURN_ERR_IF_ERROR(expr)                            \
  do {                                                          \
    ::siteledger::Status sl_status_ = (expr);                   \
    if (!sl_status_.ok()) return ::siteledger::Err(sl_status_); \
  } while (0)
