// JSON forms of nodes and edges, shared by export, the CLI and (later) HTTP.
// docs/formats/jsonl.md describes the line format.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "nodespace/node.h"
#include "nodespace/status.h"

namespace nodespace::io {

// {"id", "parent_id" (null for roots), "node_type", "content", "title",
//  "properties" (object), "lifecycle", "version", "created_at",
//  "modified_at" (ISO 8601 UTC), "embedding" (only when present and asked)}
nlohmann::json NodeToJson(const Node& node, bool with_embedding = true);

// {"edge": {"from", "to", "type", "properties"}}
nlohmann::json EdgeToJson(const Edge& edge);

// The request side: nodes, patches and positions as API callers send them
// (HTTP bodies, MCP tool arguments). Unknown fields are refused, so a typo
// ("parentId") is an error instead of a silently ignored field. Errors name
// the field: "parent_id: expected a string".
//
// {"id"?, "parent_id"?, "node_type"?, "content"?, "properties"? (object),
//  "lifecycle"?, "created_at"?, "embedding"?, "position"?}
Result<NewNode> NewNodeFromJson(const nlohmann::json& j);
// {"node_type"?, "content"?, "properties"?, "lifecycle"?, "embedding"?}
Result<NodePatch> NodePatchFromJson(const nlohmann::json& j);
// "first" | "last" | {"before": id} | {"after": id} | {"index": n} (index is
// resolved by the caller against the current children; see PositionAtIndex).
struct PositionSpec {
  Position position;
  std::optional<int64_t> index;  // set for {"index": n}
};
Result<PositionSpec> PositionFromJson(const nlohmann::json& j);
// The position that puts a node at `index` among `siblings` (which must not
// contain the node itself); past the end means last.
Position PositionAtIndex(const std::vector<Node>& siblings, int64_t index);

}  // namespace nodespace::io
