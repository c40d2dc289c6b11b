// The OpenAPI 3 document of the HTTP API (src/server/openapi.json, compiled
// into the binary and served at GET /v1/openapi.json).
#pragma once

#include <string_view>

namespace nodespace::server {

std::string_view OpenApiDocument();

}  // namespace nodespace::server
