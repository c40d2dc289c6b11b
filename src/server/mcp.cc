#include "server/mcp.h"

#include <istream>
#include <ostream>

#include "io/node_json.h"
#include "io/query_result_json.h"
#include "nodespace/markdown.h"

namespace nodespace::server {
namespace {

using nlohmann::json;

constexpr const char* kProtocolVersion = "2025-03-26";

// A tool failure the model should see (isError), not a protocol error.
struct ToolError {
  std::string message;
};

json RpcError(const json& id, int code, const std::string& message) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

template <typename T>
T Need(Result<T> r) {
  if (!r.ok()) throw ToolError{r.status().ToString()};
  return std::move(*r);
}
void Need(const Status& s) {
  if (!s.ok()) throw ToolError{s.ToString()};
}

std::string Str(const json& args, const char* name, bool required = true) {
  if (!args.contains(name) || args[name].is_null()) {
    if (required) throw ToolError{std::string(name) + " is required"};
    return "";
  }
  if (!args[name].is_string()) throw ToolError{std::string(name) + " must be a string"};
  return args[name].get<std::string>();
}

int64_t Int(const json& args, const char* name, int64_t fallback) {
  if (!args.contains(name) || args[name].is_null()) return fallback;
  if (!args[name].is_number_integer()) throw ToolError{std::string(name) + " must be an integer"};
  return args[name].get<int64_t>();
}

json NodeOut(const Node& n) {
  return io::NodeToJson(n, false);
}

json Nodes(const std::vector<Node>& nodes) {
  json out = json::array();
  for (const Node& n : nodes) out.push_back(NodeOut(n));
  return out;
}

// The fields of `args` that form a patch (everything but id and version).
NodePatch PatchOf(const json& args) {
  json fields = json::object();
  for (const char* f : {"content", "node_type", "properties", "lifecycle"}) {
    if (args.contains(f)) fields[f] = args[f];
  }
  return Need(io::NodePatchFromJson(fields));
}

Position IndexPosition(Database& db, const std::string& parent_id, const std::string& moving,
                       int64_t index) {
  std::vector<Node> siblings = parent_id.empty() ? Need(db.Roots()) : Need(db.Children(parent_id));
  std::erase_if(siblings, [&](const Node& n) { return n.id == moving; });
  return io::PositionAtIndex(siblings, index);
}

json Tree(Database& db, const std::string& id, int max_depth) {
  // Pre-order visit; a stack of the open nodes' children arrays.
  json root;
  std::vector<json*> open;
  SubtreeOptions o;
  o.max_depth = max_depth;
  Need(db.VisitSubtree(id, o, [&](const Node& n, int depth) {
    json j = NodeOut(n);
    j["children"] = json::array();
    open.resize(depth);
    if (depth == 0) {
      root = std::move(j);
      open.push_back(&root);
    } else {
      json& kids = (*open[depth - 1])["children"];
      kids.push_back(std::move(j));
      open.push_back(&kids.back());
    }
    return true;
  }));
  return root;
}

json Schema(json properties, std::vector<std::string> required) {
  return {{"type", "object"}, {"properties", std::move(properties)}, {"required", required}};
}

const json kId = {{"type", "string"}, {"description", "node id"}};
const json kVersion = {{"type", "integer"},
                       {"description", "the version you read; the call fails if it changed"}};
const json kContent = {{"type", "string"}, {"description", "Markdown"}};
const json kType = {{"type", "string"}, {"description", "text, task, header, ... (default text)"}};
const json kProps = {{"type", "object"}, {"description", "JSON properties, namespaced by type"}};

struct ToolDef {
  const char* name;
  const char* description;
  json schema;
  bool writes;
};

const std::vector<ToolDef>& Tools() {
  static const std::vector<ToolDef> tools = {
      {"create_node", "Create a node (a root without parent_id)",
       Schema({{"content", kContent},
               {"node_type", kType},
               {"parent_id", kId},
               {"properties", kProps}},
              {"content"}),
       true},
      {"get_node", "Read one node", Schema({{"id", kId}}, {"id"}), false},
      {"update_node", "Change a node's content, type, properties or lifecycle",
       Schema({{"id", kId},
               {"version", kVersion},
               {"content", kContent},
               {"node_type", kType},
               {"properties", kProps},
               {"lifecycle", {{"type", "string"}, {"enum", {"active", "archived", "deleted"}}}}},
              {"id"}),
       true},
      {"delete_node", "Delete a node and its whole subtree",
       Schema({{"id", kId}, {"version", kVersion}}, {"id"}), true},
      {"query_nodes",
       "Run a NodeSpace query: {text?, semantic?, filters?, sort?, limit?, facets?} (docs/API.md)",
       Schema({{"text", {{"type", "string"}}},
               {"semantic", {{"type", "string"}}},
               {"filters", {{"type", "array"}}},
               {"sort", {{"type", "array"}}},
               {"limit", {{"type", "integer"}}}},
              {}),
       false},
      {"get_children", "Children of a node in order",
       Schema({{"id", kId}, {"include_archived", {{"type", "boolean"}}}}, {"id"}), false},
      {"insert_child_at_index", "Create a node as the index-th child (0-based) of parent_id",
       Schema({{"parent_id", kId},
               {"index", {{"type", "integer"}}},
               {"content", kContent},
               {"node_type", kType},
               {"properties", kProps}},
              {"parent_id", "index", "content"}),
       true},
      {"move_child_to_index",
       "Move a node to be the index-th child of parent_id (default: its current parent)",
       Schema({{"id", kId},
               {"parent_id", kId},
               {"index", {{"type", "integer"}}},
               {"version", kVersion}},
              {"id", "index"}),
       true},
      {"get_node_tree", "A node and its descendants as a nested tree",
       Schema({{"id", kId}, {"max_depth", {{"type", "integer"}}}}, {"id"}), false},
      {"search_semantic", "Find nodes by meaning (hybrid: words and meaning together)",
       Schema({{"query", {{"type", "string"}}},
               {"limit", {{"type", "integer"}}},
               {"hybrid", {{"type", "boolean"}}},
               {"under", kId}},
              {"query"}),
       false},
      {"create_nodes_from_markdown", "Turn Markdown into nodes under parent_id or as a new root",
       Schema({{"markdown", {{"type", "string"}}},
               {"parent_id", kId},
               {"title", {{"type", "string"}}}},
              {"markdown"}),
       true},
      {"get_markdown_from_node_id", "A node's subtree as Markdown", Schema({{"id", kId}}, {"id"}),
       false},
      {"get_nodes_batch", "Read many nodes at once",
       Schema({{"ids", {{"type", "array"}, {"items", {{"type", "string"}}}}}}, {"ids"}), false},
      {"update_nodes_batch", "Apply many updates in one transaction (all or nothing)",
       Schema({{"updates", {{"type", "array"}, {"items", {{"type", "object"}}}}}}, {"updates"}),
       true},
  };
  return tools;
}

}  // namespace

McpSession::McpSession(Database& db, McpAccess access, std::function<void(int64_t)> on_write)
    : db_(db), access_(std::move(access)), on_write_(std::move(on_write)) {}

json McpSession::ToolList() {
  json tools = json::array();
  for (const ToolDef& t : Tools()) {
    tools.push_back({{"name", t.name}, {"description", t.description}, {"inputSchema", t.schema}});
  }
  return {{"tools", tools}};
}

json McpSession::Handle(const json& message) {
  if (message.is_discarded()) return RpcError(nullptr, -32700, "parse error: not JSON");
  if (message.is_array()) {
    if (message.empty()) return RpcError(nullptr, -32600, "empty batch");
    json out = json::array();
    for (const json& m : message) {
      json r = HandleOne(m);
      if (!r.is_null()) out.push_back(std::move(r));
    }
    return out.empty() ? json() : out;
  }
  return HandleOne(message);
}

json McpSession::HandleOne(const json& req) {
  if (!req.is_object() || req.value("jsonrpc", "") != "2.0" || !req.contains("method") ||
      !req["method"].is_string()) {
    return RpcError(req.is_object() && req.contains("id") ? req["id"] : json(), -32600,
                    "invalid request: expected {jsonrpc: \"2.0\", method, id?, params?}");
  }
  const bool notification = !req.contains("id");
  const json id = notification ? json() : req["id"];
  const std::string method = req["method"];
  const json params = req.value("params", json::object());
  auto result = [&](json r) -> json {
    if (notification) return json();
    return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(r)}};
  };
  if (method == "initialize") {
    return result({{"protocolVersion", params.value("protocolVersion", kProtocolVersion)},
                   {"capabilities", {{"tools", {{"listChanged", false}}}}},
                   {"serverInfo", {{"name", "nodespace"}, {"version", "0.1.0"}}},
                   {"instructions",
                    "NodeSpace holds nested notes (nodes). Read with get_node, get_node_tree, "
                    "query_nodes and search_semantic; pass the version you read to update_node."}});
  }
  if (method == "notifications/initialized" || method.rfind("notifications/", 0) == 0)
    return json();
  if (method == "ping") return result(json::object());
  if (method == "tools/list") return result(ToolList());
  if (method == "tools/call") {
    if (!params.is_object() || !params.contains("name") || !params["name"].is_string()) {
      return notification ? json() : RpcError(id, -32602, "tools/call needs params.name");
    }
    const std::string name = params["name"];
    const json args = params.value("arguments", json::object());
    if (!args.is_object())
      return notification ? json() : RpcError(id, -32602, "arguments must be an object");
    const ToolDef* def = nullptr;
    for (const ToolDef& t : Tools()) {
      if (name == t.name) def = &t;
    }
    if (def == nullptr)
      return notification ? json() : RpcError(id, -32602, "unknown tool '" + name + "'");
    json content;
    bool is_error = false;
    try {
      if (def->writes && !access_.can_write) throw ToolError{"this key may only read"};
      content = CallTool(name, args);
    } catch (const ToolError& e) {
      content = {{"error", e.message}};
      is_error = true;
    } catch (const json::exception& e) {
      content = {{"error", std::string("bad arguments: ") + e.what()}};
      is_error = true;
    }
    return result({{"content", {{{"type", "text"}, {"text", content.dump()}}}},
                   {"structuredContent", content},
                   {"isError", is_error}});
  }
  return notification ? json() : RpcError(id, -32601, "method not found: " + method);
}

