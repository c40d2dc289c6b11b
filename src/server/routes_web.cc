// The dashboard: index.html at "/" and its hashed assets under /assets/,
// served from the copies compiled into the binary (web_assets.h). They are
// public: they hold no data, and the page asks for an API key when the API
// answers 401.
#include "server/server_state.h"
#include "server/web_assets.h"

namespace nodespace::server {

namespace {

const WebAsset* FindAsset(std::string_view path) {
  for (const WebAsset& a : WebAssets()) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

Reply Serve(Call& call, const WebAsset& asset, bool immutable) {
  // Vite names assets by content hash, so a name never changes meaning;
  // the page itself must be revalidated to pick up a new build.
  call.res.set_header("Cache-Control",
                      immutable ? "public, max-age=31536000, immutable" : "no-cache");
  call.res.set_header("X-Content-Type-Options", "nosniff");
  if (!immutable) {
    call.res.set_header("Content-Security-Policy",
                        "default-src 'self'; img-src 'self' data:; style-src 'self' "
                        "'unsafe-inline'; frame-ancestors 'none'");
  }
  call.res.set_content(std::string(asset.body), std::string(asset.content_type));
  return Reply::Streamed();
}

}  // namespace

void AddWebRoutes(ServerState&, std::vector<Route>* routes) {
  AddRoute(routes, "GET", "/", Role::kRead, ScopeRule::kNone,
           "The web dashboard (tree, editor, search, scaling, import)", [](Call& call) {
             const WebAsset* index = FindAsset("/index.html");
             if (index == nullptr) {
               throw ApiError::NotFound(
                   "this binary was built without the dashboard (NODESPACE_BUILD_DASHBOARD=OFF)");
             }
             return Serve(call, *index, false);
           });
  routes->back().public_route = true;

  AddRoute(routes, "GET", "/assets/{file}", Role::kRead, ScopeRule::kNone,
           "The dashboard's scripts, styles and images", [](Call& call) {
             const WebAsset* asset = FindAsset("/assets/" + call.param(1));
             if (asset == nullptr) throw ApiError::NotFound("no asset " + call.param(1));
             return Serve(call, *asset, true);
           });
  routes->back().public_route = true;
}

}  // namespace nodespace::server
