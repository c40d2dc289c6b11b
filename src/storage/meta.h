// The `meta` table: small named settings of a database (embedding dimension,
// vector metric, embedder).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "storage/sqlite.h"

namespace nodespace::storage {

// The value stored under `key`, or nullopt when there is none.
inline Result<std::optional<std::string>> ReadMeta(Connection& conn, std::string_view key) {
  NS_ASSIGN_OR_RETURN(Statement * stmt, conn.Prepare("SELECT value FROM meta WHERE key = ?1"));
  ScopedStatement s(*stmt);
  s->Bind(1, key);
  NS_ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(s->ColumnString(0));
}

}  // namespace nodespace::storage
