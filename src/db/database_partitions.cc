// Partitions and tiers: the split (EnablePartitioning), the write path's
// partition bookkeeping, the tier pass (EnableTieredStorage) and status.
// docs/PARTITIONS.md describes the layout and why rows stay in one file.
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "db/database_impl.h"
#include "model/ids.h"
#include "scaling/process_probe.h"
#include "storage/meta.h"

namespace nodespace {

using storage::Connection;
using storage::ScopedStatement;
using storage::Statement;
using json = nlohmann::json;

namespace {

constexpr const char* kPartitioningKey = "partitioning";
constexpr const char* kTieringKey = "tiering";
// Passes of the split that move rows while writes go on, before the last
// one runs under the write lock (each pass only has what writes disturbed).
constexpr int kOnlinePasses = 3;
// ScalingConfig::aggressive_archival: partitions turn cold this many times sooner.
constexpr int64_t kAggressiveArchivalDivisor = 4;

// Meta `partitioning`.
struct Layout {
  std::string state = "none";  // none | splitting | active
  PartitionScheme scheme = PartitionScheme::kTime;
  int64_t target_nodes = 100000;
  int64_t started_ms = 0;
};

Layout ParseLayout(const std::optional<std::string>& value) {
  Layout l;
  if (!value) return l;
  json j = json::parse(*value, nullptr, false);
  if (!j.is_object()) return l;
  l.state = j.value("state", "none");
  l.scheme = j.value("scheme", "time") == "size" ? PartitionScheme::kSize : PartitionScheme::kTime;
  l.target_nodes = std::max<int64_t>(1, j.value("target_nodes", int64_t{100000}));
  l.started_ms = j.value("started_ms", int64_t{0});
  return l;
}

std::string LayoutJson(const Layout& l) {
  return json{{"state", l.state},
              {"scheme", PartitionSchemeName(l.scheme)},
              {"target_nodes", l.target_nodes},
              {"started_ms", l.started_ms}}
      .dump();
}

Status PutMeta(Connection& conn, const std::string& key, const std::string& value) {
  NS_ASSIGN_OR_RETURN(Statement * stmt,
                      conn.Prepare("INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) "
                                   "DO UPDATE SET value = excluded.value"));
  return stmt->Bind(1, key).Bind(2, value).Run();
}

Result<std::optional<int64_t>> OptionalInt(Connection& conn, const std::string& sql,
                                           const std::string& arg) {
  NS_ASSIGN_OR_RETURN(Statement * stmt, conn.Prepare(sql));
  ScopedStatement s(*stmt);
  s->Bind(1, arg);
  NS_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row || s->ColumnIsNull(0)) return std::optional<int64_t>();
  return std::optional<int64_t>(s->ColumnInt(0));
}

// The partition a new root goes to under `l`, opening one when the scheme's
// choice is full (or none exists).
Result<int64_t> PickPartitionForRoot(Connection& conn, const Layout& l, int64_t now) {
  const char* sql = l.scheme == PartitionScheme::kTime
                        ? "SELECT id, node_count FROM partitions ORDER BY id DESC LIMIT 1"
                        : "SELECT id, node_count FROM partitions ORDER BY node_count, id LIMIT 1";
  NS_ASSIGN_OR_RETURN(Statement * stmt, conn.Prepare(sql));
  {
    ScopedStatement s(*stmt);
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (row && s->ColumnInt(1) < l.target_nodes) return s->ColumnInt(0);
  }
  NS_ASSIGN_OR_RETURN(Statement * ins,
                      conn.Prepare("INSERT INTO partitions(opened_ms, last_access_ms) "
                                   "VALUES(?1, ?1)"));
  NS_RETURN_IF_ERROR(ins->Bind(1, now).Run());
  return conn.LastInsertRowId();
}

// Every node whose partition differs from its root's, with the root's: what
// the split still has to move. One walk down from the roots.
Result<std::vector<std::pair<int64_t, int64_t>>> Misplaced(Connection& conn) {
  NS_ASSIGN_OR_RETURN(
      Statement * stmt,
      conn.Prepare("WITH RECURSIVE t(id, p) AS (SELECT id, partition_id FROM nodes WHERE "
                   "parent_id = '' UNION ALL SELECT n.id, t.p FROM nodes n JOIN t ON n.parent_id "
                   "= t.id) SELECT n.rowid, t.p FROM t JOIN nodes n ON n.id = t.id WHERE "
                   "n.partition_id != t.p"));
  ScopedStatement s(*stmt);
  std::vector<std::pair<int64_t, int64_t>> out;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.emplace_back(s->ColumnInt(0), s->ColumnInt(1));
  }
  return out;
}

