// The write path: validation, optimistic concurrency, the tree invariants and
// the change log, all inside one SQLite transaction per call or batch.
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "db/database_impl.h"
#include "model/content.h"
#include "model/ids.h"
#include "model/json_shape.h"
#include "model/order_key.h"
#include "storage/node_rows.h"

namespace nodespace {

using storage::Connection;
using storage::ScopedStatement;
using storage::Statement;

namespace {

std::string Quote(const std::string& s) {
  return "'" + s + "'";
}

// Whether nlohmann::json::dump() writes `s` verbatim between quotes: printable
// ASCII without '"' and '\\' (anything else takes the nlohmann path).
bool IsPlainJsonString(std::string_view s) {
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7F || c == '"' || c == '\\') return false;
  }
  return true;
}

// The change-log payload of a create: byte for byte what
// nlohmann::json{{"parent_id", ...}, {"order_key", ...}}.dump() writes (keys
// sorted), without building the object in the common case.
std::string CreatePayload(const std::string& parent_id, const std::string& order_key) {
  if (!IsPlainJsonString(parent_id) || !IsPlainJsonString(order_key)) {
    return nlohmann::json{{"parent_id", parent_id}, {"order_key", order_key}}.dump();
  }
  std::string out;
  out.reserve(32 + parent_id.size() + order_key.size());
  out += "{\"order_key\":\"";
  out += order_key;
  out += "\",\"parent_id\":\"";
  out += parent_id;
  out += "\"}";
  return out;
}

bool DerivesTitle(const std::string& parent_id, const std::string& node_type) {
  return parent_id.empty() || node_type == "task";
}

const char* const kInsertNode =
    "INSERT INTO nodes(id, parent_id, order_key, node_type, content, title, properties, "
    "lifecycle, version, created_at, modified_at, embedding, partition_id) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

}  // namespace

Result<std::optional<Node>> Database::Impl::LoadNode(Connection& conn, const std::string& id) {
  NS_ASSIGN_OR_RETURN(
      Statement * stmt,
      conn.Prepare(std::string("SELECT ") + storage::kNodeColumns + " FROM nodes WHERE id = ?1"));
  ScopedStatement s(*stmt);
  s->Bind(1, id);
  NS_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<Node>();
  return std::optional<Node>(storage::ReadNodeRow(*s));
}

Result<Node> Database::Impl::LoadForWrite(WriteContext& ctx, const std::string& id,
                                          int64_t expected_version) {
  NS_ASSIGN_OR_RETURN(std::optional<Node> node, LoadNode(ctx.conn, id));
  if (!node) return Status::NotFound("node " + Quote(id) + " not found");
  if (expected_version != kAnyVersion && node->version != expected_version) {
    return Status::Conflict("node " + Quote(id) + " is at version " +
                                std::to_string(node->version) + ", not " +
                                std::to_string(expected_version),
                            std::make_shared<const Node>(*node));
  }
  return std::move(*node);
}

Status Database::Impl::ValidateContent(const std::string& content) const {
  if (content.size() > options_.max_content_bytes) {
    return Status::InvalidArgument("content is " + std::to_string(content.size()) +
                                   " bytes, the limit is " +
                                   std::to_string(options_.max_content_bytes));
  }
  size_t bad = 0;
  if (!content::IsValidUtf8(content, &bad)) {
    return Status::InvalidArgument("content is not valid UTF-8 (byte " + std::to_string(bad) + ")");
  }
  return Status::OK();
}

Status Database::Impl::ValidateType(const std::string& node_type) const {
  if (node_type.empty()) return Status::InvalidArgument("node_type must not be empty");
  if (node_type.size() > 64 || !ids::IsValidId(node_type, 64) || !content::IsValidUtf8(node_type)) {
    return Status::InvalidArgument("node_type " + Quote(node_type) +
                                   " must be 1-64 bytes without spaces or control characters");
  }
  return Status::OK();
}

Status Database::Impl::ValidateProperties(WriteContext& ctx, const std::string& node_id,
                                          const std::string& node_type,
                                          const std::string& properties) {
  if (properties.size() > options_.max_properties_bytes) {
    return Status::InvalidArgument("properties are " + std::to_string(properties.size()) +
                                   " bytes, the limit is " +
                                   std::to_string(options_.max_properties_bytes));
  }
  if (!content::IsValidUtf8(properties)) {
    return Status::InvalidArgument("properties are not valid UTF-8");
  }
  // A syntax check is all most writes need; the DOM is built only when a
  // schema applies.
  switch (json_shape::Classify(properties)) {
    case json_shape::Shape::kInvalid:
      return Status::InvalidArgument("properties are not valid JSON");
    case json_shape::Shape::kOtherValue:
      return Status::InvalidArgument("properties must be a JSON object");
    case json_shape::Shape::kTooDeep:
      return Status::InvalidArgument("properties nest deeper than " +
                                     std::to_string(json_shape::kMaxNesting) + " levels");
    case json_shape::Shape::kObject:
      break;
  }
  std::optional<nlohmann::json> dom;
  auto json = [&]() -> const nlohmann::json& {
    if (!dom) dom = nlohmann::json::parse(properties, nullptr, /*allow_exceptions=*/false);
    return *dom;
  };

  if (node_type == "schema") {
    NS_ASSIGN_OR_RETURN(schema::TypeSchema parsed, schema::ParseSchemaNode(json()));
    (void)parsed;
    ctx.user_schemas.reset();  // this transaction now sees the new schema
  }
  if (const schema::TypeSchema* builtin = schema::BuiltinSchema(node_type)) {
    NS_RETURN_IF_ERROR(schema::Validate(json(), *builtin));
  }
  if (!ctx.user_schemas) {
    std::map<std::string, schema::TypeSchema> schemas;
    NS_ASSIGN_OR_RETURN(Statement * stmt,
                        ctx.conn.Prepare("SELECT id, properties FROM nodes "
                                         "WHERE node_type = 'schema' AND lifecycle = 0"));
    ScopedStatement s(*stmt);
    while (true) {
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      if (s->ColumnText(0) == node_id) continue;  // being replaced by this write
      auto props = nlohmann::json::parse(s->ColumnText(1), nullptr, false);
      auto parsed = schema::ParseSchemaNode(props);
      if (parsed.ok()) schemas[parsed->for_type] = std::move(parsed).value();
    }
    if (node_type == "schema") {
      auto parsed = schema::ParseSchemaNode(json());
      schemas[parsed->for_type] = std::move(parsed).value();
    }
    ctx.user_schemas = std::move(schemas);
  }
  auto it = ctx.user_schemas->find(node_type);
  if (it != ctx.user_schemas->end()) NS_RETURN_IF_ERROR(schema::Validate(json(), it->second));
  return Status::OK();
}

