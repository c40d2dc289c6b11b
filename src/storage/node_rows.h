// How a Node maps onto a row of the `nodes` table.
#pragma once

#include <cstring>
#include <string>

#include "nodespace/node.h"
#include "storage/sqlite.h"

namespace nodespace::storage {

// The column list every node SELECT uses, in ReadNodeRow's order.
inline constexpr const char* kNodeColumns =
    "id, parent_id, order_key, node_type, content, title, properties, lifecycle, version, "
    "created_at, modified_at, embedding";
inline constexpr int kNodeColumnCount = 12;

// Reads the node whose columns start at `first` in the current row.
inline Node ReadNodeRow(const Statement& s, int first = 0) {
  Node n;
  n.id = s.ColumnString(first + 0);
  n.parent_id = s.ColumnString(first + 1);
  n.order_key = s.ColumnString(first + 2);
  n.node_type = s.ColumnString(first + 3);
  n.content = s.ColumnString(first + 4);
  n.title = s.ColumnString(first + 5);
  n.properties = s.ColumnString(first + 6);
  n.lifecycle = static_cast<Lifecycle>(s.ColumnInt(first + 7));
  n.version = s.ColumnInt(first + 8);
  n.created_at = s.ColumnInt(first + 9);
  n.modified_at = s.ColumnInt(first + 10);
  if (!s.ColumnIsNull(first + 11)) {
    const int bytes = s.ColumnBytes(first + 11);
    n.embedding.resize(bytes / sizeof(float));
    if (bytes > 0) std::memcpy(n.embedding.data(), s.ColumnBlob(first + 11), bytes);
  }
  return n;
}

}  // namespace nodespace::storage
