#include "server/route.h"

#include <charconv>

namespace nodespace::server {

nlohmann::json Call::Body() const {
  if (req.body.empty()) throw ApiError::BadRequest("the request needs a JSON body");
  nlohmann::json j = nlohmann::json::parse(req.body, nullptr, false);
  if (j.is_discarded()) throw ApiError::BadRequest("the body is not valid JSON");
  return j;
}

std::string Call::Query(const std::string& name, const std::string& fallback) const {
  return req.has_param(name.c_str()) ? req.get_param_value(name.c_str()) : fallback;
}

int64_t Call::QueryInt(const std::string& name, int64_t fallback, int64_t min, int64_t max) const {
  if (!req.has_param(name.c_str())) return fallback;
  const std::string text = req.get_param_value(name.c_str());
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) {
    throw ApiError::BadRequest(name + ": expected an integer from " + std::to_string(min) + " to " +
                               std::to_string(max) + ", got '" + text + "'");
  }
  return v;
}

void AddRoute(std::vector<Route>* routes, std::string method, std::string path, Role role,
              ScopeRule scope, std::string summary, std::function<Reply(Call&)> handler) {
  Route r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.role = role;
  r.scope = scope;
  r.summary = std::move(summary);
  r.handler = std::move(handler);
  routes->push_back(std::move(r));
}

void FinishRoutes(std::vector<Route>* routes) {
  for (Route& r : *routes) {
    std::string re = "^";
    for (size_t i = 0; i < r.path.size(); ++i) {
      const char c = r.path[i];
      if (c == '{') {
        i = r.path.find('}', i);
        re += "([^/]+)";
      } else if (std::string_view(".+*?()[]^$|\\").find(c) != std::string_view::npos) {
        re += '\\';
        re += c;
      } else {
        re += c;
      }
    }
    r.pattern = std::regex(re + "$");
  }
}

const Route* MatchRoute(const std::vector<Route>& routes, const std::string& method,
                        const std::string& path, bool* path_known,
                        std::vector<std::string>* params) {
  *path_known = false;
  std::smatch m;
  for (const Route& r : routes) {
    if (!std::regex_match(path, m, r.pattern)) continue;
    if (r.method == method || (method == "HEAD" && r.method == "GET")) {
      params->clear();
      for (size_t i = 1; i < m.size(); ++i) params->push_back(m[i].str());
      return &r;
    }
    *path_known = true;
  }
  return nullptr;
}

}  // namespace nodespace::server
