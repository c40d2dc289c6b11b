// The read path. Each read borrows a reader connection; reads that run more
// than one statement do so inside one read transaction (one snapshot).
#include <filesystem>
#include <functional>
#include <set>

#include "db/database_impl.h"
#include "storage/node_rows.h"

namespace nodespace {

using storage::Connection;
using storage::ScopedStatement;
using storage::Statement;

namespace {

std::string Quote(const std::string& s) {
  return "'" + s + "'";
}

// Every row a NodeSelect statement yields, as nodes.
Result<std::vector<Node>> ReadNodeRows(Statement& s) {
  std::vector<Node> out;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(storage::ReadNodeRow(s));
  }
  return out;
}

std::string NodeSelect(const std::string& where_and_order) {
  return std::string("SELECT ") + storage::kNodeColumns + " FROM nodes " + where_and_order;
}

}  // namespace

Database::Impl::ReaderLease::~ReaderLease() {
  if (!conn_) return;
  std::lock_guard<std::mutex> lock(impl_->reader_mu_);
  impl_->idle_readers_.push_back(std::move(conn_));
}

Result<Database::Impl::ReaderLease> Database::Impl::AcquireReader() {
  {
    std::lock_guard<std::mutex> lock(reader_mu_);
    if (!idle_readers_.empty()) {
      auto conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReaderLease(this, std::move(conn));
    }
  }
  NS_ASSIGN_OR_RETURN(auto conn, Connection::Open(db_file_, /*read_only=*/true, false));
  NS_RETURN_IF_ERROR(ConfigureConnection(*conn, /*writer=*/false));
  return ReaderLease(this, std::move(conn));
}

Result<Node> Database::Impl::Get(const std::string& id) {
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  NS_ASSIGN_OR_RETURN(std::optional<Node> node, LoadNode(*conn, id));
  if (!node) return Status::NotFound("node " + Quote(id) + " not found");
  return std::move(*node);
}

Result<std::vector<Node>> Database::Impl::ListNodes(const std::string& sql, const std::string& arg,
                                                    size_t limit) {
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  NS_ASSIGN_OR_RETURN(Statement * stmt, conn->Prepare(sql));
  ScopedStatement s(*stmt);
  s->Bind(1, arg);
  s->Bind(2, limit == 0 ? int64_t{-1} : static_cast<int64_t>(limit));
  return ReadNodeRows(*s);
}

Result<std::vector<Node>> Database::Impl::ListChildren(const std::string& parent_id,
                                                       const ListOptions& options) {
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  storage::ReadTransaction snapshot(*conn);
  NS_RETURN_IF_ERROR(snapshot.Begin());
  if (!parent_id.empty()) {
    NS_ASSIGN_OR_RETURN(std::optional<Node> parent, LoadNode(*conn, parent_id));
    if (!parent) return Status::NotFound("node " + Quote(parent_id) + " not found");
  }
  // Pages continue after a sibling's order key (keyset pagination), so a
  // node with 100,000 children is read a page at a time.
  std::string after_key;
  if (!options.after_id.empty()) {
    NS_ASSIGN_OR_RETURN(
        Statement * key_stmt,
        conn->Prepare("SELECT order_key FROM nodes WHERE id = ?1 AND parent_id = ?2"));
    ScopedStatement k(*key_stmt);
    k->Bind(1, options.after_id).Bind(2, parent_id);
    NS_ASSIGN_OR_RETURN(bool found, k->Step());
    if (!found) {
      return Status::InvalidArgument(
          "after: " + Quote(options.after_id) + " is not a " +
          (parent_id.empty() ? std::string("root") : "child of " + Quote(parent_id)));
    }
    after_key = k->ColumnString(0);
  }
  NS_ASSIGN_OR_RETURN(Statement * stmt,
                      conn->Prepare(NodeSelect("WHERE parent_id = ?1 AND order_key > ?3 AND (?4 OR "
                                               "lifecycle = 0) ORDER BY order_key LIMIT ?2")));
  ScopedStatement s(*stmt);
  s->Bind(1, parent_id);
  s->Bind(2, options.limit == 0 ? int64_t{-1} : static_cast<int64_t>(options.limit));
  s->Bind(3, after_key);
  s->Bind(4, int64_t{options.include_archived ? 1 : 0});
  return ReadNodeRows(*s);
}

