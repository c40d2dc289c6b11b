// Routes: the server's API as data. Each route names its method, its path
// template (the same spelling as in openapi.json, "/v1/nodes/{id}"), the
// least role that may call it and how API-key scopes apply, so that auth,
// limits, metrics, the OpenAPI check and the auth test all read one table.
#pragma once

#include <httplib.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/api_keys.h"

namespace nodespace::server {

// How a subtree-scoped key is held to its subtrees on a route.
enum class ScopeRule : uint8_t {
  kNone,      // nothing node-specific (health, openapi, own tasks)
  kPathNode,  // the {id} in the path must lie inside a scope
  kHandler,   // the handler checks (bodies naming nodes) or filters (queries)
  kUnscoped,  // whole-database operations: scoped keys get 403
};

// One request being served: what the handlers see.
struct Call {
  const httplib::Request& req;
  httplib::Response& res;
  const Principal& principal;
  const std::string& request_id;
  std::string origin;  // change-log origin: the X-Client-Id header, else the key id
  // Set for large_body routes: reads the body in chunks as it arrives.
  const httplib::ContentReader* content_reader = nullptr;

  std::vector<std::string> params;  // path parameters, in template order

  // Path parameter by position ({id} is 1).
  std::string param(size_t i) const { return i >= 1 && i <= params.size() ? params[i - 1] : ""; }
  // Parsed JSON body; ApiError 400 when malformed or not an object.
  nlohmann::json Body() const;
  std::string Query(const std::string& name, const std::string& fallback = "") const;
  // Optional integer query parameter; 400 when present but not an integer
  // within [min, max].
  int64_t QueryInt(const std::string& name, int64_t fallback, int64_t min, int64_t max) const;
};

// A handler's answer. Streaming handlers set Call::res themselves and
// return Reply::Streamed().
struct Reply {
  int status = 200;
  nlohmann::json body;
  std::string etag;  // sent as ETag: "<etag>"
  bool streamed = false;
  static Reply Json(nlohmann::json body, int status = 200) {
    Reply r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static Reply Streamed() {
    Reply r;
    r.streamed = true;
    return r;
  }
};

// Handlers report failures by throwing ApiError (caught by the dispatcher,
// never escaping it); engine Statuses become ApiErrors through Check/Value.
inline void Check(const Status& s, bool parse_error = false) {
  if (!s.ok()) throw ErrorFromStatus(s, parse_error);
}
template <typename T>
T Value(Result<T> r, bool parse_error = false) {
  if (!r.ok()) throw ErrorFromStatus(r.status(), parse_error);
  return std::move(*r);
}

struct Route {
  std::string method;  // GET, POST, PUT, PATCH, DELETE
  std::string path;    // template with {params}
  Role role = Role::kRead;
  ScopeRule scope = ScopeRule::kNone;
  bool public_route = false;  // no key needed (/livez, /readyz, openapi)
  std::string summary;        // one line, for openapi.json
  std::function<Reply(Call&)> handler;
  // Streams its request body to disk (NDJSON import): the body limit is
  // ServerOptions::max_import_bytes.
  bool large_body = false;
  std::regex pattern;  // compiled from path by FinishRoutes
};

void AddRoute(std::vector<Route>* routes, std::string method, std::string path, Role role,
              ScopeRule scope, std::string summary, std::function<Reply(Call&)> handler);

// Compiles every route's pattern ("{x}" matches one path segment).
void FinishRoutes(std::vector<Route>* routes);
// The route for method + path, or null; `*path_known` is set when another
// method matches the path (405 rather than 404). `params` receives the
// path parameters (percent-decoded by the HTTP layer already).
const Route* MatchRoute(const std::vector<Route>& routes, const std::string& method,
                        const std::string& path, bool* path_known,
                        std::vector<std::string>* params);

}  // namespace nodespace::server