json McpSession::CallTool(const std::string& name, const json& args) {
  WriteOptions w;
  w.origin = access_.origin;
  auto wrote = [&] {
    if (on_write_) on_write_(db_.LastChangeSeq());
  };
  if (name == "get_node") return NodeOut(Need(db_.Get(Str(args, "id"))));
  if (name == "create_node" || name == "insert_child_at_index") {
    json fields = json::object();
    for (const char* f : {"content", "node_type", "properties", "parent_id"}) {
      if (args.contains(f)) fields[f] = args[f];
    }
    NewNode node = Need(io::NewNodeFromJson(fields));
    if (name == "insert_child_at_index") {
      node.parent_id = Str(args, "parent_id");
      node.position = IndexPosition(db_, node.parent_id, "", Int(args, "index", 0));
    }
    Node created = Need(db_.Create(node, w));
    wrote();
    return NodeOut(created);
  }
  if (name == "update_node") {
    Node n = Need(db_.Update(Str(args, "id"), PatchOf(args), Int(args, "version", kAnyVersion), w));
    wrote();
    return NodeOut(n);
  }
  if (name == "delete_node") {
    int64_t n = Need(db_.Delete(Str(args, "id"), Int(args, "version", kAnyVersion), w));
    wrote();
    return {{"deleted", n}};
  }
  if (name == "query_nodes") {
    QueryResult r = Need(db_.RunQueryJson(args.dump()));
    return io::QueryResultToJson(r, false);
  }
  if (name == "get_children") {
    ListOptions o;
    o.include_archived = args.value("include_archived", false);
    return {{"nodes", Nodes(Need(db_.Children(Str(args, "id"), o)))}};
  }
  if (name == "move_child_to_index") {
    const std::string id = Str(args, "id");
    std::string parent = Str(args, "parent_id", false);
    if (!args.contains("parent_id")) parent = Need(db_.Get(id)).parent_id;
    Position p = IndexPosition(db_, parent, id, Int(args, "index", 0));
    Node n = Need(db_.Move(id, parent, p, Int(args, "version", kAnyVersion), w));
    wrote();
    return NodeOut(n);
  }
  if (name == "get_node_tree") {
    return Tree(db_, Str(args, "id"), static_cast<int>(Int(args, "max_depth", 3)));
  }
  if (name == "search_semantic") {
    json q = {{"semantic", Str(args, "query")}, {"limit", Int(args, "limit", 10)}};
    if (args.value("hybrid", false)) {
      q["text"] = Str(args, "query");
      q["text_mode"] = "any";
    }
    const std::string under = Str(args, "under", false);
    if (!under.empty()) q["filters"] = json::array({{{"under", under}}});
    return io::QueryResultToJson(Need(db_.RunQueryJson(q.dump())), false);
  }
  if (name == "create_nodes_from_markdown") {
    std::vector<std::string> ids = Need(CreateNodesFromMarkdown(
        db_, Str(args, "markdown"), Str(args, "parent_id", false), Str(args, "title", false), w));
    wrote();
    return {{"created", ids}};
  }
  if (name == "get_markdown_from_node_id") {
    return {{"markdown", Need(MarkdownOfSubtree(db_, Str(args, "id")))}};
  }
  if (name == "get_nodes_batch") {
    if (!args.contains("ids") || !args["ids"].is_array()) throw ToolError{"ids must be an array"};
    if (args["ids"].size() > 1000) throw ToolError{"at most 1000 ids"};
    json nodes = json::array(), missing = json::array();
    for (const json& id : args["ids"]) {
      if (!id.is_string()) throw ToolError{"ids must be strings"};
      auto n = db_.Get(id.get<std::string>());
      if (n.ok()) {
        nodes.push_back(NodeOut(*n));
      } else {
        missing.push_back(id);
      }
    }
    return {{"nodes", nodes}, {"missing", missing}};
  }
  if (name == "update_nodes_batch") {
    if (!args.contains("updates") || !args["updates"].is_array()) {
      throw ToolError{"updates must be an array of {id, version?, content?, ...}"};
    }
    WriteBatch batch;
    for (const json& u : args["updates"]) {
      if (!u.is_object()) throw ToolError{"each update must be an object"};
      batch.Update(Str(u, "id"), PatchOf(u), Int(u, "version", kAnyVersion));
    }
    BatchResult r = Need(db_.Write(batch, w));
    wrote();
    json results = json::array();
    for (const auto& op : r.results)
      results.push_back({{"id", op.node_id}, {"version", op.version}});
    return {{"updated", results}};
  }
  throw ToolError{"unknown tool '" + name + "'"};
}

void RunMcpStdio(Database& db, std::istream& in, std::ostream& out) {
  McpSession session(db, McpAccess{});
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json reply = session.Handle(json::parse(line, nullptr, false));
    if (!reply.is_null()) out << reply.dump() << "\n" << std::flush;
  }
}

}  // namespace nodespace::server
