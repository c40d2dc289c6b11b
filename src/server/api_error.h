// ApiError: how every failure leaves the server. One JSON shape,
//   {"error": {"code": "not_found", "message": "node 'x' not found", "details": {...}}}
// with the HTTP status that fits; never a stack trace or SQL text (a 500
// says only that something failed and carries the request id, the details
// go to the server's log).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "nodespace/status.h"

namespace nodespace::server {

struct ApiError {
  int http_status = 500;
  std::string code;     // stable, lower_snake_case: "not_found", "rate_limited"
  std::string message;  // for people
  nlohmann::json details = nlohmann::json::object();
  bool internal = false;  // the message is for the log, not the client

  static ApiError BadRequest(std::string message) {
    return {400, "bad_request", std::move(message)};
  }
  static ApiError Unauthorized(std::string message) {
    return {401, "unauthorized", std::move(message)};
  }
  static ApiError Forbidden(std::string message) { return {403, "forbidden", std::move(message)}; }
  static ApiError NotFound(std::string message) { return {404, "not_found", std::move(message)}; }
  static ApiError PayloadTooLarge(std::string message) {
    return {413, "payload_too_large", std::move(message)};
  }
  static ApiError RateLimited(std::string message) {
    return {429, "rate_limited", std::move(message)};
  }
  static ApiError Unavailable(std::string message) {
    return {503, "unavailable", std::move(message)};
  }
  nlohmann::json ToJson(const std::string& request_id) const;
};

// The error for a failed engine Status. `parse_error` marks failures to
// read the request itself (400); engine refusals of well-formed requests
// are 422. A Conflict carries the current node in details.current.
ApiError ErrorFromStatus(const Status& status, bool parse_error = false);

}  // namespace nodespace::server