// The first column of every row `sql` returns.
Result<std::vector<int64_t>> Ints(Connection& conn, const std::string& sql) {
  NS_ASSIGN_OR_RETURN(Statement * stmt, conn.Prepare(sql));
  ScopedStatement s(*stmt);
  std::vector<int64_t> out;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(s->ColumnInt(0));
  }
  return out;
}

Status MoveRows(Connection& conn, const std::pair<int64_t, int64_t>* rows, size_t n) {
  NS_ASSIGN_OR_RETURN(Statement * upd,
                      conn.Prepare("UPDATE nodes SET partition_id = ?2 WHERE rowid = ?1"));
  for (size_t i = 0; i < n; ++i)
    NS_RETURN_IF_ERROR(upd->Bind(1, rows[i].first).Bind(2, rows[i].second).Run());
  return Status::OK();
}

// Meta `partitioning` as this write transaction sees it, read once per
// transaction ("" when the database is not partitioned).
template <typename Ctx>
Result<const std::string*> PartitioningOf(Ctx& ctx) {
  if (!ctx.partitioning) {
    NS_ASSIGN_OR_RETURN(std::optional<std::string> v,
                        storage::ReadMeta(ctx.conn, kPartitioningKey));
    ctx.partitioning = v.value_or("");
  }
  return &*ctx.partitioning;
}

double MsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

const char* PartitionSchemeName(PartitionScheme scheme) {
  return scheme == PartitionScheme::kSize ? "size" : "time";
}

// ---- write path ---------------------------------------------------------------

Result<bool> Database::Impl::IsPartitioned(WriteContext& ctx) {
  NS_ASSIGN_OR_RETURN(const std::string* layout, PartitioningOf(ctx));
  return !layout->empty();
}

Result<int64_t> Database::Impl::PartitionForNewNode(WriteContext& ctx,
                                                    const std::string& parent_id) {
  // An unpartitioned database (the common case) pays one meta read per
  // transaction, not a lookup per node.
  NS_ASSIGN_OR_RETURN(const std::string* layout, PartitioningOf(ctx));
  if (layout->empty()) return 0;
  if (!parent_id.empty()) {
    NS_ASSIGN_OR_RETURN(
        std::optional<int64_t> p,
        OptionalInt(ctx.conn, "SELECT partition_id FROM nodes WHERE id = ?1", parent_id));
    return p.value_or(0);
  }
  const Layout l = ParseLayout(*layout);
  if (l.state == "none") return 0;
  return PickPartitionForRoot(ctx.conn, l, ctx.now);
}

Status Database::Impl::UncountSubtree(WriteContext& ctx) {
  NS_ASSIGN_OR_RETURN(const std::string* layout, PartitioningOf(ctx));
  if (layout->empty()) return Status::OK();
  return ctx.conn.Exec(
      "UPDATE partitions SET node_count = max(0, node_count - (SELECT count(*) FROM "
      "temp.subtree t JOIN nodes n ON n.id = t.id WHERE n.partition_id = partitions.id)) "
      "WHERE id IN (SELECT DISTINCT n.partition_id FROM temp.subtree t JOIN nodes n ON n.id = "
      "t.id)");
}

