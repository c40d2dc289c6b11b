// Nodes: CRUD with optimistic concurrency, tree operations, batches.
#include <charconv>

#include "io/node_json.h"
#include "server/server_state.h"

namespace nodespace::server {
namespace {

Reply NodeReply(const Node& node, const Call& call, int status = 200) {
  Reply r = Reply::Json(NodeJson(node, call), status);
  r.etag = std::to_string(node.version);
  return r;
}

// The node a write just produced, read back for the response.
Reply WrittenNode(ServerState& state, const Call& call, const std::string& id, int status = 200) {
  auto db = state.Db();
  return NodeReply(Value(db->Get(id)), call, status);
}

ListOptions ListOptionsOf(const Call& call) {
  ListOptions o;
  o.include_archived = call.Query("include_archived") == "true";
  o.limit = static_cast<size_t>(call.QueryInt("limit", 0, 0, 100000));
  o.after_id = call.Query("after");
  return o;
}

nlohmann::json NodeList(const std::vector<Node>& nodes, const Call& call) {
  nlohmann::json out = nlohmann::json::array();
  for (const Node& n : nodes) out.push_back(NodeJson(n, call));
  return out;
}

// A page of siblings; ?child_counts=true adds each one's child_count (what a
// tree view needs to draw expanders), ?limit + ?after page through them.
Reply SiblingPage(const std::vector<Node>& nodes, const Call& call, Database& db) {
  nlohmann::json list = NodeList(nodes, call);
  if (call.Query("child_counts") == "true") {
    const bool archived = call.Query("include_archived") == "true";
    for (size_t i = 0; i < nodes.size(); ++i) {
      list[i]["child_count"] = Value(db.CountChildren(nodes[i].id, archived));
    }
  }
  nlohmann::json body = {{"nodes", list}};
  const ListOptions o = ListOptionsOf(call);
  if (o.limit != 0 && nodes.size() == o.limit) body["next_after"] = nodes.back().id;
  return Reply::Json(std::move(body));
}

// The new parent of a move must be inside the scopes too (a root is not).
void RequireParentInScope(const Call& call, Database& db, const std::string& parent_id) {
  if (!call.principal.scoped()) return;
  if (parent_id.empty()) throw ApiError::Forbidden("a key scoped to subtrees cannot create roots");
  RequireInScope(call, db, parent_id);
}

Position ResolvePosition(const Call& call, Database& db, const nlohmann::json& spec_json,
                         const std::string& parent_id, const std::string& moving_id) {
  io::PositionSpec spec = Value(io::PositionFromJson(spec_json), true);
  if (!spec.index) return spec.position;
  std::vector<Node> siblings =
      parent_id.empty() ? Value(db.Roots()) : Value(db.Children(parent_id));
  std::erase_if(siblings, [&](const Node& n) { return n.id == moving_id; });
  return io::PositionAtIndex(siblings, *spec.index);
}

Reply MoveTo(ServerState& state, Call& call, const std::string& id, const std::string& parent_id,
             const nlohmann::json& position) {
  Position where;
  {
    auto db = state.Db();
    RequireParentInScope(call, *db, parent_id);
    where = ResolvePosition(call, *db, position, parent_id, id);
  }
  SubmitWrite(state, call,
              WriteBatch::MoveOp{id, parent_id, std::move(where), IfMatchVersion(call)});
  return WrittenNode(state, call, id);
}

std::string StringField(const nlohmann::json& body, const char* name, bool required) {
  if (!body.contains(name) || body[name].is_null()) {
    if (required) throw ApiError::BadRequest(std::string(name) + ": required");
    return "";
  }
  if (!body[name].is_string())
    throw ApiError::BadRequest(std::string(name) + ": expected a string");
  return body[name].get<std::string>();
}

// One operation of POST /v1/nodes/batch:
//   {"op": "create", "node": {...}} | {"op": "update", "id", "patch": {...}, "version"?}
//   {"op": "delete", "id", "version"?} | {"op": "move", "id", "parent_id", "position"?, "version"?}
WriteBatch::Op BatchOp(const Call& call, Database& db, const nlohmann::json& j, size_t index) {
  const std::string where = "operations[" + std::to_string(index) + "]";
  try {
    if (!j.is_object()) throw ApiError::BadRequest("expected an object");
    const std::string op = StringField(j, "op", true);
    int64_t version = kAnyVersion;
    if (j.contains("version")) {
      if (!j["version"].is_number_integer())
        throw ApiError::BadRequest("version: expected an integer");
      version = j["version"].get<int64_t>();
    }
    if (op == "create") {
      if (!j.contains("node")) throw ApiError::BadRequest("node: required");
      NewNode node = Value(io::NewNodeFromJson(j["node"]), true);
      RequireParentInScope(call, db, node.parent_id);
      return WriteBatch::CreateOp{std::move(node)};
    }
    const std::string id = StringField(j, "id", true);
    RequireInScope(call, db, id);
    if (op == "update") {
      if (!j.contains("patch")) throw ApiError::BadRequest("patch: required");
      return WriteBatch::UpdateOp{id, Value(io::NodePatchFromJson(j["patch"]), true), version};
    }
    if (op == "delete") return WriteBatch::DeleteOp{id, version};
    if (op == "move") {
      const std::string parent = StringField(j, "parent_id", false);
      RequireParentInScope(call, db, parent);
      Position p = ResolvePosition(call, db, j.value("position", nlohmann::json()), parent, id);
      return WriteBatch::MoveOp{id, parent, std::move(p), version};
    }
    throw ApiError::BadRequest("op: expected create, update, delete or move, got '" + op + "'");
  } catch (ApiError& e) {
    e.message = where + ": " + e.message;
    throw;
  }
}

}  // namespace

void AddNodeRoutes(ServerState& state, std::vector<Route>* routes) {
  ServerState* s = &state;

  AddRoute(routes, "GET", "/v1/nodes/{id}", Role::kRead, ScopeRule::kPathNode,
           "A node; its version is the ETag", [s](Call& call) {
             auto db = s->Db();
             return NodeReply(Value(db->Get(call.param(1))), call);
           });

  AddRoute(routes, "POST", "/v1/nodes", Role::kWrite, ScopeRule::kHandler,
           "Creates a node (201); position: first, last, {before|after: id}", [s](Call& call) {
             NewNode node = Value(io::NewNodeFromJson(call.Body()), true);
             {
               auto db = s->Db();
               RequireParentInScope(call, *db, node.parent_id);
             }
             CoalescedResult r = SubmitWrite(*s, call, WriteBatch::CreateOp{std::move(node)});
             return WrittenNode(*s, call, r.node_id, 201);
           });

  AddRoute(routes, "PATCH", "/v1/nodes/{id}", Role::kWrite, ScopeRule::kPathNode,
           "Changes fields of a node; If-Match: <version> makes it conditional (409 when stale)",
           [s](Call& call) {
             NodePatch patch = Value(io::NodePatchFromJson(call.Body()), true);
             SubmitWrite(
                 *s, call,
                 WriteBatch::UpdateOp{call.param(1), std::move(patch), IfMatchVersion(call)});
             return WrittenNode(*s, call, call.param(1));
           });

  AddRoute(routes, "DELETE", "/v1/nodes/{id}", Role::kWrite, ScopeRule::kPathNode,
           "Deletes a node and its subtree; If-Match makes it conditional", [s](Call& call) {
             CoalescedResult r =
                 SubmitWrite(*s, call, WriteBatch::DeleteOp{call.param(1), IfMatchVersion(call)});
             return Reply::Json({{"deleted", r.affected}, {"change_seq", r.change_seq}});
           });

  AddRoute(
      routes, "POST", "/v1/nodes/batch", Role::kWrite, ScopeRule::kHandler,
      "Applies up to max_batch_operations operations in one transaction", [s](Call& call) {
        nlohmann::json body = call.Body();
        if (!body.is_object() || !body.contains("operations") || !body["operations"].is_array()) {
          throw ApiError::BadRequest("expected {\"operations\": [...], \"atomic\"?: bool}");
        }
        const nlohmann::json& ops = body["operations"];
        if (ops.size() > s->options.max_batch_operations) {
          throw ApiError::PayloadTooLarge(
              "a batch may hold " + std::to_string(s->options.max_batch_operations) +
              " operations, this one has " + std::to_string(ops.size()));
        }
        WriteOptions options;
        options.origin = call.origin;
        options.atomic = body.value("atomic", true);
        auto db = s->Db();
        WriteBatch batch;
        for (size_t i = 0; i < ops.size(); ++i) batch.Add(BatchOp(call, *db, ops[i], i));
        BatchResult result = Value(db->Write(batch, options));
        s->notifier.Publish(result.last_change_seq);
        nlohmann::json out = nlohmann::json::array();
        for (const auto& r : result.results) {
          nlohmann::json item = {{"ok", r.status.ok()}};
          if (!r.node_id.empty()) item["id"] = r.node_id;
          if (r.status.ok()) {
            item["version"] = r.version;
            item["affected"] = r.affected;
          } else {
            ApiError e = ErrorFromStatus(r.status);
            item["error"] = e.ToJson("")["error"];
            item["status"] = e.http_status;
          }
          out.push_back(std::move(item));
        }
        return Reply::Json(
            {{"results", out}, {"failed", result.failed}, {"change_seq", result.last_change_seq}});
      });

  AddRoute(
      routes, "GET", "/v1/roots", Role::kRead, ScopeRule::kHandler,
      "Root nodes in order (a scoped key sees its scope roots); ?limit, ?after, ?child_counts=true",
      [s](Call& call) {
        auto db = s->Db();
        if (!call.principal.scoped())
          return SiblingPage(Value(db->Roots(ListOptionsOf(call))), call, *db);
        std::vector<Node> nodes;
        for (const std::string& id : call.principal.scopes) {
          auto node = db->Get(id);
          if (node.ok()) nodes.push_back(std::move(*node));
        }
        return SiblingPage(nodes, call, *db);
      });

  AddRoute(routes, "GET", "/v1/nodes/{id}/children", Role::kRead, ScopeRule::kPathNode,
           "Children in sibling order; ?limit and ?after=<last id of the previous page> page "
           "through them (next_after), ?child_counts=true adds child_count",
           [s](Call& call) {
             auto db = s->Db();
             return SiblingPage(Value(db->Children(call.param(1), ListOptionsOf(call))), call, *db);
           });

  AddRoute(routes, "GET", "/v1/nodes/{id}/subtree", Role::kRead, ScopeRule::kPathNode,
           "The subtree in depth-first order with depths; ?max_depth, ?limit (<= 100000)",
           [s](Call& call) {
             SubtreeOptions o;
             o.max_depth = static_cast<int>(call.QueryInt("max_depth", -1, -1, 1000000));
             o.include_archived = call.Query("include_archived") == "true";
             const int64_t limit = call.QueryInt("limit", 10000, 1, 100000);
             nlohmann::json nodes = nlohmann::json::array();
             bool truncated = false;
             auto db = s->Db();
             Check(db->VisitSubtree(call.param(1), o, [&](const Node& n, int depth) {
               if (static_cast<int64_t>(nodes.size()) >= limit) {
                 truncated = true;
                 return false;
               }
               nlohmann::json j = NodeJson(n, call);
               j["depth"] = depth;
               nodes.push_back(std::move(j));
               return true;
             }));
             return Reply::Json({{"nodes", nodes}, {"truncated", truncated}});
           });

  AddRoute(routes, "GET", "/v1/nodes/{id}/ancestors", Role::kRead, ScopeRule::kPathNode,
           "From the root down to the parent", [s](Call& call) {
             auto db = s->Db();
             return Reply::Json({{"nodes", NodeList(Value(db->Ancestors(call.param(1))), call)}});
           });

  AddRoute(routes, "GET", "/v1/nodes/{id}/backlinks", Role::kRead, ScopeRule::kPathNode,
           "Nodes whose content mentions this one", [s](Call& call) {
             auto db = s->Db();
             std::vector<Node> nodes = Value(db->Backlinks(call.param(1)));
             if (call.principal.scoped()) {
               std::erase_if(nodes, [&](const Node& n) {
                 try {
                   RequireInScope(call, *db, n.id);
                   return false;
                 } catch (const ApiError&) {
                   return true;
                 }
               });
             }
             return Reply::Json({{"nodes", NodeList(nodes, call)}});
           });

  AddRoute(routes, "GET", "/v1/nodes/{id}/collections", Role::kRead, ScopeRule::kPathNode,
           "Collection paths (a:b:c) the node is a member of, sorted", [s](Call& call) {
             auto db = s->Db();
             Value(db->Get(call.param(1)));  // 404 for an unknown node
             return Reply::Json({{"collections", Value(db->CollectionsOf(call.param(1)))}});
           });

  AddRoute(routes, "POST", "/v1/nodes/{id}/move", Role::kWrite, ScopeRule::kPathNode,
           "Moves a node (and subtree): {parent_id (null: a root), position?}; If-Match",
           [s](Call& call) {
             nlohmann::json body = call.Body();
             if (!body.is_object()) throw ApiError::BadRequest("expected an object");
             return MoveTo(*s, call, call.param(1), StringField(body, "parent_id", false),
                           body.value("position", nlohmann::json()));
           });

  AddRoute(routes, "POST", "/v1/nodes/{id}/reorder", Role::kWrite, ScopeRule::kPathNode,
           "Moves a node among its siblings: {position} or {index}; If-Match", [s](Call& call) {
             nlohmann::json body = call.Body();
             if (!body.is_object()) throw ApiError::BadRequest("expected an object");
             std::string parent;
             {
               auto db = s->Db();
               parent = Value(db->Get(call.param(1))).parent_id;
             }
             nlohmann::json position = body.contains("index")
                                           ? nlohmann::json{{"index", body["index"]}}
                                           : body.value("position", nlohmann::json());
             return MoveTo(*s, call, call.param(1), parent, position);
           });
}

}  // namespace nodespace::server
