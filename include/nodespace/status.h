// Status and Result<T>: how every expected failure in NodeSpace is reported.
//
// Errors are values, never exceptions across the public API. A message names
// the thing that went wrong and, where there is one, the fix:
//   "node 'abc' not found", "parent 'x' would become its own ancestor".
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace nodespace {

struct Node;

enum class StatusCode : uint8_t {
  kOk = 0,
  kNotFound,           // the named node, edge or file does not exist
  kAlreadyExists,      // a node with that id exists
  kInvalidArgument,    // the caller's input is malformed or breaks an invariant
  kConflict,           // optimistic concurrency: the caller's version is stale
  kCorruption,         // stored data failed a check
  kIOError,            // the operating system or SQLite failed to read/write
  kBusy,               // the database is locked by another writer for too long
  kNotSupported,       // e.g. a database written by a newer version
  kResourceExhausted,  // disk full, size limit reached
  kInternal,           // a bug: an invariant of our own was broken
};

// Short lower-case name of a code, e.g. "not_found"; stable, used in JSON.
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;

  static Status OK() { return Status(); }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) {
    return {StatusCode::kAlreadyExists, std::move(msg)};
  }
  static Status InvalidArgument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  // A conflict carries the node as it is now, so the caller can merge and retry.
  static Status Conflict(std::string msg, std::shared_ptr<const Node> current);
  static Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status IOError(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
  static Status Busy(std::string msg) { return {StatusCode::kBusy, std::move(msg)}; }
  static Status NotSupported(std::string msg) {
    return {StatusCode::kNotSupported, std::move(msg)};
  }
  static Status ResourceExhausted(std::string msg) {
    return {StatusCode::kResourceExhausted, std::move(msg)};
  }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsConflict() const { return code_ == StatusCode::kConflict; }
  bool IsInvalidArgument() const { return code_ == StatusCode::kInvalidArgument; }
  bool IsAlreadyExists() const { return code_ == StatusCode::kAlreadyExists; }

  // For kConflict: the node as currently stored. Null otherwise.
  const std::shared_ptr<const Node>& current_node() const { return current_node_; }

  // "not_found: node 'x' not found"
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(const std::string& context) const;

 private:
  Status(StatusCode code, std::string msg) : code_(code), message_(std::move(msg)) {}

  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::shared_ptr<const Node> current_node_;
};

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (status_.ok()) status_ = Status::Internal("Result constructed from an OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace nodespace

// Internal convenience: return early on a failed Status.
#define NS_RETURN_IF_ERROR(expr)         \
  do {                                   \
    ::nodespace::Status _ns_st = (expr); \
    if (!_ns_st.ok()) return _ns_st;     \
  } while (0)

#define NS_CONCAT_INNER(a, b) a##b
#define NS_CONCAT(a, b) NS_CONCAT_INNER(a, b)
#define NS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
// NS_ASSIGN_OR_RETURN(auto node, db.Get(id));
#define NS_ASSIGN_OR_RETURN(lhs, expr) \
  NS_ASSIGN_OR_RETURN_IMPL(NS_CONCAT(_ns_result_, __LINE__), lhs, expr)