Status Database::Impl::RepartitionMovedSubtree(WriteContext& ctx, const std::string& id,
                                               const std::string& new_parent) {
  NS_ASSIGN_OR_RETURN(const std::string* layout, PartitioningOf(ctx));
  if (layout->empty()) return Status::OK();
  const char* const kPartitionOf = "SELECT partition_id FROM nodes WHERE id = ?1";
  NS_ASSIGN_OR_RETURN(std::optional<int64_t> own, OptionalInt(ctx.conn, kPartitionOf, id));
  // A node moved to the top level becomes a root and keeps its partition.
  if (new_parent.empty() || !own) return Status::OK();
  NS_ASSIGN_OR_RETURN(std::optional<int64_t> target,
                      OptionalInt(ctx.conn, kPartitionOf, new_parent));
  if (!target || *target == *own) return Status::OK();
  NS_RETURN_IF_ERROR(CollectSubtree(ctx.conn, id));
  NS_RETURN_IF_ERROR(UncountSubtree(ctx));
  NS_ASSIGN_OR_RETURN(Statement * upd,
                      ctx.conn.Prepare("UPDATE nodes SET partition_id = ?1 WHERE id IN (SELECT "
                                       "id FROM temp.subtree)"));
  NS_RETURN_IF_ERROR(upd->Bind(1, *target).Run());
  NS_ASSIGN_OR_RETURN(Statement * count,
                      ctx.conn.Prepare("UPDATE partitions SET node_count = node_count + (SELECT "
                                       "count(*) FROM temp.subtree) WHERE id = ?1"));
  NS_RETURN_IF_ERROR(count->Bind(1, *target).Run());
  // The moved node has its own change; each descendant gets one too, so
  // that every partition's vector index (which follows the change log) sees
  // its rows leave and arrive. The version does not change: no content did.
  NS_ASSIGN_OR_RETURN(
      Statement * log,
      ctx.conn.Prepare("INSERT INTO changes(ts, op, node_id, version, origin, payload) SELECT ?1, "
                       "?2, n.id, n.version, ?3, json_object('parent_id', n.parent_id, "
                       "'order_key', n.order_key, 'partition', ?4, 'subtree_root', ?5) FROM "
                       "temp.subtree t JOIN nodes n ON n.id = t.id WHERE n.id != ?5 ORDER BY "
                       "t.rowid"));
  NS_RETURN_IF_ERROR(log->Bind(1, ctx.now)
                         .Bind(2, static_cast<int64_t>(ChangeOp::kMove))
                         .Bind(3, ctx.origin)
                         .Bind(4, *target)
                         .Bind(5, id)
                         .Run());
  ctx.touched_partitions.insert(*own);
  ctx.touched_partitions.insert(*target);
  return ctx.conn.Exec("DELETE FROM temp.subtree");
}

// ---- the split ------------------------------------------------------------------

