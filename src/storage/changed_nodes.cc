#include "storage/changed_nodes.h"

#include <unordered_set>

#include "nodespace/change.h"

namespace nodespace::storage {

Result<ChangedNodes> ReadChangedNodes(Connection& conn, int64_t after_seq, int64_t up_to_seq,
                                      bool include_moves) {
  ChangedNodes out;
  std::unordered_set<std::string> seen;
  NS_ASSIGN_OR_RETURN(
      Statement * stmt,
      conn.Prepare("SELECT op, node_id, CASE WHEN op = ?3 THEN json_extract(payload, '$.row') "
                   "END FROM changes WHERE seq > ?1 AND seq <= ?2 ORDER BY seq"));
  ScopedStatement s(*stmt);
  s->Bind(1, after_seq).Bind(2, up_to_seq).Bind(3, static_cast<int64_t>(ChangeOp::kDelete));
  while (true) {
    NS_ASSIGN_OR_RETURN(bool more, s->Step());
    if (!more) break;
    const auto op = static_cast<ChangeOp>(s->ColumnInt(0));
    if (op == ChangeOp::kEdgeAdd || op == ChangeOp::kEdgeRemove) continue;
    if (op == ChangeOp::kMove && !include_moves) continue;
    if (op == ChangeOp::kDelete && !s->ColumnIsNull(2)) out.freed_rows.push_back(s->ColumnInt(2));
    std::string id(s->ColumnText(1));
    if (seen.insert(id).second) out.ids.push_back(std::move(id));
  }
  return out;
}

}  // namespace nodespace::storage