Result<std::vector<Node>> Database::Impl::Children(const std::string& parent_id,
                                                   const ListOptions& options) {
  if (parent_id.empty()) return Status::NotFound("node \"\" not found (Roots lists roots)");
  return ListChildren(parent_id, options);
}

Result<std::vector<Node>> Database::Impl::Roots(const ListOptions& options) {
  return ListChildren("", options);
}

Result<int64_t> Database::Impl::CountChildren(const std::string& parent_id, bool include_archived) {
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  NS_ASSIGN_OR_RETURN(Statement * stmt,
                      conn->Prepare("SELECT count(*) FROM nodes WHERE parent_id = ?1 AND (?2 OR "
                                    "lifecycle = 0)"));
  ScopedStatement s(*stmt);
  s->Bind(1, parent_id).Bind(2, int64_t{include_archived ? 1 : 0});
  NS_ASSIGN_OR_RETURN(bool row, s->Step());
  return row ? s->ColumnInt(0) : 0;
}

Status Database::Impl::VisitSubtree(const std::string& id, const SubtreeOptions& options,
                                    const SubtreeVisitor& visitor) {
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  storage::ReadTransaction snapshot(*conn);
  NS_RETURN_IF_ERROR(snapshot.Begin());
  NS_ASSIGN_OR_RETURN(std::optional<Node> root, LoadNode(*conn, id));
  if (!root) return Status::NotFound("node " + Quote(id) + " not found");
  if (!visitor(*root, 0)) return Status::OK();
  if (options.max_depth == 0) return Status::OK();

  // Depth-first with an explicit stack of (parent, last visited child key):
  // each step fetches the next child by key, so memory grows with the depth of
  // the tree, never with its size.
  NS_ASSIGN_OR_RETURN(
      Statement * next_child,
      conn->Prepare(NodeSelect("WHERE parent_id = ?1 AND order_key > ?2 AND (?3 OR lifecycle = "
                               "0) ORDER BY order_key LIMIT 1")));
  struct Frame {
    std::string parent_id;
    std::string last_key;
  };
  std::vector<Frame> stack;
  stack.push_back({root->id, ""});
  while (!stack.empty()) {
    std::optional<Node> child;
    {
      ScopedStatement s(*next_child);
      s->Bind(1, stack.back().parent_id)
          .Bind(2, stack.back().last_key)
          .Bind(3, int64_t{options.include_archived ? 1 : 0});
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (row) child = storage::ReadNodeRow(*s);
    }
    if (!child) {
      stack.pop_back();
      continue;
    }
    stack.back().last_key = child->order_key;
    const int depth = static_cast<int>(stack.size());
    if (!visitor(*child, depth)) return Status::OK();
    if (options.max_depth < 0 || depth < options.max_depth) stack.push_back({child->id, ""});
  }
  return Status::OK();
}

Result<std::vector<Node>> Database::Impl::Ancestors(const std::string& id) {
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  storage::ReadTransaction snapshot(*conn);
  NS_RETURN_IF_ERROR(snapshot.Begin());
  NS_ASSIGN_OR_RETURN(std::optional<Node> node, LoadNode(*conn, id));
  if (!node) return Status::NotFound("node " + Quote(id) + " not found");
  std::vector<Node> path;
  std::string parent = node->parent_id;
  while (!parent.empty()) {
    NS_ASSIGN_OR_RETURN(std::optional<Node> p, LoadNode(*conn, parent));
    if (!p) return Status::Corruption("parent " + Quote(parent) + " of a node is missing");
    if (path.size() > 100000) return Status::Corruption("parent chain does not end (cycle?)");
    parent = p->parent_id;
    path.push_back(std::move(*p));
  }
  return std::vector<Node>(path.rbegin(), path.rend());
}