Result<Database::Impl::SplitReport> Database::Impl::SplitIntoPartitions() {
  if (options_.read_only) return Status::NotSupported("database was opened read-only");
  std::lock_guard split_lock(split_mu_);
  SplitReport report;
  const PartitionOptions& po = options_.partitions;
  if (po.target_nodes < 1) return Status::InvalidArgument("partitions.target_nodes must be >= 1");
  // The plan walks every tree from its root by parent: a parent index a
  // bulk load deferred is built first (an empty transaction otherwise).
  NS_RETURN_IF_ERROR(WithWriteTxn(WriteOptions{}, [](WriteContext&) { return Status::OK(); }));
  const auto batch = static_cast<size_t>(std::max<int64_t>(1, po.split_batch_rows));
  auto t = std::chrono::steady_clock::now();

  // 1. Plan, unless a split already started (then it resumes).
  Layout layout;
  {
    NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
    NS_ASSIGN_OR_RETURN(std::optional<std::string> v, storage::ReadMeta(*conn, kPartitioningKey));
    layout = ParseLayout(v);
  }
  if (layout.state == "active") {
    report.already_active = true;
    return report;
  }
  if (layout.state == "splitting") {
    report.resumed = true;
    Log("partitioning: resuming the split that started at " + std::to_string(layout.started_ms));
  } else {
    struct Root {
      int64_t rowid = 0;
      int64_t created = 0;
      int64_t size = 1;
    };
    std::vector<Root> roots;
    {
      NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
      storage::ReadTransaction snapshot(*conn);
      NS_RETURN_IF_ERROR(snapshot.Begin());
      std::map<int64_t, size_t> index;
      {
        NS_ASSIGN_OR_RETURN(Statement * stmt,
                            conn->Prepare("SELECT rowid, created_at FROM nodes WHERE parent_id = "
                                          "'' ORDER BY created_at, rowid"));
        ScopedStatement s(*stmt);
        while (true) {
          NS_ASSIGN_OR_RETURN(bool row, s->Step());
          if (!row) break;
          index[s->ColumnInt(0)] = roots.size();
          roots.push_back({s->ColumnInt(0), s->ColumnInt(1), 0});
        }
      }
      NS_ASSIGN_OR_RETURN(Statement * stmt,
                          conn->Prepare("WITH RECURSIVE t(id, root) AS (SELECT id, rowid FROM "
                                        "nodes WHERE parent_id = '' UNION ALL SELECT n.id, t.root "
                                        "FROM nodes n JOIN t ON n.parent_id = t.id) SELECT root, "
                                        "count(*) FROM t GROUP BY root"));
      ScopedStatement s(*stmt);
      while (true) {
        NS_ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        auto it = index.find(s->ColumnInt(0));
        if (it != index.end()) roots[it->second].size = s->ColumnInt(1);
      }
    }
    // Partition index (0-based) of each root.
    std::vector<int64_t> slot(roots.size(), 0);
    int64_t partitions = 0;
    if (po.scheme == PartitionScheme::kTime) {
      int64_t fill = 0;
      for (size_t i = 0; i < roots.size(); ++i) {
        if (partitions == 0 || fill >= po.target_nodes) {
          ++partitions;
          fill = 0;
        }
        slot[i] = partitions - 1;
        fill += roots[i].size;
      }
    } else {
      int64_t total = 0;
      for (const Root& r : roots) total += r.size;
      partitions = std::max<int64_t>(1, (total + po.target_nodes - 1) / po.target_nodes);
      std::vector<size_t> order(roots.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(),
                [&](size_t a, size_t b) { return roots[a].size > roots[b].size; });
      std::vector<int64_t> fill(static_cast<size_t>(partitions), 0);
      for (size_t i : order) {
        const auto lightest =
            static_cast<size_t>(std::min_element(fill.begin(), fill.end()) - fill.begin());
        slot[i] = static_cast<int64_t>(lightest);
        fill[lightest] += roots[i].size;
      }
    }
    std::lock_guard lock(write_mu_);
    storage::Transaction txn(*writer_);
    NS_RETURN_IF_ERROR(txn.Begin());
    NS_ASSIGN_OR_RETURN(std::optional<std::string> v,
                        storage::ReadMeta(*writer_, kPartitioningKey));
    if (ParseLayout(v).state != "none") {
      return Status::Busy("another process started partitioning this database; run it again");
    }
    const int64_t now = ids::NowMs();
    NS_ASSIGN_OR_RETURN(int64_t first,
                        writer_->QueryInt("SELECT ifnull(max(id), 0) + 1 FROM partitions"));
    NS_ASSIGN_OR_RETURN(Statement * ins,
                        writer_->Prepare("INSERT INTO partitions(id, opened_ms, last_access_ms) "
                                         "VALUES(?1, ?2, ?2)"));
    for (int64_t i = 0; i < partitions; ++i)
      NS_RETURN_IF_ERROR(ins->Bind(1, first + i).Bind(2, now).Run());
    NS_ASSIGN_OR_RETURN(Statement * upd,
                        writer_->Prepare("UPDATE nodes SET partition_id = ?2 WHERE rowid = ?1 AND "
                                         "parent_id = ''"));
    for (size_t i = 0; i < roots.size(); ++i) {
      NS_RETURN_IF_ERROR(upd->Bind(1, roots[i].rowid).Bind(2, first + slot[i]).Run());
    }
    layout.state = "splitting";
    layout.scheme = po.scheme;
    layout.target_nodes = po.target_nodes;
    layout.started_ms = now;
    NS_RETURN_IF_ERROR(PutMeta(*writer_, kPartitioningKey, LayoutJson(layout)));
    NS_RETURN_IF_ERROR(txn.Commit());
    report.roots = static_cast<int64_t>(roots.size());
  }
  report.plan_ms = MsSince(t);
  t = std::chrono::steady_clock::now();

  // 2. Roots still in no partition: created while the plan was made, or by
  // a process that did not know of the split yet.
  {
    std::lock_guard lock(write_mu_);
    storage::Transaction txn(*writer_);
    NS_RETURN_IF_ERROR(txn.Begin());
    NS_ASSIGN_OR_RETURN(std::vector<int64_t> unassigned,
                        Ints(*writer_,
                             "SELECT rowid FROM nodes WHERE parent_id = '' AND partition_id = 0 "
                             "ORDER BY created_at, rowid"));
    NS_ASSIGN_OR_RETURN(Statement * upd,
                        writer_->Prepare("UPDATE nodes SET partition_id = ?2 WHERE rowid = ?1"));
    NS_ASSIGN_OR_RETURN(Statement * count,
                        writer_->Prepare("UPDATE partitions SET node_count = node_count + 1 "
                                         "WHERE id = ?1"));
    for (int64_t rowid : unassigned) {
      NS_ASSIGN_OR_RETURN(int64_t p, PickPartitionForRoot(*writer_, layout, ids::NowMs()));
      NS_RETURN_IF_ERROR(upd->Bind(1, rowid).Bind(2, p).Run());
      NS_RETURN_IF_ERROR(count->Bind(1, p).Run());
    }
    NS_RETURN_IF_ERROR(txn.Commit());
    report.roots += static_cast<int64_t>(unassigned.size());
  }

  // 3. Every other node follows its root, a batch per transaction: reads
  // and writes go on in between. A write may disturb what a pass computed
  // (a subtree moved meanwhile); the next pass sees it.
  for (int pass = 0; pass < kOnlinePasses; ++pass) {
    std::vector<std::pair<int64_t, int64_t>> rows;
    {
      NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
      NS_ASSIGN_OR_RETURN(rows, Misplaced(*conn));
    }
    if (rows.empty()) break;
    for (size_t at = 0; at < rows.size(); at += batch) {
      std::lock_guard lock(write_mu_);
      storage::Transaction txn(*writer_);
      NS_RETURN_IF_ERROR(txn.Begin());
      NS_RETURN_IF_ERROR(MoveRows(*writer_, rows.data() + at, std::min(batch, rows.size() - at)));
      NS_RETURN_IF_ERROR(txn.Commit());
      ++report.batches;
    }
    report.rows_moved += static_cast<int64_t>(rows.size());
  }
  // 4. The last pass holds the write lock: what it leaves is final, and
  // from here on the write path keeps every node in its root's partition.
  std::vector<int64_t> ids;
  {
    std::lock_guard lock(write_mu_);
    storage::Transaction txn(*writer_);
    NS_RETURN_IF_ERROR(txn.Begin());
    NS_ASSIGN_OR_RETURN(auto rows, Misplaced(*writer_));
    NS_RETURN_IF_ERROR(MoveRows(*writer_, rows.data(), rows.size()));
    report.rows_moved += static_cast<int64_t>(rows.size());
    NS_ASSIGN_OR_RETURN(int64_t stray,
                        writer_->QueryInt("SELECT count(*) FROM nodes WHERE partition_id = 0"));
    if (stray != 0) {
      return Status::Internal("partitioning: " + std::to_string(stray) +
                              " nodes are in no partition after the split");
    }
    NS_RETURN_IF_ERROR(writer_->Exec(
        "UPDATE partitions SET node_count = (SELECT count(*) FROM nodes WHERE partition_id = "
        "partitions.id)"));
    NS_RETURN_IF_ERROR(txn.Commit());
    NS_ASSIGN_OR_RETURN(ids, Ints(*writer_, "SELECT id FROM partitions ORDER BY id"));
  }
  report.partitions = static_cast<int64_t>(ids.size());
  report.move_ms = MsSince(t);
  t = std::chrono::steady_clock::now();

  // 5. Each partition's vector index, built outside the write lock from
  // short read transactions, a slice of rows each (searches still use the
  // whole-database index meanwhile).
  {
    NS_ASSIGN_OR_RETURN(auto conn, storage::Connection::Open(db_file_, false, false));
    NS_RETURN_IF_ERROR(ConfigureConnection(*conn, false));
    NS_RETURN_IF_ERROR(vectors_->PreparePartitions(*conn, ids));
  }
  report.index_ms = MsSince(t);

  // 6. The layout goes live.
  {
    std::lock_guard lock(write_mu_);
    storage::Transaction txn(*writer_);
    NS_RETURN_IF_ERROR(txn.Begin());
    layout.state = "active";
    NS_RETURN_IF_ERROR(PutMeta(*writer_, kPartitioningKey, LayoutJson(layout)));
    NS_RETURN_IF_ERROR(txn.Commit());
    NS_RETURN_IF_ERROR(vectors_->Refresh(*writer_).status());
  }
  query_cache_->Clear();
  NS_RETURN_IF_ERROR(vectors_->DropWholeIndex());
  Log("partitioning: " + std::to_string(report.partitions) + " partitions (" +
      PartitionSchemeName(layout.scheme) + ", target " + std::to_string(layout.target_nodes) +
      " nodes); " + std::to_string(report.rows_moved) + " nodes moved in " +
      std::to_string(report.batches) + " batches");
  return report;
}

