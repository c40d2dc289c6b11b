// The dashboard's built files (web/), compiled into the binary by
// cmake/embed_web_assets.cmake and served by routes_web.cc. Empty when the
// build left the dashboard out (NODESPACE_BUILD_DASHBOARD=OFF).
#pragma once

#include <span>
#include <string_view>

namespace nodespace::server {

struct WebAsset {
  std::string_view path;  // "/index.html", "/assets/index-3f2a.js"
  std::string_view content_type;
  std::string_view body;
};

std::span<const WebAsset> WebAssets();

}  // namespace nodespace::server
