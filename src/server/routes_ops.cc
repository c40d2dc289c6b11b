// Operations: health, readiness, Prometheus metrics, the OpenAPI document,
// and the MCP endpoint.
#include "server/mcp.h"
#include "server/openapi.h"
#include "server/server_state.h"

namespace nodespace::server {

void AddOpsRoutes(ServerState& state, std::vector<Route>* routes) {
  ServerState* s = &state;

  AddRoute(routes, "GET", "/livez", Role::kRead, ScopeRule::kNone,
           "200 while the process serves requests", [](Call&) {
             return Reply::Json({{"live", true}});
           });
  routes->back().public_route = true;

  AddRoute(routes, "GET", "/readyz", Role::kRead, ScopeRule::kNone,
           "200 when the database is open and the server is not draining, else 503", [s](Call&) {
             const bool ready = !s->draining && s->db.ready();
             return Reply::Json({{"ready", ready}}, ready ? 200 : 503);
           });
  routes->back().public_route = true;

  AddRoute(routes, "GET", "/metrics", Role::kRead, ScopeRule::kUnscoped,
           "Prometheus text exposition: HTTP requests and latency by route, every "
           "ScalingMetrics field, group commits, change feeds",
           [s](Call& call) {
             ScalingMetrics m = Value(s->Db()->CollectScalingMetrics());
             if (ConnectionPool* pool = s->pool.load()) {
               s->metrics.connection_threads().Set(static_cast<double>(pool->threads()));
               s->metrics.busy_connection_threads().Set(static_cast<double>(pool->busy()));
             }
             call.res.set_content(s->metrics.Render(m), "text/plain; version=0.0.4; charset=utf-8");
             return Reply::Streamed();
           });

  AddRoute(routes, "GET", "/v1/openapi.json", Role::kRead, ScopeRule::kNone,
           "This API as an OpenAPI 3 document", [](Call& call) {
             call.res.set_content(std::string(OpenApiDocument()), "application/json");
             return Reply::Streamed();
           });
  routes->back().public_route = true;

  AddRoute(routes, "POST", "/v1/mcp", Role::kRead, ScopeRule::kUnscoped,
           "MCP (Model Context Protocol) JSON-RPC 2.0: initialize, tools/list, tools/call; "
           "write tools need a write key",
           [s](Call& call) {
             nlohmann::json message = nlohmann::json::parse(call.req.body, nullptr, false);
             McpAccess access;
             access.can_write = call.principal.role >= Role::kWrite;
             access.origin = call.origin.empty() ? "mcp" : call.origin;
             auto db = s->Db();
             McpSession session(*db, access, [s](int64_t seq) { s->notifier.Publish(seq); });
             nlohmann::json reply = session.Handle(message);
             if (reply.is_null()) return Reply::Json(nullptr, 202);  // a notification
             return Reply::Json(std::move(reply));
           });
}

}  // namespace nodespace::server
