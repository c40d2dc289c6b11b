#include "nodespace/status.h"

#include "nodespace/change.h"
#include "nodespace/node.h"

namespace nodespace {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kAlreadyExists:
      return "already_exists";
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kConflict:
      return "conflict";
    case StatusCode::kCorruption:
      return "corruption";
    case StatusCode::kIOError:
      return "io_error";
    case StatusCode::kBusy:
      return "busy";
    case StatusCode::kNotSupported:
      return "not_supported";
    case StatusCode::kResourceExhausted:
      return "resource_exhausted";
    case StatusCode::kInternal:
      return "internal";
  }
  return "unknown";
}

Status Status::Conflict(std::string msg, std::shared_ptr<const Node> current) {
  Status st(StatusCode::kConflict, std::move(msg));
  st.current_node_ = std::move(current);
  return st;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(StatusCodeName(code_)) + ": " + message_;
}

Status Status::WithContext(const std::string& context) const {
  if (ok()) return *this;
  Status st = *this;
  st.message_ = context + ": " + message_;
  return st;
}

const char* LifecycleName(Lifecycle lifecycle) {
  switch (lifecycle) {
    case Lifecycle::kActive:
      return "active";
    case Lifecycle::kArchived:
      return "archived";
    case Lifecycle::kDeleted:
      return "deleted";
  }
  return "active";
}

std::optional<Lifecycle> ParseLifecycle(const std::string& name) {
  if (name == "active") return Lifecycle::kActive;
  if (name == "archived") return Lifecycle::kArchived;
  if (name == "deleted") return Lifecycle::kDeleted;
  return std::nullopt;
}

const char* ChangeOpName(ChangeOp op) {
  switch (op) {
    case ChangeOp::kCreate:
      return "create";
    case ChangeOp::kUpdate:
      return "update";
    case ChangeOp::kMove:
      return "move";
    case ChangeOp::kDelete:
      return "delete";
    case ChangeOp::kEdgeAdd:
      return "edge_add";
    case ChangeOp::kEdgeRemove:
      return "edge_remove";
  }
  return "unknown";
}

}  // namespace nodespace