Result<std::vector<Node>> Database::Impl::Backlinks(const std::string& id) {
  return ListNodes(std::string("SELECT ") +
                       "n.id, n.parent_id, n.order_key, n.node_type, n.content, n.title, "
                       "n.properties, n.lifecycle, n.version, n.created_at, n.modified_at, "
                       "n.embedding FROM edges e JOIN nodes n ON n.id = e.from_id WHERE e.to_id "
                       "= ?1 AND e.type = 'mentions' AND n.lifecycle != 2 ORDER BY n.id LIMIT ?2",
                   id, 0);
}

Result<std::vector<Edge>> Database::Impl::Edges(const std::string& id, bool outgoing,
                                                const std::string& type) {
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  NS_ASSIGN_OR_RETURN(
      Statement * stmt,
      conn->Prepare(outgoing ? "SELECT from_id, to_id, type, properties FROM edges WHERE from_id "
                               "= ?1 AND (?2 = '' OR type = ?2) ORDER BY type, to_id"
                             : "SELECT from_id, to_id, type, properties FROM edges WHERE to_id = "
                               "?1 AND (?2 = '' OR type = ?2) ORDER BY type, from_id"));
  ScopedStatement s(*stmt);
  s->Bind(1, id).Bind(2, type);
  std::vector<Edge> out;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back({s->ColumnString(0), s->ColumnString(1), s->ColumnString(2), s->ColumnString(3)});
  }
  return out;
}

Result<std::vector<std::string>> Database::Impl::CollectionsOf(const std::string& id) {
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  storage::ReadTransaction snapshot(*conn);
  NS_RETURN_IF_ERROR(snapshot.Begin());
  NS_ASSIGN_OR_RETURN(Statement * up,
                      conn->Prepare("SELECT n.id, n.content FROM edges e JOIN nodes n ON n.id = "
                                    "e.to_id WHERE e.from_id = ?1 AND e.type = 'member_of'"));
  // Every path from each collection the node belongs to up to a top-level one.
  std::set<std::string> paths;
  std::function<Status(const std::string&, const std::string&, int)> climb =
      [&](const std::string& node, const std::string& suffix, int depth) -> Status {
    if (depth > 64) return Status::Corruption("collection nesting deeper than 64");
    std::vector<std::pair<std::string, std::string>> parents;
    {
      ScopedStatement s(*up);
      s->Bind(1, node);
      while (true) {
        NS_ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        parents.emplace_back(s->ColumnString(0), s->ColumnString(1));
      }
    }
    if (parents.empty()) {
      if (!suffix.empty()) paths.insert(suffix);
      return Status::OK();
    }
    for (const auto& [pid, name] : parents) {
      NS_RETURN_IF_ERROR(climb(pid, suffix.empty() ? name : name + ":" + suffix, depth + 1));
    }
    return Status::OK();
  };
  NS_RETURN_IF_ERROR(climb(id, "", 0));
  return std::vector<std::string>(paths.begin(), paths.end());
}

Result<std::vector<Node>> Database::Impl::CollectionMembers(const std::string& path) {
  std::string collection;
  {
    NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
    NS_ASSIGN_OR_RETURN(collection, ResolveCollection(*conn, path, nullptr));
  }
  return ListNodes(std::string("SELECT ") +
                       "n.id, n.parent_id, n.order_key, n.node_type, n.content, n.title, "
                       "n.properties, n.lifecycle, n.version, n.created_at, n.modified_at, "
                       "n.embedding FROM edges e JOIN nodes n ON n.id = e.from_id WHERE e.to_id "
                       "= ?1 AND e.type = 'member_of' ORDER BY n.id LIMIT ?2",
                   collection, 0);
}

int64_t Database::Impl::LastChangeSeq() {
  auto conn = AcquireReader();
  if (!conn.ok()) return 0;
  auto seq = (*conn)->QueryInt("SELECT ifnull(max(seq), 0) FROM changes");
  return seq.ok() ? *seq : 0;
}

Result<std::vector<Change>> Database::Impl::ChangesSince(int64_t after_seq, size_t limit) {
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  NS_ASSIGN_OR_RETURN(Statement * stmt,
                      conn->Prepare("SELECT seq, ts, op, node_id, version, origin, payload FROM "
                                    "changes WHERE seq > ?1 ORDER BY seq LIMIT ?2"));
  ScopedStatement s(*stmt);
  s->Bind(1, after_seq).Bind(2, static_cast<int64_t>(limit));
  std::vector<Change> out;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    Change c;
    c.seq = s->ColumnInt(0);
    c.timestamp = s->ColumnInt(1);
    c.op = static_cast<ChangeOp>(s->ColumnInt(2));
    c.node_id = s->ColumnString(3);
    c.version = s->ColumnInt(4);
    c.origin = s->ColumnString(5);
    c.payload = s->ColumnString(6);
    out.push_back(std::move(c));
  }
  return out;
}

