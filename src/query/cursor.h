// Pagination cursors: opaque to callers, self-contained for the engine.
//
// A cursor names the query it belongs to (a hash of its canonical JSON), the
// highest row that existed when the first page ran (rows inserted later never
// shift later pages), and where the next page starts: after a sort-key tuple
// (keyset, for field sorts) or at an offset into the ranked candidates.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nodespace/query.h"

namespace nodespace::query {

struct Cursor {
  uint64_t query_hash = 0;
  int64_t ceiling = 0;  // max rowid at the first page
  bool keyset = false;
  int64_t offset = 0;                   // !keyset
  std::vector<QueryValue> sort_values;  // keyset: the last hit's sort keys
  int64_t last_rowid = 0;               // keyset: the last hit's row
};

std::string EncodeCursor(const Cursor& cursor);
// InvalidArgument("cursor: ...") for anything this engine did not write.
Result<Cursor> DecodeCursor(const std::string& text);

}  // namespace nodespace::query
