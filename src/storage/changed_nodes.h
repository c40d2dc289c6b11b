// What the change log says changed between two sequences: what a derived
// index (the hierarchy index, the text index) reads to catch up.
#pragma once

#include <cstdint>
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

// The changes after `after_seq` up to `up_to_seq`; links never count.
Result<ChangedNodes> ReadChangedNodes(Connection& conn, int64_t after_seq, int64_t up_to_seq,
                                      bool include_moves);

}  // namespace nodespace::storage
