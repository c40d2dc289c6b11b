#include "io/node_json.h"

#include "model/ids.h"

namespace nodespace::io {

nlohmann::json NodeToJson(const Node& node, bool with_embedding) {
  nlohmann::json j;
  j["id"] = node.id;
  j["parent_id"] =
      node.parent_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(node.parent_id);
  j["node_type"] = node.node_type;
  j["content"] = node.content;
  if (!node.title.empty()) j["title"] = node.title;
  j["properties"] = nlohmann::json::parse(node.properties, nullptr, false);
  if (j["properties"].is_discarded()) j["properties"] = nlohmann::json::object();
  j["lifecycle"] = LifecycleName(node.lifecycle);
  j["version"] = node.version;
  j["created_at"] = ids::FormatTimestamp(node.created_at);
  j["modified_at"] = ids::FormatTimestamp(node.modified_at);
  if (with_embedding && !node.embedding.empty()) j["embedding"] = node.embedding;
  return j;
}

nlohmann::json EdgeToJson(const Edge& edge) {
  nlohmann::json props = nlohmann::json::parse(edge.properties, nullptr, false);
  if (props.is_discarded()) props = nlohmann::json::object();
  return {
      {"edge",
       {{"from", edge.from_id}, {"to", edge.to_id}, {"type", edge.type}, {"properties", props}}}};
}

}  // namespace nodespace::io
