// Markdown text (not a folder) to nodes: what an assistant or an editor's
// paste hands the engine. It reuses the file planner, so a pasted note
// becomes the same nodes as the same text imported from a file.
#include <map>

#include "markdown/planner.h"
#include "model/ids.h"
#include "nodespace/markdown.h"

namespace nodespace {

Result<std::vector<std::string>> CreateNodesFromMarkdown(Database& db, const std::string& text,
                                                         const std::string& parent_id,
                                                         const std::string& title,
                                                         const WriteOptions& options) {
  if (text.empty()) return Status::InvalidArgument("markdown: nothing to create");
  const std::string page = title.empty() ? "Untitled" : title;
  markdown::FileInput in;
  in.text = text;
  in.rel_path = page + ".md";
  in.flavor = MarkdownFlavor::kMarkdown;
  in.vault = ids::NewUuidV7();  // derived ids are new on every call
  auto resolve = [&](const std::string& target) {
    return db.Get(target).ok() ? target : std::string();
  };
  NS_ASSIGN_OR_RETURN(markdown::PlannedFile plan, markdown::PlanFile(in, resolve));
  if (plan.nodes.empty()) return Status::InvalidArgument("markdown: nothing to create");

  // The planned root is the page; without a title under a parent, its
  // blocks go straight under the parent.
  const bool keep_root = parent_id.empty() || !title.empty();
  std::map<std::string, std::string> new_id;  // planned id -> fresh id
  new_id[plan.nodes[0].id] = keep_root ? ids::NewUuidV7() : parent_id;
  WriteBatch batch;
  std::vector<std::string> created;
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    const markdown::PlannedNode& n = plan.nodes[i];
    if (i == 0 && !keep_root) continue;
    NewNode nn;
    nn.id = i == 0 ? new_id[n.id] : (new_id[n.id] = ids::NewUuidV7());
    nn.parent_id = i == 0 ? parent_id : new_id[n.parent_id];
    nn.node_type = n.node_type;
    nn.content = i == 0 ? page : n.content;
    nlohmann::json props = n.properties;
    if (i == 0) props.erase("import");  // not from a vault file
    nn.properties = props.dump();
    created.push_back(nn.id);
    batch.Create(std::move(nn));
  }
  if (batch.empty()) return Status::InvalidArgument("markdown: no blocks in the text");
  WriteOptions atomic = options;
  atomic.atomic = true;
  NS_RETURN_IF_ERROR(db.Write(batch, atomic).status());
  return created;
}

}  // namespace nodespace
