#include "io/jsonl_export.h"

#include "io/node_json.h"

namespace nodespace::io {

Result<ExportSummary> ExportJsonl(const Database& db, std::ostream& out,
                                  const ExportOptions& options) {
  ExportSummary summary;
  std::vector<Edge> edges;  // written after all nodes so every endpoint exists on import
  Status visit_status;
  auto visit = [&](const Node& node, int /*depth*/) {
    out << NodeToJson(node, options.with_embeddings).dump() << '\n';
    ++summary.nodes;
    auto node_edges = db.Edges(node.id, /*outgoing=*/true);
    if (!node_edges.ok()) {
      visit_status = node_edges.status();
      return false;
    }
    for (auto& e : *node_edges) {
      if (e.type != kEdgeMentions) edges.push_back(std::move(e));
    }
    return static_cast<bool>(out);
  };
  SubtreeOptions all;
  all.include_archived = true;
  if (!options.root_id.empty()) {
    NS_RETURN_IF_ERROR(db.VisitSubtree(options.root_id, all, visit));
  } else {
    ListOptions list;
    list.include_archived = true;
    NS_ASSIGN_OR_RETURN(std::vector<Node> roots, db.Roots(list));
    for (const Node& root : roots) {
      NS_RETURN_IF_ERROR(db.VisitSubtree(root.id, all, visit));
      NS_RETURN_IF_ERROR(visit_status);
    }
  }
  NS_RETURN_IF_ERROR(visit_status);
  for (const Edge& e : edges) {
    out << EdgeToJson(e).dump() << '\n';
    ++summary.edges;
  }
  out.flush();
  if (!out) return Status::IOError("write failed while exporting (disk full?)");
  return summary;
}

}  // namespace nodespace::io