// ---- tiers ------------------------------------------------------------------------

Status Database::Impl::EnableTiering() {
  if (options_.read_only) return Status::NotSupported("database was opened read-only");
  if (options_.partitions.cold_after_ms < 0) {
    return Status::InvalidArgument("partitions.cold_after_ms must be >= 0");
  }
  return WriteMeta(
      {{kTieringKey, json{{"cold_after_ms", options_.partitions.cold_after_ms}}.dump()}}, "");
}

Result<std::vector<std::string>> Database::Impl::RunTierPass() {
  std::vector<std::string> lines;
  if (options_.read_only) return lines;
  int64_t cold_after = 0;
  struct Row {
    int64_t id, last_access, tier_since;
    std::string tier;
  };
  std::vector<Row> rows;
  {
    NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
    NS_ASSIGN_OR_RETURN(std::optional<std::string> tiering, storage::ReadMeta(*conn, kTieringKey));
    NS_ASSIGN_OR_RETURN(std::optional<std::string> layout,
                        storage::ReadMeta(*conn, kPartitioningKey));
    if (!tiering || ParseLayout(layout).state != "active") return lines;
    json j = json::parse(*tiering, nullptr, false);
    cold_after = j.is_object() ? j.value("cold_after_ms", options_.partitions.cold_after_ms)
                               : options_.partitions.cold_after_ms;
    // Storage costs: data turns cold (compacted, quantized, unloaded) four
    // times sooner.
    if (CostConfig().aggressive_archival) cold_after /= kAggressiveArchivalDivisor;
    NS_ASSIGN_OR_RETURN(Statement * stmt,
                        conn->Prepare("SELECT id, last_access_ms, tier_since_ms, tier FROM "
                                      "partitions ORDER BY id"));
    ScopedStatement s(*stmt);
    while (true) {
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      rows.push_back({s->ColumnInt(0), s->ColumnInt(1), s->ColumnInt(2), s->ColumnString(3)});
    }
  }
  std::map<int64_t, int64_t> seen;
  for (const PartitionVectorState& st : vectors_->Partitions()) seen[st.id] = st.last_access_ms;
  const int64_t now = ids::NowMs();
  NS_ASSIGN_OR_RETURN(auto conn, storage::Connection::Open(db_file_, false, false));
  NS_RETURN_IF_ERROR(ConfigureConnection(*conn, false));
  for (const Row& r : rows) {
    const int64_t access = std::max(r.last_access, seen[r.id]);
    std::string tier = r.tier;
    int64_t since = r.tier_since;
    if (tier != "cold" && now - access >= cold_after) {
      // Cold: no tombstone left, the graph walks 8-bit codes (a search of a
      // cold partition reads a quarter of the bytes from its mapped file),
      // and nothing of it stays in memory.
      NS_ASSIGN_OR_RETURN(VectorIndexStore * store, vectors_->LoadPartition(*conn, r.id));
      NS_ASSIGN_OR_RETURN(int64_t reclaimed, store->ReclaimTombstones(0.0));
      VectorIndexInfo info = store->Info();
      bool quantized = false;
      if (info.kind == VectorIndexKind::kHnsw && !info.tuning.int8 && info.size > 0) {
        VectorTuning tuning = info.tuning;
        tuning.int8 = true;
        NS_RETURN_IF_ERROR(vectors_->RetunePartition(*conn, r.id, tuning));
        quantized = true;
      }
      NS_RETURN_IF_ERROR(vectors_->Unload(r.id).status());
      tier = "cold";
      since = now;
      lines.push_back("partition " + std::to_string(r.id) + " turned cold after " +
                      std::to_string((now - access) / 1000) +
                      " s untouched: " + std::to_string(reclaimed) + " tombstones reclaimed" +
                      (quantized ? ", graph quantized to int8" : "") + ", index unloaded");
    } else if (tier == "cold" && access > r.tier_since) {
      tier = "hot";
      since = now;
      lines.push_back("partition " + std::to_string(r.id) + " turned hot (used again)");
    } else if (access == r.last_access) {
      continue;
    }
    std::lock_guard lock(write_mu_);
    NS_ASSIGN_OR_RETURN(Statement * upd,
                        writer_->Prepare("UPDATE partitions SET tier = ?2, tier_since_ms = ?3, "
                                         "last_access_ms = max(last_access_ms, ?4) WHERE id = ?1"));
    NS_RETURN_IF_ERROR(upd->Bind(1, r.id).Bind(2, tier).Bind(3, since).Bind(4, access).Run());
  }
  for (const std::string& line : lines) Log(line);
  return lines;
}

