#include "markdown/collections.h"

#include "markdown/stable_id.h"

namespace nodespace::markdown {

Result<std::string> CollectionResolver::Resolve(const std::string& path, WriteBatch* batch) {
  return Walk(path, batch);
}

Result<std::string> CollectionResolver::Find(const std::string& path) {
  return Walk(path, nullptr);
}

Result<std::map<std::string, std::string>*> CollectionResolver::ChildrenOf(
    const std::string& parent) {
  auto it = children_.find(parent);
  if (it != children_.end()) return &it->second;
  std::map<std::string, std::string> names;
  if (parent.empty()) {
    ListOptions lo;
    lo.include_archived = true;
    NS_ASSIGN_OR_RETURN(std::vector<Node> roots, db_.Roots(lo));
    for (const Node& n : roots) {
      if (n.node_type != "collection") continue;
      NS_ASSIGN_OR_RETURN(std::vector<Edge> up, db_.Edges(n.id, true, kEdgeMemberOf));
      if (up.empty()) names.emplace(n.content, n.id);  // the first one wins, like the engine
    }
  } else {
    NS_ASSIGN_OR_RETURN(std::vector<Edge> members, db_.Edges(parent, false, kEdgeMemberOf));
    for (const Edge& e : members) {
      auto n = db_.Get(e.from_id);
      if (n.ok() && n->node_type == "collection") names.emplace(n->content, n->id);
    }
  }
  return &children_.emplace(parent, std::move(names)).first->second;
}

Result<std::string> CollectionResolver::Walk(const std::string& path, WriteBatch* batch) {
  auto cached = by_path_.find(path);
  if (cached != by_path_.end()) return cached->second;
  std::string current, prefix;
  size_t start = 0;
  while (start <= path.size()) {
    size_t colon = path.find(':', start);
    if (colon == std::string::npos) colon = path.size();
    const std::string part = path.substr(start, colon - start);
    if (part.empty())
      return Status::InvalidArgument("collection path '" + path + "' has an empty part");
    prefix += (prefix.empty() ? "" : ":") + part;
    NS_ASSIGN_OR_RETURN(auto* names, ChildrenOf(current));
    auto it = names->find(part);
    if (it == names->end()) {
      if (batch == nullptr) return std::string();
      NewNode c;
      c.id = StableId("collection\n" + prefix);
      c.node_type = "collection";
      c.content = part;
      batch->Create(c);
      if (!current.empty()) batch->AddEdge({c.id, current, kEdgeMemberOf, "{}"});
      it = names->emplace(part, c.id).first;
      children_[c.id];  // a new collection has no children yet
    }
    current = it->second;
    start = colon + 1;
  }
  by_path_[path] = current;
  return current;
}

}  // namespace nodespace::markdown
