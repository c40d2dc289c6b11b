#include "server/api_error.h"

#include "io/node_json.h"
#include "nodespace/node.h"

namespace nodespace::server {

nlohmann::json ApiError::ToJson(const std::string& request_id) const {
  nlohmann::json d = details;
  if (!request_id.empty()) d["request_id"] = request_id;
  const std::string text =
      internal ? "internal error; the server log has the details under this request id" : message;
  return {{"error", {{"code", code}, {"message", text}, {"details", d}}}};
}

ApiError ErrorFromStatus(const Status& status, bool parse_error) {
  ApiError e;
  e.message = status.message();
  e.code = StatusCodeName(status.code());
  switch (status.code()) {
    case StatusCode::kOk:
      e.http_status = 200;
      break;
    case StatusCode::kNotFound:
      e.http_status = 404;
      break;
    case StatusCode::kAlreadyExists:
      e.http_status = 409;
      break;
    case StatusCode::kConflict:
      e.http_status = 409;
      if (status.current_node() != nullptr) {
        e.details["current"] = io::NodeToJson(*status.current_node(), false);
      }
      break;
    case StatusCode::kInvalidArgument:
      e.http_status = parse_error ? 400 : 422;
      break;
    case StatusCode::kNotSupported:
      e.http_status = 422;
      break;
    case StatusCode::kBusy:
      e.http_status = 503;
      break;
    case StatusCode::kResourceExhausted:
      e.http_status = 507;
      e.code = "insufficient_storage";
      break;
    case StatusCode::kCorruption:
    case StatusCode::kIOError:
    case StatusCode::kInternal:
      e.http_status = 500;
      e.internal = true;
      break;
  }
  if (status.code() == StatusCode::kInvalidArgument &&
      status.message().rfind("query timed out", 0) == 0) {
    e.http_status = 422;
    e.code = "query_timeout";
  }
  return e;
}

}  // namespace nodespace::server
