#include "storage/schema.h"

#include <string>

namespace nodespace::storage {
namespace {

// Each step takes the schema from version i to i + 1. Steps are append-only:
// a released step never changes, so every older file migrates the same way.
const char* const kMigrationSteps[] = {
    // 0 -> 1: nodes, edges, change log.
    R"sql(
CREATE TABLE meta(
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE nodes(
  rowid       INTEGER PRIMARY KEY,
  id          TEXT NOT NULL UNIQUE,
  parent_id   TEXT NOT NULL DEFAULT '',
  order_key   TEXT NOT NULL,
  node_type   TEXT NOT NULL,
  content     TEXT NOT NULL,
  title       TEXT NOT NULL DEFAULT '',
  properties  TEXT NOT NULL DEFAULT '{}',
  lifecycle   INTEGER NOT NULL DEFAULT 0,
  version     INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  modified_at INTEGER NOT NULL,
  embedding   BLOB
);
CREATE UNIQUE INDEX nodes_by_parent ON nodes(parent_id, order_key);
CREATE INDEX nodes_by_type ON nodes(node_type);
CREATE TABLE edges(
  from_id    TEXT NOT NULL,
  to_id      TEXT NOT NULL,
  type       TEXT NOT NULL,
  properties TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY(from_id, type, to_id)
) WITHOUT ROWID;
CREATE INDEX edges_by_target ON edges(to_id, type, from_id);
CREATE TABLE changes(
  seq     INTEGER PRIMARY KEY AUTOINCREMENT,
  ts      INTEGER NOT NULL,
  op      INTEGER NOT NULL,
  node_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  payload TEXT NOT NULL DEFAULT '{}'
);
)sql",
    // 1 -> 2: the writer's origin on each change (for echo suppression), and
    // an index for date-range filters and time-based partitioning.
    R"sql(
ALTER TABLE changes ADD COLUMN origin TEXT NOT NULL DEFAULT '';
CREATE INDEX nodes_by_created ON nodes(created_at);
)sql",
    // 2 -> 3: full-text index over title and content. External content (the
    // text lives once, in `nodes`); triggers keep it in the same transaction
    // as every node write, so it can never disagree with the store.
    // porter(unicode61) gives case and diacritic folding plus English stems.
    R"sql(
CREATE VIRTUAL TABLE nodes_fts USING fts5(
  title, content,
  content = 'nodes', content_rowid = 'rowid',
  tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE nodes_fts_terms USING fts5vocab(nodes_fts, 'row');
CREATE TRIGGER nodes_fts_insert AFTER INSERT ON nodes BEGIN
  INSERT INTO nodes_fts(rowid, title, content) VALUES (new.rowid, new.title, new.content);
END;
CREATE TRIGGER nodes_fts_delete AFTER DELETE ON nodes BEGIN
  INSERT INTO nodes_fts(nodes_fts, rowid, title, content)
    VALUES ('delete', old.rowid, old.title, old.content);
END;
CREATE TRIGGER nodes_fts_update AFTER UPDATE OF title, content ON nodes
  WHEN old.title IS NOT new.title OR old.content IS NOT new.content BEGIN
  INSERT INTO nodes_fts(nodes_fts, rowid, title, content)
    VALUES ('delete', old.rowid, old.title, old.content);
  INSERT INTO nodes_fts(rowid, title, content) VALUES (new.rowid, new.title, new.content);
END;
INSERT INTO nodes_fts(nodes_fts) VALUES ('rebuild');
)sql",
    // 3 -> 4: what the scaling manager did (include/nodespace/scaling.h).
    R"sql(
CREATE TABLE scaling_events(
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms     INTEGER NOT NULL,
  trigger     TEXT NOT NULL,
  action      TEXT NOT NULL,
  result      TEXT NOT NULL,
  message     TEXT NOT NULL,
  detail      TEXT NOT NULL DEFAULT '{}',
  metrics     TEXT NOT NULL DEFAULT '{}',
  duration_ms REAL NOT NULL DEFAULT 0
);
)sql",
    // 4 -> 5: partitions (docs/PARTITIONS.md). A node's partition is its
    // root's (0: not partitioned); the index serves per-partition vector
    // builds and the created_at bounds that time filters prune by. Adding a
    // column with a constant default rewrites no row.
    R"sql(
ALTER TABLE nodes ADD COLUMN partition_id INTEGER NOT NULL DEFAULT 0;
CREATE INDEX nodes_by_partition ON nodes(partition_id, created_at);
CREATE TABLE partitions(
  id             INTEGER PRIMARY KEY,
  opened_ms      INTEGER NOT NULL,
  node_count     INTEGER NOT NULL DEFAULT 0,
  tier           TEXT NOT NULL DEFAULT 'hot',
  last_access_ms INTEGER NOT NULL DEFAULT 0,
  tier_since_ms  INTEGER NOT NULL DEFAULT 0
);
)sql",
};
static_assert(sizeof(kMigrationSteps) / sizeof(kMigrationSteps[0]) == kSchemaVersion);

Status RunSteps(Connection& conn, int from, int to) {
  for (int v = from; v < to; ++v) {
    Transaction txn(conn);
    NS_RETURN_IF_ERROR(txn.Begin());
    // Another process may have migrated while we waited for the lock.
    NS_ASSIGN_OR_RETURN(int64_t now, conn.QueryInt("PRAGMA user_version"));
    if (now > v) continue;
    Status st = conn.Exec(kMigrationSteps[v]);
    if (!st.ok()) {
      return st.WithContext("migrating schema from version " + std::to_string(v) + " to " +
                            std::to_string(v + 1));
    }
    NS_RETURN_IF_ERROR(conn.Exec("PRAGMA user_version = " + std::to_string(v + 1)));
    NS_RETURN_IF_ERROR(txn.Commit());
  }
  return Status::OK();
}

}  // namespace

Result<int> StoredSchemaVersion(Connection& conn) {
  NS_ASSIGN_OR_RETURN(int64_t v, conn.QueryInt("PRAGMA user_version"));
  return static_cast<int>(v);
}

Status MigrateSchema(Connection& conn) {
  NS_ASSIGN_OR_RETURN(int stored, StoredSchemaVersion(conn));
  if (stored > kSchemaVersion) {
    return Status::NotSupported("database schema version " + std::to_string(stored) +
                                " is newer than this build supports (" +
                                std::to_string(kSchemaVersion) + "); upgrade nodespace to open it");
  }
  if (stored == 0) {
    // A file with tables but no version is not ours.
    NS_ASSIGN_OR_RETURN(int64_t tables,
                        conn.QueryInt("SELECT count(*) FROM sqlite_master WHERE type='table'"));
    if (tables > 0) {
      return Status::Corruption(
          "file has tables but no NodeSpace schema version; "
          "not a NodeSpace database");
    }
  }
  return RunSteps(conn, stored, kSchemaVersion);
}

Status CreateSchemaAtVersion(Connection& conn, int version) {
  if (version < 1 || version > kSchemaVersion) {
    return Status::InvalidArgument("no schema version " + std::to_string(version));
  }
  return RunSteps(conn, 0, version);
}

}  // namespace nodespace::storage