Status Database::Impl::ValidateEmbedding(WriteContext& ctx, const std::vector<float>& v) {
  if (v.empty()) return Status::OK();
  bool nonzero = false;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) {
      return Status::InvalidArgument("embedding[" + std::to_string(i) + "] is not finite");
    }
    nonzero = nonzero || v[i] != 0.0F;
  }
  if (!nonzero) return Status::InvalidArgument("embedding is a zero vector");
  if (!ctx.embedding_dim) {
    NS_ASSIGN_OR_RETURN(Statement * stmt,
                        ctx.conn.Prepare("SELECT value FROM meta WHERE key = 'embedding_dim'"));
    ScopedStatement s(*stmt);
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    ctx.embedding_dim = row ? std::stoll(s->ColumnString(0)) : 0;
  }
  if (*ctx.embedding_dim == 0) {
    NS_ASSIGN_OR_RETURN(
        Statement * stmt,
        ctx.conn.Prepare(
            "INSERT INTO meta(key, value) VALUES('embedding_dim', ?1), "
            "('vector_metric', ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
    NS_RETURN_IF_ERROR(
        stmt->Bind(1, std::to_string(v.size())).Bind(2, options_.vector_metric).Run());
    ctx.embedding_dim = static_cast<int64_t>(v.size());
  } else if (static_cast<int64_t>(v.size()) != *ctx.embedding_dim) {
    return Status::InvalidArgument("vector has " + std::to_string(v.size()) +
                                   " dims, database uses " + std::to_string(*ctx.embedding_dim));
  }
  return Status::OK();
}

Status Database::Impl::AppendChange(WriteContext& ctx, ChangeOp op, const std::string& node_id,
                                    int64_t version, std::string payload) {
  if (ctx.pending_changes != nullptr) {
    ctx.pending_changes->Add(ctx.now, op, node_id, version, ctx.origin, std::move(payload));
    return Status::OK();
  }
  NS_ASSIGN_OR_RETURN(Statement * stmt,
                      ctx.conn.Prepare("INSERT INTO changes(ts, op, node_id, version, origin, "
                                       "payload) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
  return stmt->Bind(1, ctx.now)
      .Bind(2, static_cast<int64_t>(op))
      .BindUncopied(3, node_id)
      .Bind(4, version)
      .BindUncopied(5, ctx.origin)
      .BindUncopied(6, payload)
      .Run();
}

Status Database::Impl::SyncMentions(WriteContext& ctx, const std::string& id,
                                    const std::string& content, bool had_content) {
  if (had_content) {
    NS_ASSIGN_OR_RETURN(Statement * del,
                        ctx.conn.Prepare("DELETE FROM edges WHERE from_id = ?1 AND type = "
                                         "'mentions'"));
    NS_RETURN_IF_ERROR(del->Bind(1, id).Run());
  }
  const std::vector<std::string> mentions = content::ExtractMentions(content);
  if (mentions.empty()) return Status::OK();
  NS_ASSIGN_OR_RETURN(Statement * ins,
                      ctx.conn.Prepare("INSERT OR IGNORE INTO edges(from_id, to_id, type) "
                                       "VALUES(?1, ?2, 'mentions')"));
  for (const std::string& target : mentions) {
    if (target == id) continue;
    NS_RETURN_IF_ERROR(ins->Bind(1, id).Bind(2, target).Run());
  }
  return Status::OK();
}

Result<bool> Database::Impl::NodeExists(WriteContext& ctx, const std::string& id) {
  if (ctx.bulk_memo != nullptr) {
    const BulkLoadMemo::Answer known = ctx.bulk_memo->Exists(id);
    if (known != BulkLoadMemo::Answer::kUnknown) return known == BulkLoadMemo::Answer::kYes;
  }
  NS_ASSIGN_OR_RETURN(Statement * stmt, ctx.conn.Prepare("SELECT 1 FROM nodes WHERE id = ?1"));
  ScopedStatement s(*stmt);
  s->Bind(1, id);
  NS_ASSIGN_OR_RETURN(bool exists, s->Step());
  if (exists && ctx.bulk_memo != nullptr) ctx.bulk_memo->Found(id);
  return exists;
}

Status Database::Impl::EnsureParent(WriteContext& ctx, const std::string& parent_id) {
  if (parent_id.empty()) return Status::OK();
  NS_ASSIGN_OR_RETURN(const bool exists, NodeExists(ctx, parent_id));
  if (exists) return Status::OK();
  if (!ids::IsDateId(parent_id)) {
    return Status::NotFound("parent " + Quote(parent_id) + " not found");
  }
  // Date nodes come into being when something is filed under them.
  NewNode date;
  date.id = parent_id;
  date.node_type = "date";
  date.content = parent_id;
  return CreateNode(ctx, date).status();
}

Result<std::string> Database::Impl::ComputeKey(WriteContext& ctx, const std::string& parent_id,
                                               const Position& pos, const std::string& exclude_id) {
  auto one_key = [&](const std::string& sql, const std::string& bound) -> Result<std::string> {
    NS_ASSIGN_OR_RETURN(Statement * stmt, ctx.conn.Prepare(sql));
    ScopedStatement s(*stmt);
    s->Bind(1, parent_id).Bind(2, exclude_id).Bind(3, bound);
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    return row ? s->ColumnString(0) : std::string();
  };
  switch (pos.kind) {
    case Position::Kind::kLast: {
      // With no node to exclude (a create), the index answers on its own:
      // `id != ''` holds for every node and would cost a table lookup.
      NS_ASSIGN_OR_RETURN(
          std::string last,
          one_key(exclude_id.empty()
                      ? "SELECT order_key FROM nodes WHERE parent_id = ?1 AND ?2 = '' AND ?3 = '' "
                        "ORDER BY order_key DESC LIMIT 1"
                      : "SELECT order_key FROM nodes WHERE parent_id = ?1 AND id != ?2 "
                        "AND ?3 = '' ORDER BY order_key DESC LIMIT 1",
                  ""));
      return order_key::Between(last, "");
    }
    case Position::Kind::kFirst: {
      NS_ASSIGN_OR_RETURN(
          std::string first,
          one_key(exclude_id.empty()
                      ? "SELECT order_key FROM nodes WHERE parent_id = ?1 AND ?2 = '' AND ?3 = '' "
                        "ORDER BY order_key ASC LIMIT 1"
                      : "SELECT order_key FROM nodes WHERE parent_id = ?1 AND id != ?2 "
                        "AND ?3 = '' ORDER BY order_key ASC LIMIT 1",
                  ""));
      return order_key::Between("", first);
    }
    case Position::Kind::kBefore:
    case Position::Kind::kAfter: {
      if (pos.sibling_id == exclude_id) {
        return Status::InvalidArgument("cannot place node " + Quote(exclude_id) +
                                       " relative to itself");
      }
      NS_ASSIGN_OR_RETURN(std::optional<Node> sibling, LoadNode(ctx.conn, pos.sibling_id));
      if (!sibling) return Status::NotFound("sibling " + Quote(pos.sibling_id) + " not found");
      if (sibling->parent_id != parent_id) {
        return Status::InvalidArgument(
            "sibling " + Quote(pos.sibling_id) + " is not a child of " +
            (parent_id.empty() ? std::string("the roots") : Quote(parent_id)));
      }
      if (pos.kind == Position::Kind::kBefore) {
        NS_ASSIGN_OR_RETURN(std::string prev,
                            one_key("SELECT order_key FROM nodes WHERE parent_id = ?1 AND id != "
                                    "?2 AND order_key < ?3 ORDER BY order_key DESC LIMIT 1",
                                    sibling->order_key));
        return order_key::Between(prev, sibling->order_key);
      }
      NS_ASSIGN_OR_RETURN(std::string next,
                          one_key("SELECT order_key FROM nodes WHERE parent_id = ?1 AND id != ?2 "
                                  "AND order_key > ?3 ORDER BY order_key ASC LIMIT 1",
                                  sibling->order_key));
      return order_key::Between(sibling->order_key, next);
    }
  }
  return Status::Internal("unknown position kind");
}

Result<std::string> Database::Impl::KeyForPosition(WriteContext& ctx, const std::string& parent_id,
                                                   const Position& pos,
                                                   const std::string& exclude_id) {
  NS_RETURN_IF_ERROR(RestoreDeferredParentIndex(ctx));  // the sibling lookups below use it
  auto key = ComputeKey(ctx, parent_id, pos, exclude_id);
  if (key.ok() && key->size() <= options_.max_order_key_length) return key;
  if (!key.ok() && key.status().code() != StatusCode::kResourceExhausted) return key;
  // Keys have grown long from repeated inserts at one spot: renumber once.
  // (The bulk load's memo of last keys would be out of date: rare enough to
  // forget it all.)
  if (ctx.bulk_memo != nullptr) ctx.bulk_memo->Forget();
  NS_RETURN_IF_ERROR(RenumberSiblings(ctx, parent_id));
  return ComputeKey(ctx, parent_id, pos, exclude_id);
}

Status Database::Impl::RenumberSiblings(WriteContext& ctx, const std::string& parent_id) {
  std::vector<std::string> ids;
  {
    NS_ASSIGN_OR_RETURN(Statement * stmt, ctx.conn.Prepare("SELECT id FROM nodes WHERE parent_id "
                                                           "= ?1 ORDER BY order_key"));
    ScopedStatement s(*stmt);
    s->Bind(1, parent_id);
    while (true) {
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      ids.push_back(s->ColumnString(0));
    }
  }
  // Park every key above the digit range first so that the unique index on
  // (parent_id, order_key) never sees two equal keys mid-way.
  NS_ASSIGN_OR_RETURN(Statement * park,
                      ctx.conn.Prepare("UPDATE nodes SET order_key = '~' || rowid "
                                       "WHERE parent_id = ?1"));
  NS_RETURN_IF_ERROR(park->Bind(1, parent_id).Run());
  NS_ASSIGN_OR_RETURN(Statement * set, ctx.conn.Prepare("UPDATE nodes SET order_key = ?1 WHERE "
                                                        "id = ?2 RETURNING version"));
  const std::vector<std::string> keys = order_key::RenumberedKeys(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    int64_t version;
    {
      ScopedStatement s(*set);
      s->Bind(1, keys[i]).Bind(2, ids[i]);
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) return Status::Internal("renumbered node vanished");
      version = s->ColumnInt(0);
    }
    nlohmann::json payload = {{"parent_id", parent_id}, {"order_key", keys[i]}, {"renumber", true}};
    NS_RETURN_IF_ERROR(AppendChange(ctx, ChangeOp::kMove, ids[i], version, payload.dump()));
  }
  return Status::OK();
}

Status Database::Impl::InsertNodeRow(WriteContext& ctx, const Node& n, int64_t partition) {
  NS_ASSIGN_OR_RETURN(Statement * ins, ctx.conn.Prepare(kInsertNode));
  // `n` outlives the statement's run, so its fields are bound uncopied.
  ins->BindUncopied(1, n.id)
      .BindUncopied(2, n.parent_id)
      .BindUncopied(3, n.order_key)
      .BindUncopied(4, n.node_type)
      .BindUncopied(5, n.content)
      .BindUncopied(6, n.title)
      .BindUncopied(7, n.properties)
      .Bind(8, static_cast<int64_t>(n.lifecycle))
      .Bind(9, n.version)
      .Bind(10, n.created_at)
      .Bind(11, n.modified_at);
  if (n.embedding.empty()) {
    ins->BindNull(12);
  } else {
    ins->BindBlobUncopied(12, n.embedding.data(), n.embedding.size() * sizeof(float));
  }
  ins->Bind(13, partition);
  return ins->Run();
}

Status Database::Impl::FlushHeldNodes(WriteContext& ctx) {
  if (ctx.pending_changes == nullptr || !ctx.pending_changes->holds_nodes()) return Status::OK();
  return ctx.pending_changes->FlushNodes(ctx.conn);
}

Result<Node> Database::Impl::CreateNode(WriteContext& ctx, const NewNode& in) {
  // A load's batch holds the row back (PendingChanges) when nothing this
  // create runs can read the rows held: the load's memo knows every row (an
  // id, a parent, a last child: no lookup goes to the table), the node is
  // appended, has no embedding (stored by rowid at once) and is not a schema
  // (the next creates' validation reads schemas from the table), and the
  // database has no partitions (a child's partition is read from its
  // parent's row). Any other create puts the rows held in first.
  bool hold = ctx.pending_changes != nullptr && ctx.bulk_memo != nullptr &&
              ctx.bulk_memo->complete() && in.position.kind == Position::Kind::kLast &&
              in.embedding.empty() && in.node_type != "schema";
  if (hold) {
    NS_ASSIGN_OR_RETURN(const bool partitioned, IsPartitioned(ctx));
    hold = !partitioned;
  }
  if (!hold) NS_RETURN_IF_ERROR(FlushHeldNodes(ctx));
  Node n;
  n.id = in.id.empty() ? ids::NewUuidV7() : in.id;
  if (!ids::IsValidId(n.id, options_.max_id_bytes) || !content::IsValidUtf8(n.id)) {
    return Status::InvalidArgument("invalid node id " + Quote(n.id) + ": ids are 1-" +
                                   std::to_string(options_.max_id_bytes) +
                                   " bytes of UTF-8 without spaces or control characters");
  }
  n.parent_id = in.parent_id;
  n.node_type = in.node_type;
  n.content = in.content;
  n.properties = in.properties.empty() ? "{}" : in.properties;
  n.lifecycle = in.lifecycle;
  n.version = in.version.value_or(1);
  if (n.version < 1) return Status::InvalidArgument("version must be at least 1");
  n.created_at = in.created_at.value_or(ctx.now);
  n.modified_at = in.modified_at.value_or(n.created_at);
  n.embedding = in.embedding;

  NS_RETURN_IF_ERROR(ValidateType(n.node_type));
  if (n.node_type == "date" && !ids::IsDateId(n.id)) {
    return Status::InvalidArgument("a date node's id must be a date YYYY-MM-DD, not " +
                                   Quote(n.id));
  }
  if (n.parent_id == n.id) {
    return Status::InvalidArgument("node " + Quote(n.id) + " cannot be its own parent");
  }
  NS_RETURN_IF_ERROR(ValidateContent(n.content));
  NS_RETURN_IF_ERROR(ValidateProperties(ctx, n.id, n.node_type, n.properties));
  {
    NS_ASSIGN_OR_RETURN(const bool exists, NodeExists(ctx, n.id));
    if (exists) return Status::AlreadyExists("node " + Quote(n.id) + " already exists");
  }
  if (!n.parent_id.empty() && (!ids::IsValidId(n.parent_id, options_.max_id_bytes))) {
    return Status::InvalidArgument("invalid parent id " + Quote(n.parent_id));
  }
  NS_RETURN_IF_ERROR(ValidateEmbedding(ctx, n.embedding));  // may record the dimension
  NS_RETURN_IF_ERROR(EnsureParent(ctx, n.parent_id));
  const bool append = in.position.kind == Position::Kind::kLast;
  const std::string* known_last =
      append && ctx.bulk_memo != nullptr ? ctx.bulk_memo->LastChildKey(n.parent_id) : nullptr;
  if (known_last != nullptr) {
    NS_ASSIGN_OR_RETURN(n.order_key, order_key::Between(*known_last, ""));
  }
  if (known_last == nullptr || n.order_key.size() > options_.max_order_key_length) {
    NS_RETURN_IF_ERROR(FlushHeldNodes(ctx));  // the siblings it reads
    NS_ASSIGN_OR_RETURN(n.order_key, KeyForPosition(ctx, n.parent_id, in.position, ""));
  }
  if (DerivesTitle(n.parent_id, n.node_type)) n.title = content::DeriveTitle(n.content);

  NS_ASSIGN_OR_RETURN(const int64_t partition, PartitionForNewNode(ctx, n.parent_id));
  if (hold) {
    ctx.pending_changes->AddNode({n.id, n.parent_id, n.order_key, n.node_type, n.content, n.title,
                                  n.properties, static_cast<int64_t>(n.lifecycle), n.version,
                                  n.created_at, n.modified_at, partition});
  } else {
    NS_RETURN_IF_ERROR(InsertNodeRow(ctx, n, partition));
  }
  if (partition != 0) {
    NS_ASSIGN_OR_RETURN(Statement * count,
                        ctx.conn.Prepare("UPDATE partitions SET node_count = node_count + 1 "
                                         "WHERE id = ?1"));
    NS_RETURN_IF_ERROR(count->Bind(1, partition).Run());
    ctx.touched_partitions.insert(partition);
  }
  NS_RETURN_IF_ERROR(SyncMentions(ctx, n.id, n.content, /*had_content=*/false));
  NS_RETURN_IF_ERROR(AppendChange(ctx, ChangeOp::kCreate, n.id, n.version,
                                  CreatePayload(n.parent_id, n.order_key)));
  if (ctx.bulk_memo != nullptr) ctx.bulk_memo->Created(n.id, n.parent_id, n.order_key, append);
  return n;
}

Result<Node> Database::Impl::UpdateNode(WriteContext& ctx, const std::string& id,
                                        const NodePatch& patch, int64_t expected_version) {
  NS_ASSIGN_OR_RETURN(Node n, LoadForWrite(ctx, id, expected_version));
  nlohmann::json fields = nlohmann::json::array();
  const bool content_changed = patch.content && *patch.content != n.content;
  if (patch.node_type && *patch.node_type != n.node_type) {
    NS_RETURN_IF_ERROR(ValidateType(*patch.node_type));
    if (*patch.node_type == "date" && !ids::IsDateId(n.id)) {
      return Status::InvalidArgument("only a node whose id is a date can have type 'date'");
    }
    n.node_type = *patch.node_type;
    fields.push_back("node_type");
  }
  if (content_changed) {
    NS_RETURN_IF_ERROR(ValidateContent(*patch.content));
    n.content = *patch.content;
    fields.push_back("content");
  }
  if (patch.properties && *patch.properties != n.properties) {
    n.properties = *patch.properties;
    fields.push_back("properties");
  }
  if (patch.node_type || patch.properties) {
    NS_RETURN_IF_ERROR(ValidateProperties(ctx, n.id, n.node_type, n.properties));
  }
  if (patch.lifecycle && *patch.lifecycle != n.lifecycle) {
    n.lifecycle = *patch.lifecycle;
    fields.push_back("lifecycle");
  }
  if (patch.embedding) {
    NS_RETURN_IF_ERROR(ValidateEmbedding(ctx, *patch.embedding));
    n.embedding = *patch.embedding;
    fields.push_back("embedding");
  }
  if (fields.empty()) return n;  // nothing changed: no new version

  n.title = DerivesTitle(n.parent_id, n.node_type) ? content::DeriveTitle(n.content) : "";
  n.version += 1;
  n.modified_at = std::max(ctx.now, n.modified_at);
  NS_ASSIGN_OR_RETURN(Statement * upd,
                      ctx.conn.Prepare("UPDATE nodes SET node_type = ?2, content = ?3, title = "
                                       "?4, properties = ?5, lifecycle = ?6, version = ?7, "
                                       "modified_at = ?8, embedding = ?9 WHERE id = ?1"));
  upd->Bind(1, n.id)
      .Bind(2, n.node_type)
      .Bind(3, n.content)
      .Bind(4, n.title)
      .Bind(5, n.properties)
      .Bind(6, static_cast<int64_t>(n.lifecycle))
      .Bind(7, n.version)
      .Bind(8, n.modified_at);
  if (n.embedding.empty()) {
    upd->BindNull(9);
  } else {
    upd->BindBlob(9, n.embedding.data(), n.embedding.size() * sizeof(float));
  }
  NS_RETURN_IF_ERROR(upd->Run());
  if (content_changed) NS_RETURN_IF_ERROR(SyncMentions(ctx, n.id, n.content, true));
  nlohmann::json payload = {{"fields", fields}};
  NS_RETURN_IF_ERROR(AppendChange(ctx, ChangeOp::kUpdate, n.id, n.version, payload.dump()));
  return n;
}

Result<Node> Database::Impl::MoveNode(WriteContext& ctx, const std::string& id,
                                      const std::string& new_parent, const Position& position,
                                      int64_t expected_version) {
  NS_ASSIGN_OR_RETURN(Node n, LoadForWrite(ctx, id, expected_version));
  if (new_parent == id) {
    return Status::InvalidArgument("cannot move node " + Quote(id) + " under itself");
  }
  if (!new_parent.empty()) {
    NS_RETURN_IF_ERROR(EnsureParent(ctx, new_parent));
    // Walk up from the new parent: meeting `id` means a cycle.
    NS_ASSIGN_OR_RETURN(
        Statement * stmt,
        ctx.conn.Prepare("WITH RECURSIVE up(id, parent_id) AS ("
                         "  SELECT id, parent_id FROM nodes WHERE id = ?1"
                         "  UNION ALL SELECT n.id, n.parent_id FROM nodes n JOIN up "
                         "    ON n.id = up.parent_id WHERE up.parent_id != ''"
                         ") SELECT 1 FROM up WHERE id = ?2 LIMIT 1"));
    ScopedStatement s(*stmt);
    s->Bind(1, new_parent).Bind(2, id);
    NS_ASSIGN_OR_RETURN(bool cycle, s->Step());
    if (cycle) {
      return Status::InvalidArgument("cannot move node " + Quote(id) +
                                     " under its own descendant " + Quote(new_parent));
    }
  }
  const std::string old_parent = n.parent_id;
  NS_ASSIGN_OR_RETURN(n.order_key, KeyForPosition(ctx, new_parent, position, id));
  n.parent_id = new_parent;
  n.title = DerivesTitle(n.parent_id, n.node_type) ? content::DeriveTitle(n.content) : "";
  n.version += 1;
  n.modified_at = std::max(ctx.now, n.modified_at);
  NS_ASSIGN_OR_RETURN(Statement * upd,
                      ctx.conn.Prepare("UPDATE nodes SET parent_id = ?2, order_key = ?3, title = "
                                       "?4, version = ?5, modified_at = ?6 WHERE id = ?1"));
  NS_RETURN_IF_ERROR(upd->Bind(1, n.id)
                         .Bind(2, n.parent_id)
                         .Bind(3, n.order_key)
                         .Bind(4, n.title)
                         .Bind(5, n.version)
                         .Bind(6, n.modified_at)
                         .Run());
  nlohmann::json payload = {
      {"from_parent_id", old_parent}, {"parent_id", n.parent_id}, {"order_key", n.order_key}};
  NS_RETURN_IF_ERROR(AppendChange(ctx, ChangeOp::kMove, n.id, n.version, payload.dump()));
  NS_RETURN_IF_ERROR(RepartitionMovedSubtree(ctx, n.id, n.parent_id));
  return n;
}

Status Database::Impl::CollectSubtree(Connection& conn, const std::string& id) {
  NS_RETURN_IF_ERROR(conn.Exec("DELETE FROM temp.subtree"));
  NS_ASSIGN_OR_RETURN(Statement * stmt,
                      conn.Prepare("WITH RECURSIVE sub(id) AS (SELECT ?1 UNION ALL "
                                   "SELECT n.id FROM nodes n JOIN sub ON n.parent_id = sub.id) "
                                   "INSERT INTO temp.subtree(id) SELECT id FROM sub"));
  return stmt->Bind(1, id).Run();
}

Result<int64_t> Database::Impl::DeleteSubtree(WriteContext& ctx, const std::string& id,
                                              int64_t expected_version) {
  NS_ASSIGN_OR_RETURN(Node root, LoadForWrite(ctx, id, expected_version));
  NS_RETURN_IF_ERROR(CollectSubtree(ctx.conn, id));
  NS_ASSIGN_OR_RETURN(int64_t count, ctx.conn.QueryInt("SELECT count(*) FROM temp.subtree"));
  // Mentions of a deleted node stay (they resolve again if it comes back);
  // structural edges into the subtree (member_of a deleted collection) go.
  NS_RETURN_IF_ERROR(ctx.conn.Exec(
      "DELETE FROM edges WHERE from_id IN (SELECT id FROM temp.subtree);"
      "DELETE FROM edges WHERE type != 'mentions' AND to_id IN (SELECT id FROM temp.subtree);"));
  // The payload names the storage row the node occupied (derived indexes
  // keyed by row, the vector index, need it once the row is gone) and the
  // node's parent and type (change feeds filter deletes by subtree and
  // type). Rows come parents first: the recursive walk is breadth-first.
  NS_ASSIGN_OR_RETURN(
      Statement * log,
      ctx.conn.Prepare(
          "INSERT INTO changes(ts, op, node_id, version, origin, payload) "
          "SELECT ?1, ?2, t.id, 0, ?3, json_object('subtree_root', ?4, 'parent_id', n.parent_id, "
          "'node_type', n.node_type, 'row', n.rowid) FROM temp.subtree t JOIN nodes n ON n.id = "
          "t.id ORDER BY t.rowid"));
  NS_RETURN_IF_ERROR(log->Bind(1, ctx.now)
                         .Bind(2, static_cast<int64_t>(ChangeOp::kDelete))
                         .Bind(3, ctx.origin)
                         .Bind(4, id)
                         .Run());
  NS_RETURN_IF_ERROR(UncountSubtree(ctx));
  NS_RETURN_IF_ERROR(ctx.conn.Exec(
      "DELETE FROM nodes WHERE id IN (SELECT id FROM temp.subtree); DELETE FROM temp.subtree;"));
  (void)root;
  return count;
}

Result<int64_t> Database::Impl::SetLifecycleInTxn(WriteContext& ctx, const std::string& id,
                                                  Lifecycle lifecycle, int64_t expected_version) {
  NS_ASSIGN_OR_RETURN(Node root, LoadForWrite(ctx, id, expected_version));
  (void)root;
  NS_RETURN_IF_ERROR(CollectSubtree(ctx.conn, id));
  nlohmann::json payload = {
      {"fields", {"lifecycle"}}, {"lifecycle", LifecycleName(lifecycle)}, {"subtree_root", id}};
  NS_ASSIGN_OR_RETURN(
      Statement * log,
      ctx.conn.Prepare("INSERT INTO changes(ts, op, node_id, version, origin, payload) "
                       "SELECT ?1, ?2, n.id, n.version + 1, ?3, ?4 FROM temp.subtree t "
                       "JOIN nodes n ON n.id = t.id WHERE n.lifecycle != ?5 ORDER BY t.rowid"));
  NS_RETURN_IF_ERROR(log->Bind(1, ctx.now)
                         .Bind(2, static_cast<int64_t>(ChangeOp::kUpdate))
                         .Bind(3, ctx.origin)
                         .Bind(4, payload.dump())
                         .Bind(5, static_cast<int64_t>(lifecycle))
                         .Run());
  NS_ASSIGN_OR_RETURN(Statement * upd,
                      ctx.conn.Prepare("UPDATE nodes SET lifecycle = ?1, version = version + 1, "
                                       "modified_at = max(modified_at, ?2) WHERE lifecycle != ?1 "
                                       "AND id IN (SELECT id FROM temp.subtree)"));
  NS_RETURN_IF_ERROR(upd->Bind(1, static_cast<int64_t>(lifecycle)).Bind(2, ctx.now).Run());
  const int64_t changed = ctx.conn.Changes();
  NS_RETURN_IF_ERROR(ctx.conn.Exec("DELETE FROM temp.subtree"));
  return changed;
}

Status Database::Impl::AddEdgeInTxn(WriteContext& ctx, const Edge& e) {
  NS_RETURN_IF_ERROR(FlushHeldNodes(ctx));  // the endpoints it reads
  if (e.type.empty()) return Status::InvalidArgument("edge type must not be empty");
  if (e.type == kEdgeHasChild) {
    return Status::InvalidArgument("has_child edges are made by creating or moving nodes");
  }
  if (e.type == kEdgeMentions) {
    return Status::InvalidArgument("mentions edges are derived from content links");
  }
  if (e.from_id == e.to_id) return Status::InvalidArgument("an edge cannot join a node to itself");
  auto props = nlohmann::json::parse(e.properties.empty() ? "{}" : e.properties, nullptr, false);
  if (props.is_discarded() || !props.is_object()) {
    return Status::InvalidArgument("edge properties must be a JSON object");
  }
  NS_ASSIGN_OR_RETURN(std::optional<Node> from, LoadNode(ctx.conn, e.from_id));
  if (!from) return Status::NotFound("node " + Quote(e.from_id) + " not found");
  NS_ASSIGN_OR_RETURN(std::optional<Node> to, LoadNode(ctx.conn, e.to_id));
  if (!to) return Status::NotFound("node " + Quote(e.to_id) + " not found");
  if (e.type == kEdgeMemberOf && to->node_type != "collection") {
    return Status::InvalidArgument("member_of must point to a collection, " + Quote(e.to_id) +
                                   " is a " + to->node_type);
  }
  if (e.type == kEdgeMemberOf && from->node_type == "collection") {
    // Collections form a DAG: refuse an edge that closes a cycle.
    NS_ASSIGN_OR_RETURN(Statement * stmt,
                        ctx.conn.Prepare("WITH RECURSIVE up(id) AS (SELECT ?1 UNION "
                                         "SELECT e.to_id FROM edges e JOIN up ON e.from_id = "
                                         "up.id AND e.type = 'member_of') "
                                         "SELECT 1 FROM up WHERE id = ?2 LIMIT 1"));
    ScopedStatement s(*stmt);
    s->Bind(1, e.to_id).Bind(2, e.from_id);
    NS_ASSIGN_OR_RETURN(bool cycle, s->Step());
    if (cycle) return Status::InvalidArgument("collection membership would form a cycle");
  }
  NS_ASSIGN_OR_RETURN(Statement * ins,
                      ctx.conn.Prepare("INSERT INTO edges(from_id, to_id, type, properties) "
                                       "VALUES(?1, ?2, ?3, ?4) ON CONFLICT DO UPDATE SET "
                                       "properties = excluded.properties"));
  NS_RETURN_IF_ERROR(
      ins->Bind(1, e.from_id).Bind(2, e.to_id).Bind(3, e.type).Bind(4, props.dump()).Run());
  nlohmann::json payload = {{"to_id", e.to_id}, {"type", e.type}, {"properties", props}};
  return AppendChange(ctx, ChangeOp::kEdgeAdd, e.from_id, from->version, payload.dump());
}

Status Database::Impl::RemoveEdgeInTxn(WriteContext& ctx, const std::string& from,
                                       const std::string& to, const std::string& type) {
  NS_RETURN_IF_ERROR(FlushHeldNodes(ctx));
  if (type == kEdgeMentions) {
    return Status::InvalidArgument(
        "mentions edges are derived from content links; edit the content");
  }
  NS_ASSIGN_OR_RETURN(Statement * del, ctx.conn.Prepare("DELETE FROM edges WHERE from_id = ?1 "
                                                        "AND to_id = ?2 AND type = ?3"));
  NS_RETURN_IF_ERROR(del->Bind(1, from).Bind(2, to).Bind(3, type).Run());
  if (ctx.conn.Changes() == 0) {
    return Status::NotFound("no " + type + " edge from " + Quote(from) + " to " + Quote(to));
  }
  nlohmann::json payload = {{"to_id", to}, {"type", type}};
  return AppendChange(ctx, ChangeOp::kEdgeRemove, from, 0, payload.dump());
}

Result<std::string> Database::Impl::ResolveCollection(Connection& conn, const std::string& path,
                                                      WriteContext* create_in) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t colon = path.find(':', start);
    parts.push_back(
        path.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  for (const auto& p : parts) {
    if (p.empty())
      return Status::InvalidArgument("collection path " + Quote(path) + " has an empty part");
  }
  // A top-level collection is a member of nothing; each later part is a
  // member of the previous one.
  NS_ASSIGN_OR_RETURN(
      Statement * top,
      conn.Prepare("SELECT n.id FROM nodes n WHERE n.node_type = 'collection' AND n.parent_id = "
                   "'' AND n.content = ?1 AND NOT EXISTS (SELECT 1 FROM edges e WHERE "
                   "e.from_id = n.id AND e.type = 'member_of') ORDER BY n.rowid LIMIT 1"));
  NS_ASSIGN_OR_RETURN(
      Statement * child,
      conn.Prepare("SELECT n.id FROM edges e JOIN nodes n ON n.id = e.from_id WHERE e.to_id = "
                   "?2 AND e.type = 'member_of' AND n.node_type = 'collection' AND n.content = "
                   "?1 ORDER BY n.rowid LIMIT 1"));
  std::string current;
  for (size_t i = 0; i < parts.size(); ++i) {
    Statement* stmt = i == 0 ? top : child;
    std::string found;
    {
      ScopedStatement s(*stmt);
      s->Bind(1, parts[i]);
      if (i > 0) s->Bind(2, current);
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (row) found = s->ColumnString(0);
    }
    if (found.empty()) {
      if (!create_in) return Status::NotFound("collection " + Quote(path) + " not found");
      NewNode c;
      c.node_type = "collection";
      c.content = parts[i];
      NS_ASSIGN_OR_RETURN(Node created, CreateNode(*create_in, c));
      found = created.id;
      if (i > 0)
        NS_RETURN_IF_ERROR(AddEdgeInTxn(*create_in, {found, current, kEdgeMemberOf, "{}"}));
    }
    current = found;
  }
  return current;
}

Result<BatchResult> Database::Impl::Write(const WriteBatch& batch, const WriteOptions& options) {
  const std::vector<WriteBatch::Op>& ops = batch.ops();
  // Creates and edges keep a bulk load's memo true; any other operation
  // ends its use for this transaction (and WithWriteTxn forgets it). Until
  // then the load's change rows go in many to a statement (PendingChanges).
  auto keeps_memo = [&](size_t index) {
    const WriteBatch::Op& op = ops[index];
    return std::holds_alternative<WriteBatch::CreateOp>(op) ||
           std::holds_alternative<WriteBatch::AddEdgeOp>(op) ||
           std::holds_alternative<WriteBatch::RemoveEdgeOp>(op);
  };
  bool only_memo_ops = true;
  for (size_t i = 0; i < ops.size() && only_memo_ops; ++i) only_memo_ops = keeps_memo(i);
  auto write = [&](WriteContext& ctx) -> Result<BatchResult> {
    PendingChanges pending;
    if (bulk_memo_.active()) {
      ctx.bulk_memo = &bulk_memo_;
      ctx.pending_changes = &pending;
    }
    // The rows held go in before operation `index` when it may read the log
    // (then no longer held) or when a statement's worth is waiting.
    auto flush_before = [&](size_t index) -> Status {
      if (ctx.pending_changes == nullptr) return Status::OK();
      if (!keeps_memo(index)) {
        ctx.pending_changes = nullptr;
      } else if (!pending.full()) {
        return Status::OK();
      }
      return pending.Flush(ctx.conn);
    };
    auto stop_memo = [&] {
      if (ctx.bulk_memo == nullptr) return;
      ctx.bulk_memo->Forget();
      ctx.bulk_memo = nullptr;
    };
    auto apply = [&](size_t index) {
      const WriteBatch::Op& any_op = ops[index];
      if (!keeps_memo(index)) stop_memo();
      const std::string& op_origin = batch.origin(index);
      ctx.origin = op_origin.empty() ? std::string_view(options.origin) : op_origin;
      BatchResult::OpResult r;
      std::visit(
          [&](const auto& op) {
            using T = std::decay_t<decltype(op)>;
            auto record_node = [&](Result<Node> res) {
              if (res.ok()) {
                r.node_id = res->id;
                r.version = res->version;
                r.affected = 1;
              } else {
                r.status = res.status();
              }
            };
            if constexpr (std::is_same_v<T, WriteBatch::CreateOp>) {
              record_node(CreateNode(ctx, op.node));
            } else if constexpr (std::is_same_v<T, WriteBatch::UpdateOp>) {
              record_node(UpdateNode(ctx, op.id, op.patch, op.expected_version));
            } else if constexpr (std::is_same_v<T, WriteBatch::MoveOp>) {
              record_node(MoveNode(ctx, op.id, op.new_parent_id, op.position, op.expected_version));
            } else if constexpr (std::is_same_v<T, WriteBatch::DeleteOp>) {
              auto res = DeleteSubtree(ctx, op.id, op.expected_version);
              r.node_id = op.id;
              if (res.ok()) {
                r.affected = *res;
              } else {
                r.status = res.status();
              }
            } else if constexpr (std::is_same_v<T, WriteBatch::AddEdgeOp>) {
              r.node_id = op.edge.from_id;
              r.status = AddEdgeInTxn(ctx, op.edge);
            } else if constexpr (std::is_same_v<T, WriteBatch::RemoveEdgeOp>) {
              r.node_id = op.from_id;
              r.status = RemoveEdgeInTxn(ctx, op.from_id, op.to_id, op.type);
            }
          },
          any_op);
      if (!r.status.ok()) {
        // A failed operation may have cached state it never committed (the
        // schema it defined, the embedding dimension it recorded) before its
        // savepoint was rolled back: reload both when next needed.
        ctx.user_schemas.reset();
        ctx.embedding_dim.reset();
      }
      return r;
    };
    // The error that ends the whole batch (the transaction rolls back).
    auto batch_error = [&](size_t i, const Status& st) {
      if (batch.size() == 1) return st;
      return st.WithContext("operation " + std::to_string(i + 1));
    };
    // I/O failures end the batch whatever the mode: the transaction may be unusable.
    auto fatal = [](const Status& st) {
      const StatusCode c = st.code();
      return c == StatusCode::kIOError || c == StatusCode::kResourceExhausted ||
             c == StatusCode::kCorruption || c == StatusCode::kBusy || c == StatusCode::kInternal;
    };
    auto run = [&](const char* sql) -> Status {
      NS_ASSIGN_OR_RETURN(Statement * stmt, ctx.conn.Prepare(sql));
      return stmt->Run();
    };

    BatchResult out;
    out.results.reserve(batch.size());
    if (options.atomic) {
      for (size_t i = 0; i < ops.size(); ++i) {
        NS_RETURN_IF_ERROR(flush_before(i));
        BatchResult::OpResult r = apply(i);
        if (!r.status.ok()) return batch_error(i, r.status);
        out.results.push_back(std::move(r));
      }
    } else {
      // A failed operation must leave no trace while the others commit. A
      // savepoint per operation would give each its own undo, but SQLite
      // copies every page an operation touches into the statement journal
      // (15-20% of an import's time). So the batch first runs without them:
      // an operation that fails before writing anything (the usual case:
      // validation, a missing parent, a duplicate id) needs no undo. If one
      // fails after a write, the transaction is rolled back and begun again
      // and the batch replayed with a savepoint per operation. (Another
      // process may commit in that gap, as if this call had come later.)
      sqlite3* raw = ctx.conn.raw();
      bool replay = false;
      for (size_t i = 0; i < ops.size(); ++i) {
        NS_RETURN_IF_ERROR(flush_before(i));
        const PendingChanges::Mark held = pending.mark();
        const int64_t changes_before = sqlite3_total_changes64(raw);
        BatchResult::OpResult r = apply(i);
        if (r.status.ok()) {
          out.results.push_back(std::move(r));
          continue;
        }
        if (fatal(r.status)) return batch_error(i, r.status);
        // A node row it held (a date parent made on the way) is a write the
        // plain path would have made: the memo now knows that node.
        const bool held_a_node = pending.mark().nodes > held.nodes;
        pending.TruncateTo(held);  // what the failed operation added
        if (held_a_node || sqlite3_total_changes64(raw) != changes_before) {
          replay = true;
          break;
        }
        ++out.failed;
        out.results.push_back(std::move(r));
        if (options.stop_at_first_error) break;
      }
      if (replay) {
        stop_memo();  // it may hold rows the rollback removes
        pending.Clear();
        ctx.pending_changes = nullptr;  // the replay's savepoints need each row in place
        NS_RETURN_IF_ERROR(ctx.conn.Exec("ROLLBACK"));
        NS_RETURN_IF_ERROR(ctx.conn.Exec("BEGIN IMMEDIATE"));
        ctx.user_schemas.reset();  // may describe writes just rolled back
        ctx.embedding_dim.reset();
        out = BatchResult();
        out.results.reserve(batch.size());
        for (size_t i = 0; i < ops.size(); ++i) {
          NS_RETURN_IF_ERROR(run("SAVEPOINT op"));
          BatchResult::OpResult r = apply(i);
          if (!r.status.ok()) {
            if (fatal(r.status)) return batch_error(i, r.status);
            NS_RETURN_IF_ERROR(ctx.conn.Exec("ROLLBACK TO op; RELEASE op"));
            ++out.failed;
            out.results.push_back(std::move(r));
            if (options.stop_at_first_error) break;
          } else {
            NS_RETURN_IF_ERROR(run("RELEASE op"));
            out.results.push_back(std::move(r));
          }
        }
      }
    }
    NS_RETURN_IF_ERROR(pending.Flush(ctx.conn));
    NS_ASSIGN_OR_RETURN(out.last_change_seq,
                        ctx.conn.QueryInt("SELECT ifnull(max(seq), 0) FROM changes"));
    return out;
  };
  return WithWriteTxn(options, write, /*no_child_reads=*/only_memo_ops);
}

Result<int64_t> Database::Impl::SetLifecycle(const std::string& id, Lifecycle lifecycle,
                                             int64_t expected_version,
                                             const WriteOptions& options) {
  return WithWriteTxn(options, [&](WriteContext& ctx) {
    return SetLifecycleInTxn(ctx, id, lifecycle, expected_version);
  });
}

Status Database::Impl::AddToCollection(const std::string& id, const std::string& path,
                                       const WriteOptions& options) {
  return WithWriteTxn(
             options,
             [&](WriteContext& ctx) -> Result<bool> {
               NS_ASSIGN_OR_RETURN(std::string collection, ResolveCollection(ctx.conn, path, &ctx));
               NS_RETURN_IF_ERROR(AddEdgeInTxn(ctx, {id, collection, kEdgeMemberOf, "{}"}));
               return true;
             })
      .status();
}

Status Database::Impl::RemoveFromCollection(const std::string& id, const std::string& path,
                                            const WriteOptions& options) {
  return WithWriteTxn(options,
                      [&](WriteContext& ctx) -> Result<bool> {
                        NS_ASSIGN_OR_RETURN(std::string collection,
                                            ResolveCollection(ctx.conn, path, nullptr));
                        NS_RETURN_IF_ERROR(RemoveEdgeInTxn(ctx, id, collection, kEdgeMemberOf));
                        return true;
                      })
      .status();
}

Status Database::Impl::OptimizeTextIndex() {
  return WithWriteTxn(WriteOptions{}, [&](WriteContext& ctx) -> Status {
    return ctx.conn.Exec("INSERT INTO nodes_fts(nodes_fts) VALUES ('optimize')");
  });
}

Status Database::Impl::WriteMeta(const std::map<std::string, std::string>& values,
                                 const std::string& extra_sql) {
  return WithWriteTxn(WriteOptions{}, [&](WriteContext& ctx) -> Status {
    NS_ASSIGN_OR_RETURN(Statement * stmt,
                        ctx.conn.Prepare("INSERT INTO meta(key, value) VALUES (?1, ?2) ON "
                                         "CONFLICT(key) DO UPDATE SET value = excluded.value"));
    for (const auto& [key, value] : values) {
      ScopedStatement s(*stmt);
      NS_RETURN_IF_ERROR(s->Bind(1, key).Bind(2, value).Run());
    }
    return extra_sql.empty() ? Status::OK() : ctx.conn.Exec(extra_sql);
  });
}

}  // namespace nodespace
