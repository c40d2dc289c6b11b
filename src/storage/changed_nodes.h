// What the change log says changed between two sequences: what a derived
// index (the hierarchy index, the text index) reads to catch up.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "nodespace/status.h"
#include "storage/sqlite.h"

namespace nodespace::storage {

struct ChangedNodes {
  // Nodes written (created, updated, deleted, and moved when asked), each
  // once, in the order of their first change; read their rows again.
  std::vector<std::string> ids;
  // The storage rows deletes freed (from each delete's payload): a freed row
  // may hold a new node by now, so these are dropped before rows are read.
  std::vector<int64_t> freed_rows;
};

// Whether rows up to `highest_row` may be array indexes for `nodes` nodes:
// derived indexes address rows by rowid, which the store assigns densely;
// rowids written by hand can leave holes that would waste memory, so more
// than four slots per node (plus slack for small databases) is refused.
inline bool RowsFitArray(int64_t highest_row, int64_t nodes) {
  constexpr int64_t kMaxSlotsPerNode = 4;
  constexpr int64_t kSlotSlack = 1 << 16;
  constexpr int64_t kMaxRow = std::numeric_limits<uint32_t>::max() - 1;
  return highest_row <= std::min(kMaxRow, nodes * kMaxSlotsPerNode + kSlotSlack);
}

// The changes after `after_seq` up to `up_to_seq`; links never count.
Result<ChangedNodes> ReadChangedNodes(Connection& conn, int64_t after_seq, int64_t up_to_seq,
                                      bool include_moves);

}  // namespace nodespace::storage
