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

namespace nodespace::io {
namespace {

Status WantString(const nlohmann::json& v, const char* field, std::string* out) {
  if (!v.is_string()) return Status::InvalidArgument(std::string(field) + ": expected a string");
  *out = v.get<std::string>();
  return Status::OK();
}

Status ParseEmbedding(const nlohmann::json& v, std::vector<float>* out) {
  if (!v.is_array()) return Status::InvalidArgument("embedding: expected an array of numbers");
  out->clear();
  out->reserve(v.size());
  for (const auto& x : v) {
    if (!x.is_number()) return Status::InvalidArgument("embedding: expected an array of numbers");
    out->push_back(x.get<float>());
  }
  return Status::OK();
}

Status ParseProperties(const nlohmann::json& v, std::string* out) {
  if (!v.is_object()) return Status::InvalidArgument("properties: expected a JSON object");
  *out = v.dump();
  return Status::OK();
}

Status ParseLifecycleField(const nlohmann::json& v, Lifecycle* out) {
  std::string name;
  if (Status s = WantString(v, "lifecycle", &name); !s.ok()) return s;
  auto lifecycle = ParseLifecycle(name);
  if (!lifecycle) {
    return Status::InvalidArgument("lifecycle: expected active, archived or deleted, got '" + name +
                                   "'");
  }
  *out = *lifecycle;
  return Status::OK();
}

Status ParseTime(const nlohmann::json& v, const char* field, TimestampMs* out) {
  if (v.is_number_integer()) {
    *out = v.get<int64_t>();
    return Status::OK();
  }
  std::string text;
  if (!v.is_string() || !ids::ParseTimestamp(text = v.get<std::string>(), out)) {
    return Status::InvalidArgument(std::string(field) +
                                   ": expected milliseconds or an ISO 8601 date-time");
  }
  return Status::OK();
}

}  // namespace

Result<NewNode> NewNodeFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::InvalidArgument("expected a JSON object (a node)");
  NewNode node;
  for (const auto& [key, v] : j.items()) {
    Status s;
    if (key == "id") {
      s = WantString(v, "id", &node.id);
    } else if (key == "parent_id") {
      if (!v.is_null()) s = WantString(v, "parent_id", &node.parent_id);
    } else if (key == "node_type") {
      s = WantString(v, "node_type", &node.node_type);
    } else if (key == "content") {
      s = WantString(v, "content", &node.content);
    } else if (key == "properties") {
      if (!v.is_null()) s = ParseProperties(v, &node.properties);
    } else if (key == "lifecycle") {
      s = ParseLifecycleField(v, &node.lifecycle);
    } else if (key == "created_at" || key == "modified_at") {
      TimestampMs ms = 0;
      s = ParseTime(v, key.c_str(), &ms);
      (key == "created_at" ? node.created_at : node.modified_at) = ms;
    } else if (key == "embedding") {
      if (!v.is_null()) s = ParseEmbedding(v, &node.embedding);
    } else if (key == "position") {
      auto spec = PositionFromJson(v);
      if (!spec.ok()) return spec.status();
      if (spec->index) return Status::InvalidArgument("position: index is not accepted here");
      node.position = spec->position;
    } else {
      s = Status::InvalidArgument("unknown field '" + key + "'");
    }
    if (!s.ok()) return s;
  }
  return node;
}

Result<NodePatch> NodePatchFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::InvalidArgument("expected a JSON object (a patch)");
  NodePatch patch;
  for (const auto& [key, v] : j.items()) {
    Status s;
    std::string text;
    if (key == "node_type") {
      s = WantString(v, "node_type", &text);
      patch.node_type = text;
    } else if (key == "content") {
      s = WantString(v, "content", &text);
      patch.content = text;
    } else if (key == "properties") {
      s = ParseProperties(v, &text);
      patch.properties = text;
    } else if (key == "lifecycle") {
      Lifecycle lifecycle = Lifecycle::kActive;
      s = ParseLifecycleField(v, &lifecycle);
      patch.lifecycle = lifecycle;
    } else if (key == "embedding") {
      std::vector<float> embedding;
      if (!v.is_null()) s = ParseEmbedding(v, &embedding);
      patch.embedding = std::move(embedding);
    } else if (key == "version" || key == "id") {
      // Echoed back from a GET; the version to check travels in If-Match.
    } else {
      s = Status::InvalidArgument("unknown field '" + key + "'");
    }
    if (!s.ok()) return s;
  }
  return patch;
}

Result<PositionSpec> PositionFromJson(const nlohmann::json& j) {
  PositionSpec spec;
  if (j.is_null() || (j.is_string() && j == "last")) return spec;
  if (j.is_string() && j == "first") {
    spec.position = Position::First();
    return spec;
  }
  if (j.is_object() && j.size() == 1) {
    const auto first = j.begin();
    const std::string key = first.key();
    const nlohmann::json& v = first.value();
    if ((key == "before" || key == "after") && v.is_string()) {
      std::string id = v.get<std::string>();
      spec.position = key == "before" ? Position::Before(id) : Position::After(id);
      return spec;
    }
    if (key == "index" && v.is_number_integer() && v.get<int64_t>() >= 0) {
      spec.index = v.get<int64_t>();
      return spec;
    }
  }
  return Status::InvalidArgument(
      "position: expected \"first\", \"last\", {\"before\": id}, {\"after\": id} or "
      "{\"index\": n >= 0}");
}

Position PositionAtIndex(const std::vector<Node>& siblings, int64_t index) {
  if (index <= 0) return Position::First();
  if (index >= static_cast<int64_t>(siblings.size())) return Position::Last();
  return Position::After(siblings[index - 1].id);
}

}  // namespace nodespace::io
