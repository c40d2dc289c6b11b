// JSON forms of nodes and edges, shared by export, the CLI and (later) HTTP.
// docs/formats/jsonl.md describes the line format.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "nodespace/node.h"

namespace nodespace::io {

// {"id", "parent_id" (null for roots), "node_type", "content", "title",
//  "properties" (object), "lifecycle", "version", "created_at",
//  "modified_at" (ISO 8601 UTC), "embedding" (only when present and asked)}
nlohmann::json NodeToJson(const Node& node, bool with_embedding = true);

// {"edge": {"from", "to", "type", "properties"}}
nlohmann::json EdgeToJson(const Edge& edge);

}  // namespace nodespace::io
