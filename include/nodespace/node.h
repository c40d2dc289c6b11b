// The node model: what one note (node) is, how it relates to others, and the
// small value types the API uses to create, change and place nodes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nodespace {

// A node's place in its life. Archived nodes are kept but hidden from default
// listings; deleted marks a node as in the trash (Database::Delete removes it).
enum class Lifecycle : uint8_t { kActive = 0, kArchived = 1, kDeleted = 2 };

const char* LifecycleName(Lifecycle lifecycle);  // "active", "archived", "deleted"
std::optional<Lifecycle> ParseLifecycle(const std::string& name);

// Milliseconds since the Unix epoch, UTC.
using TimestampMs = int64_t;

struct Node {
  std::string id;                 // UUIDv7 by default; date nodes use YYYY-MM-DD
  std::string parent_id;          // empty for a root
  std::string node_type;          // text, task, date, header, code-block, query, collection, ...
  std::string content;            // markdown
  std::string title;              // derived for roots and tasks (first line of content), else empty
  std::string properties = "{}";  // a JSON object, namespaced by type (e.g. {"task":{...}})
  Lifecycle lifecycle = Lifecycle::kActive;
  int64_t version = 1;  // incremented by every change to this node
  TimestampMs created_at = 0;
  TimestampMs modified_at = 0;
  std::vector<float> embedding;  // empty when the node has none
  std::string order_key;         // position among siblings (opaque, compares bytewise)

  bool is_root() const { return parent_id.empty(); }
};

// Edge types the engine derives or interprets itself. Any other non-empty
// string is a user-defined edge type.
inline constexpr const char* kEdgeHasChild = "has_child";  // stored as Node::parent_id
inline constexpr const char* kEdgeMentions = "mentions";   // derived from content links
inline constexpr const char* kEdgeMemberOf = "member_of";  // node -> collection

struct Edge {
  std::string from_id;
  std::string to_id;
  std::string type;
  std::string properties = "{}";  // a JSON object
};

// Where a node goes among its siblings.
struct Position {
  enum class Kind : uint8_t { kLast, kFirst, kBefore, kAfter };
  Kind kind = Kind::kLast;
  std::string sibling_id;  // for kBefore / kAfter

  static Position Last() { return {}; }
  static Position First() { return {Kind::kFirst, {}}; }
  static Position Before(std::string id) { return {Kind::kBefore, std::move(id)}; }
  static Position After(std::string id) { return {Kind::kAfter, std::move(id)}; }
};

// What a caller supplies to create a node. Fields left empty get defaults:
// a fresh UUIDv7 id, type "text", properties "{}", timestamps "now".
struct NewNode {
  std::string id;
  std::string parent_id;  // empty: a root. A YYYY-MM-DD parent is created on demand.
  std::string node_type = "text";
  std::string content;
  std::string properties = "{}";
  Lifecycle lifecycle = Lifecycle::kActive;
  std::optional<TimestampMs> created_at;
  std::optional<TimestampMs> modified_at;
  std::vector<float> embedding;
  Position position;
  // Restoring an export keeps the node's version; new nodes start at 1.
  std::optional<int64_t> version;
};

// A partial update: only the fields that are set change.
struct NodePatch {
  std::optional<std::string> node_type;
  std::optional<std::string> content;
  std::optional<std::string> properties;  // replaces the whole object
  std::optional<Lifecycle> lifecycle;
  std::optional<std::vector<float>> embedding;  // an empty vector removes it
};

// Optimistic concurrency: an operation that names the version it read fails
// with a Conflict (carrying the current node) if the node has changed since.
// kAnyVersion skips the check.
inline constexpr int64_t kAnyVersion = -1;

}  // namespace nodespace
