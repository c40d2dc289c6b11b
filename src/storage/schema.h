// The SQLite schema and its migrations. docs/formats/database.md describes
// the tables; PRAGMA user_version holds the schema version.
#pragma once

#include "nodespace/status.h"
#include "storage/sqlite.h"

namespace nodespace::storage {

inline constexpr int kSchemaVersion = 5;

// Brings a database to kSchemaVersion: creates it when empty, runs each
// missing migration step in one transaction, and refuses (NotSupported) a
// schema newer than this build.
Status MigrateSchema(Connection& conn);

// Builds the schema exactly as version `version` had it (tests use this to
// prove that older databases migrate).
Status CreateSchemaAtVersion(Connection& conn, int version);

// The version stored in the file (0 for a new, empty file).
Result<int> StoredSchemaVersion(Connection& conn);

}  // namespace nodespace::storage