Result<std::vector<int64_t>> Database::Impl::UnloadPartitionsOverBudget(int64_t budget_bytes) {
  std::vector<PartitionVectorState> loaded;
  for (PartitionVectorState& st : vectors_->Partitions()) {
    if (st.loaded) loaded.push_back(std::move(st));
  }
  std::sort(loaded.begin(), loaded.end(),
            [](const auto& a, const auto& b) { return a.last_access_ms < b.last_access_ms; });
  std::vector<int64_t> unloaded;
  for (const PartitionVectorState& st : loaded) {
    if (scaling::ResidentBytes() <= budget_bytes) break;
    NS_ASSIGN_OR_RETURN(bool was, vectors_->Unload(st.id));
    malloc_trim(0);
    if (was) unloaded.push_back(st.id);
  }
  return unloaded;
}

// ---- status ------------------------------------------------------------------------

Result<PartitioningStatus> Database::Impl::GetPartitioningStatus() {
  PartitioningStatus out;
  NS_ASSIGN_OR_RETURN(ReaderLease conn, AcquireReader());
  storage::ReadTransaction snapshot(*conn);
  NS_RETURN_IF_ERROR(snapshot.Begin());
  NS_ASSIGN_OR_RETURN(std::optional<std::string> v, storage::ReadMeta(*conn, kPartitioningKey));
  const Layout l = ParseLayout(v);
  out.state = l.state;
  out.scheme = l.scheme;
  out.target_nodes = v ? l.target_nodes : 0;
  NS_ASSIGN_OR_RETURN(std::optional<std::string> tiering, storage::ReadMeta(*conn, kTieringKey));
  if (tiering) {
    json j = json::parse(*tiering, nullptr, false);
    out.tiering = true;
    out.cold_after_ms = j.is_object() ? j.value("cold_after_ms", int64_t{0}) : 0;
    if (CostConfig().aggressive_archival) out.cold_after_ms /= kAggressiveArchivalDivisor;
  }
  out.vector_service = VectorServiceState();
  if (l.state == "none") return out;
  NS_ASSIGN_OR_RETURN(out.unassigned_nodes,
                      conn->QueryInt("SELECT count(*) FROM nodes WHERE partition_id = 0"));
  std::map<int64_t, PartitionVectorState> mem;
  for (PartitionVectorState& st : vectors_->Partitions()) mem[st.id] = std::move(st);
  NS_ASSIGN_OR_RETURN(
      Statement * stmt,
      conn->Prepare("SELECT p.id, p.node_count, p.tier, p.tier_since_ms, p.last_access_ms, "
                    "(SELECT min(created_at) FROM nodes WHERE partition_id = p.id), (SELECT "
                    "max(created_at) FROM nodes WHERE partition_id = p.id) FROM partitions p "
                    "ORDER BY p.id"));
  ScopedStatement s(*stmt);
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    PartitionInfo p;
    p.id = s->ColumnInt(0);
    p.node_count = s->ColumnInt(1);
    p.tier = s->ColumnString(2);
    p.tier_since_ms = s->ColumnInt(3);
    p.last_access_ms = s->ColumnInt(4);
    p.min_created_ms = s->ColumnIsNull(5) ? 0 : s->ColumnInt(5);
    p.max_created_ms = s->ColumnIsNull(6) ? 0 : s->ColumnInt(6);
    auto it = mem.find(p.id);
    if (it != mem.end()) {
      p.last_access_ms = std::max(p.last_access_ms, it->second.last_access_ms);
      p.index_loaded = it->second.loaded;
      p.index_vectors = it->second.info.size;
      p.index_memory_bytes = it->second.info.memory_bytes;
      p.index_file_bytes = it->second.info.file_bytes;
      p.index_int8 = it->second.info.tuning.int8;
    }
    out.partitions.push_back(std::move(p));
  }
  return out;
}

Result<int64_t> Database::Impl::CompactPartition(int64_t id) {
  NS_ASSIGN_OR_RETURN(PartitioningStatus status, GetPartitioningStatus());
  if (status.state != "active") {
    return Status::NotSupported("the database is not partitioned (state " + status.state + ")");
  }
  const bool known = std::any_of(status.partitions.begin(), status.partitions.end(),
                                 [id](const PartitionInfo& p) { return p.id == id; });
  if (!known) return Status::NotFound("no partition " + std::to_string(id));
  NS_ASSIGN_OR_RETURN(auto conn, storage::Connection::Open(db_file_, false, false));
  NS_RETURN_IF_ERROR(ConfigureConnection(*conn, false));
  return vectors_->CompactPartition(*conn, id, 0.0);
}

// ---- public API -------------------------------------------------------------------

Result<PartitioningStatus> Database::GetPartitioningStatus() const {
  return impl_->GetPartitioningStatus();
}
Result<int64_t> Database::CompactPartition(int64_t id) {
  return impl_->CompactPartition(id);
}

}  // namespace nodespace