Result<int64_t> Database::Impl::NodeCount() {
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  return conn->QueryInt("SELECT count(*) FROM nodes");
}

Result<DatabaseStats> Database::Impl::Stats() {
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  storage::ReadTransaction snapshot(*conn);
  NS_RETURN_IF_ERROR(snapshot.Begin());
  DatabaseStats st;
  NS_ASSIGN_OR_RETURN(st.node_count, conn->QueryInt("SELECT count(*) FROM nodes"));
  NS_ASSIGN_OR_RETURN(st.root_count,
                      conn->QueryInt("SELECT count(*) FROM nodes WHERE parent_id = ''"));
  NS_ASSIGN_OR_RETURN(st.stored_edge_count, conn->QueryInt("SELECT count(*) FROM edges"));
  st.edge_count = st.stored_edge_count + (st.node_count - st.root_count);
  NS_ASSIGN_OR_RETURN(st.change_seq, conn->QueryInt("SELECT ifnull(max(seq), 0) FROM changes"));
  NS_ASSIGN_OR_RETURN(st.embedding_count,
                      conn->QueryInt("SELECT count(*) FROM nodes WHERE embedding IS NOT NULL"));
  NS_ASSIGN_OR_RETURN(int64_t version, conn->QueryInt("PRAGMA user_version"));
  st.schema_version = static_cast<int>(version);
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(path_, ec)) {
    if (entry.is_regular_file(ec)) st.storage_bytes += static_cast<int64_t>(entry.file_size(ec));
  }
  return st;
}

Status Database::Impl::CheckIntegrity() {
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  storage::ReadTransaction snapshot(*conn);
  NS_RETURN_IF_ERROR(snapshot.Begin());
  {
    NS_ASSIGN_OR_RETURN(Statement * stmt, conn->Prepare("PRAGMA integrity_check"));
    ScopedStatement s(*stmt);
    std::string problems;
    while (true) {
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      if (s->ColumnText(0) != "ok") problems += s->ColumnString(0) + "; ";
    }
    if (!problems.empty()) return Status::Corruption("sqlite integrity check: " + problems);
  }
  NS_ASSIGN_OR_RETURN(int64_t count, conn->QueryInt("SELECT count(*) FROM changes"));
  NS_ASSIGN_OR_RETURN(int64_t min_seq, conn->QueryInt("SELECT ifnull(min(seq), 1) FROM changes"));
  NS_ASSIGN_OR_RETURN(int64_t max_seq, conn->QueryInt("SELECT ifnull(max(seq), 0) FROM changes"));
  if (count != max_seq - min_seq + 1) {
    return Status::Corruption("change log has gaps: " + std::to_string(count) +
                              " rows between seq " + std::to_string(min_seq) + " and " +
                              std::to_string(max_seq));
  }
  NS_ASSIGN_OR_RETURN(
      int64_t orphans,
      conn->QueryInt("SELECT count(*) FROM nodes c WHERE c.parent_id != '' AND "
                     "NOT EXISTS (SELECT 1 FROM nodes p WHERE p.id = c.parent_id)"));
  if (orphans > 0) {
    return Status::Corruption(std::to_string(orphans) + " nodes have a missing parent");
  }
  // The full-text index must hold exactly the nodes' text. FTS5 runs this
  // check as a write command, so it needs the writer connection (a
  // read-only handle skips it).
  if (writer_ != nullptr) {
    std::lock_guard lock(write_mu_);
    Status fts =
        writer_->Exec("INSERT INTO nodes_fts(nodes_fts, rank) VALUES ('integrity-check', 1)");
    if (!fts.ok()) return Status::Corruption("full-text index: " + fts.message());
  }
  return vectors_->Verify();
}

}  // namespace nodespace
