// The change log: one row per mutation, numbered without gaps in commit order.
//
// Every derived structure (indexes, caches, subscribers, a future PostgreSQL
// replica feed) records the last sequence it applied and catches up from here.
#pragma once

#include <cstdint>
#include <string>

#include "nodespace/node.h"

namespace nodespace {

enum class ChangeOp : uint8_t {
  kCreate = 1,
  kUpdate = 2,
  kMove = 3,
  kDelete = 4,
  kEdgeAdd = 5,
  kEdgeRemove = 6,
};

const char* ChangeOpName(ChangeOp op);  // "create", "update", ...

struct Change {
  int64_t seq = 0;
  TimestampMs timestamp = 0;
  ChangeOp op = ChangeOp::kCreate;
  std::string node_id;
  int64_t version = 0;  // the node's version after the change (0 for deletes)
  std::string origin;   // WriteOptions::origin of the writer
  std::string payload;  // JSON with op-specific details (parent, edge, ...)
};

}  // namespace nodespace
