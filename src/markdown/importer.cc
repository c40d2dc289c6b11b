// ImportMarkdown: walks a folder in two passes. The first reads every file's
// head (front matter / page properties) to learn what links may call it, and
// whether its bytes changed since the last import; the second plans each
// changed file (planner.h) and turns the plan into the writes that make the
// database match it. Only paths and names are held for the whole vault;
// file contents are read one at a time.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <system_error>
#include <unordered_map>

#include "markdown/collections.h"
#include "markdown/dialect.h"
#include "markdown/planner.h"
#include "markdown/refs.h"
#include "markdown/stable_id.h"
#include "model/content.h"
#include "model/ids.h"
#include "nodespace/markdown.h"

namespace nodespace {
namespace fs = std::filesystem;
using nlohmann::json;

const char* MarkdownFlavorName(MarkdownFlavor flavor) {
  switch (flavor) {
    case MarkdownFlavor::kAuto:
      return "auto";
    case MarkdownFlavor::kMarkdown:
      return "markdown";
    case MarkdownFlavor::kObsidian:
      return "obsidian";
    case MarkdownFlavor::kLogseq:
      return "logseq";
  }
  return "markdown";
}

std::optional<MarkdownFlavor> ParseMarkdownFlavor(const std::string& name) {
  for (auto f : {MarkdownFlavor::kAuto, MarkdownFlavor::kMarkdown, MarkdownFlavor::kObsidian,
                 MarkdownFlavor::kLogseq}) {
    if (name == MarkdownFlavorName(f)) return f;
  }
  return std::nullopt;
}

namespace markdown {
namespace {

// Bumped when the planner maps a file differently: every file re-imports.
// md2: thematic breaks, ordered-list starts, [-]/[/] tasks, the memberships
// a file gave recorded on its nodes.
constexpr const char* kPlanVersion = "md2";
constexpr const char* kUnresolvedCollection = "import:unresolved";

struct FileEntry {
  std::string rel;  // '/'-separated, relative to the folder
  fs::path path;
  uint64_t size = 0;
  std::string root_id;
  std::string hash;
  bool failed = false;
  bool unchanged = false;
};

bool IsUnder(const fs::path& p, const fs::path& root) {
  auto r = root.begin(), q = p.begin();
  for (; r != root.end(); ++r, ++q) {
    if (q == p.end() || *q != *r) return false;
  }
  return true;
}

bool IsMarkdownFile(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".md" || ext == ".markdown";
}

// Reads the whole file and checks it is text: no NUL bytes, valid UTF-8.
Status ReadText(const fs::path& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read the file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IOError("read error");
  *out = std::move(ss).str();
  if (out->find('\0') != std::string::npos)
    return Status::InvalidArgument("binary file (NUL bytes)");
  size_t bad = 0;
  if (!content::IsValidUtf8(*out, &bad)) {
    return Status::InvalidArgument("invalid UTF-8 at byte " + std::to_string(bad));
  }
  return Status::OK();
}

json ParseProps(const std::string& text) {
  json j = json::parse(text.empty() ? "{}" : text, nullptr, false);
  return j.is_object() ? j : json::object();
}

class Importer {
 public:
  Importer(Database& db, const MarkdownImportOptions& options)
      : db_(db), o_(options), collections_(db) {}

  Result<MarkdownImportReport> Run(const std::string& folder) {
    std::error_code ec;
    root_ = fs::canonical(folder, ec);
    if (ec || !fs::is_directory(root_, ec)) {
      return Status::NotFound("folder '" + folder + "' not found or not a directory");
    }
    flavor_ = o_.flavor == MarkdownFlavor::kAuto ? DetectFlavor(root_) : o_.flavor;
    report_.flavor = flavor_;
    vault_ = o_.vault_name.empty() ? root_.filename().string() : o_.vault_name;
    NS_RETURN_IF_ERROR(ListFiles());
    report_.files = files_.size();
    progress_.files_total = files_.size();
    for (const auto& f : files_) progress_.bytes_total += f.size;
    NS_RETURN_IF_ERROR(ReadHeads());
    for (auto& f : files_) {
      if (!f.failed && !f.unchanged) NS_RETURN_IF_ERROR(ImportFile(f));
      ++progress_.files_done;
      progress_.bytes_read += f.size;
      if (o_.on_progress) o_.on_progress(progress_);
      if (batch_.size() >= o_.batch_size) NS_RETURN_IF_ERROR(Flush());
    }
    NS_RETURN_IF_ERROR(Flush());
    NS_RETURN_IF_ERROR(ResolveOlderLinks());
    if (o_.archive_removed) NS_RETURN_IF_ERROR(ArchiveRemoved());
    return std::move(report_);
  }

 private:
  void Fail(FileEntry* f, const std::string& reason) {
    if (f != nullptr) {
      if (f->failed) return;  // one message per file
      f->failed = true;
    }
    ++report_.files_failed;
    std::string msg = (f ? f->rel : std::string("?")) + ": " + reason;
    if (o_.on_error) o_.on_error(msg);
    report_.errors.push_back(std::move(msg));
  }

  Status ListFiles() {
    std::error_code ec;
    fs::recursive_directory_iterator it(root_, fs::directory_options::skip_permission_denied, ec);
    if (ec) return Status::IOError("cannot list '" + root_.string() + "': " + ec.message());
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) return Status::IOError("cannot list '" + root_.string() + "': " + ec.message());
      const fs::path& p = it->path();
      const std::string name = p.filename().string();
      const std::string rel = p.lexically_relative(root_).generic_string();
      const bool is_link = it->is_symlink(ec);
      if (!name.empty() && name[0] == '.') {  // .obsidian, .git, .trash, ...
        if (!is_link && it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (flavor_ == MarkdownFlavor::kLogseq && it.depth() == 0 && name == "logseq") {
        it.disable_recursion_pending();  // Logseq's config and backups
        continue;
      }
      if (is_link) {
        const fs::path target = fs::weakly_canonical(p, ec);
        if (ec || !IsUnder(target, root_)) {
          if (IsMarkdownFile(p) || fs::is_directory(target, ec)) {
            ++report_.files_failed;
            std::string msg = rel + ": symbolic link leads outside the folder; not followed";
            if (o_.on_error) o_.on_error(msg);
            report_.errors.push_back(std::move(msg));
          }
          continue;
        }
        // Inside the folder: a file is read through the link, a directory
        // is not entered (its files are found under their own path).
        if (!fs::is_regular_file(target, ec) || !IsMarkdownFile(p)) continue;
      } else if (!it->is_regular_file(ec) || !IsMarkdownFile(p)) {
        continue;
      }
      FileEntry f;
      f.rel = rel;
      f.path = p;
      f.size = fs::file_size(p, ec);
      files_.push_back(std::move(f));
    }
    std::sort(files_.begin(), files_.end(),
              [](const FileEntry& a, const FileEntry& b) { return a.rel < b.rel; });
    return Status::OK();
  }

  // Pass 1: names for link resolution, and which files are unchanged.
  Status ReadHeads() {
    std::string text;
    for (auto& f : files_) {
      Status st = ReadText(f.path, &text);
      if (!st.ok()) {
        Fail(&f, st.message());
        continue;
      }
      FileInput in{text, f.rel, flavor_, vault_};
      auto head = ReadPageHead(in);
      if (!head.ok()) {
        Fail(&f, head.status().message());
        continue;
      }
      f.root_id = head->root_id;
      f.hash = ContentHash(text + "\n" + MarkdownFlavorName(flavor_) + "\n" + vault_ + "\n" +
                           kPlanVersion);
      for (const auto& name : head->names) names_.emplace(name, f.root_id);
      if (ids::IsDateId(f.root_id)) date_roots_.insert(f.root_id);
      auto stored = db_.Get(f.root_id);
      if (stored.ok() && stored->lifecycle == Lifecycle::kActive) {
        const json props = ParseProps(stored->properties);
        const json* imp = props.contains("import") ? &props["import"] : nullptr;
        if (imp && imp->value("hash", "") == f.hash && imp->value("path", "") == f.rel) {
          f.unchanged = true;
          ++report_.files_unchanged;
        }
      } else if (!stored.ok() && !stored.status().IsNotFound()) {
        return stored.status();
      }
    }
    return Status::OK();
  }

  // "Note" -> its root; "Note#Heading" -> the heading's node in that file
  // (else the root); a node id -> itself.
  std::string ResolveName(const std::string& target) {
    const size_t hash = target.find('#');
    const std::string base = target.substr(0, hash);
    auto it = names_.find(NormalizeName(base));
    if (it != names_.end()) {
      if (hash == std::string::npos) return it->second;
      const std::map<std::string, std::string>& headings = HeadingsOf(it->second);
      auto h = headings.find(HeadingKey(target.substr(hash + 1)));
      return h != headings.end() ? h->second : it->second;
    }
    // A journal page named by its date ([[Nov 29th, 2026]], [[2026-11-29]]):
    // the date node, when this import or an earlier one made it.
    const std::string date = LinkedDate(base);
    if (!date.empty() && (date_roots_.count(date) || db_.Get(date).ok())) return date;
    if (ids::IsValidId(base, 256) && db_.Get(base).ok()) return base;
    return "";
  }

  // The headings of the file whose root is `root_id`, planned once when a
  // link first names one of them.
  const std::map<std::string, std::string>& HeadingsOf(const std::string& root_id) {
    auto cached = headings_.find(root_id);
    if (cached != headings_.end()) return cached->second;
    std::map<std::string, std::string>& out = headings_[root_id];
    for (const FileEntry& f : files_) {
      if (f.root_id != root_id || f.failed) continue;
      std::string text;
      if (!ReadText(f.path, &text).ok()) break;
      FileInput in{text, f.rel, flavor_, vault_};
      auto planned = PlanFile(in, [](const std::string&) { return std::string(); });
      if (planned.ok()) out = std::move(planned->headings);
      break;
    }
    return out;
  }

  // Pass 2 for one file: plan it, compare with what is stored, queue writes.
  Status ImportFile(FileEntry& f) {
    std::string text;
    Status st = ReadText(f.path, &text);
    if (!st.ok()) {
      Fail(&f, st.message());
      return Status::OK();
    }
    FileInput in{text, f.rel, flavor_, vault_};
    auto planned = PlanFile(in, [&](const std::string& t) { return ResolveName(t); });
    if (!planned.ok()) {
      Fail(&f, planned.status().message());
      return Status::OK();
    }
    PlannedFile& plan = *planned;
    report_.links_resolved += plan.links_resolved;
    PlannedNode& root = plan.nodes[0];
    root.properties["import"] = {{"vault", vault_},
                                 {"path", f.rel},
                                 {"hash", f.hash},
                                 {"flavor", MarkdownFlavorName(flavor_)}};

    // What is stored now under the root.
    std::unordered_map<std::string, Node> old;
    std::map<std::string, std::vector<std::string>> kids;  // parent -> children, in order
    std::unordered_map<std::string, std::string> parent_of;
    auto stored_root = db_.Get(root.id);
    if (stored_root.ok()) {
      SubtreeOptions so;
      so.include_archived = true;
      NS_RETURN_IF_ERROR(db_.VisitSubtree(root.id, so, [&](const Node& n, int) {
        if (!n.parent_id.empty()) kids[n.parent_id].push_back(n.id);
        parent_of[n.id] = n.parent_id;
        old.emplace(n.id, n);
        return true;
      }));
    } else if (!stored_root.status().IsNotFound()) {
      return stored_root.status();
    }

    std::set<std::string> planned_ids;
    std::map<std::string, std::string> last_child;  // parent -> last planned child so far
    for (PlannedNode& n : plan.nodes) {
      planned_ids.insert(n.id);
      for (const auto& u : n.unresolved) report_.unresolved.push_back(f.rel + ": [[" + u + "]]");
      // The memberships this import gives (folders, tags) are remembered, so
      // that a tag removed from the file later removes its membership while
      // collections added in NodeSpace stay.
      if (!n.collections.empty()) n.properties["import"]["collections"] = n.collections;
      if (!n.unresolved.empty()) n.collections.push_back(kUnresolvedCollection);
      const std::string prev = n.parent_id.empty() ? "" : last_child[n.parent_id];
      if (!n.parent_id.empty()) last_child[n.parent_id] = n.id;

      const Node* existing = nullptr;
      Node elsewhere;
      auto it = old.find(n.id);
      if (it != old.end()) {
        existing = &it->second;
      } else if (n.explicit_id || n.parent_id.empty()) {
        auto got = db_.Get(n.id);
        if (got.ok()) {
          elsewhere = std::move(got).value();
          existing = &elsewhere;
          parent_of[n.id] = elsewhere.parent_id;
          auto& sibs = kids[elsewhere.parent_id];
          if (std::find(sibs.begin(), sibs.end(), n.id) == sibs.end()) {
            // Siblings outside this file's subtree are not loaded; placing
            // the node explicitly below is always right.
            sibs.push_back(n.id);
          }
        } else if (!got.status().IsNotFound()) {
          return got.status();
        }
      }
      std::vector<std::string> member_of;
      if (existing == nullptr) {
        NewNode nn;
        nn.id = n.id;
        nn.parent_id = n.parent_id;
        nn.node_type = n.node_type;
        nn.content = n.content;
        nn.properties = n.properties.dump();
        if (!n.parent_id.empty()) {
          nn.position = prev.empty() ? Position::First() : Position::After(prev);
          auto& sibs = kids[n.parent_id];
          auto at = prev.empty() ? sibs.begin() : std::find(sibs.begin(), sibs.end(), prev) + 1;
          sibs.insert(at, n.id);
          parent_of[n.id] = n.parent_id;
        }
        Queue(f, Op::kCreate);
        batch_.Create(std::move(nn));
      } else {
        NodePatch patch;
        if (existing->node_type != n.node_type) patch.node_type = n.node_type;
        if (existing->content != n.content) patch.content = n.content;
        if (ParseProps(existing->properties) != n.properties)
          patch.properties = n.properties.dump();
        if (existing->lifecycle != Lifecycle::kActive) patch.lifecycle = Lifecycle::kActive;
        const bool changed =
            patch.node_type || patch.content || patch.properties || patch.lifecycle;
        if (changed || n.version) {
          // An exported version makes the edit conditional: a node changed
          // in the database since the export is a conflict, not overwritten.
          if (changed) {
            Queue(f, Op::kUpdate);
            batch_.Update(n.id, std::move(patch), n.version.value_or(kAnyVersion));
          }
        }
        if (!n.parent_id.empty()) {
          auto& cur_sibs = kids[parent_of[n.id]];
          auto pos = std::find(cur_sibs.begin(), cur_sibs.end(), n.id);
          const std::string cur_prev =
              pos == cur_sibs.end() || pos == cur_sibs.begin() ? "" : *(pos - 1);
          if (parent_of[n.id] != n.parent_id || cur_prev != prev) {
            if (pos != cur_sibs.end()) cur_sibs.erase(pos);
            auto& sibs = kids[n.parent_id];
            auto at = prev.empty() ? sibs.begin() : std::find(sibs.begin(), sibs.end(), prev) + 1;
            sibs.insert(at, n.id);
            parent_of[n.id] = n.parent_id;
            Queue(f, Op::kMove);
            batch_.Move(n.id, n.parent_id,
                        prev.empty() ? Position::First() : Position::After(prev));
          }
        }
        auto current = db_.CollectionsOf(n.id);
        if (!current.ok()) return current.status();
        member_of = std::move(current).value();
        NS_RETURN_IF_ERROR(DropRemovedMemberships(f, *existing, n, member_of));
      }
      for (const auto& path : n.collections) {
        if (std::find(member_of.begin(), member_of.end(), path) != member_of.end()) continue;
        auto coll = collections_.Resolve(path, &batch_);
        if (!coll.ok()) {
          Fail(&f, coll.status().message());
          continue;
        }
        Queue(f, Op::kEdge);
        batch_.AddEdge({n.id, *coll, kEdgeMemberOf, "{}"});
      }
      const bool was_unresolved =
          std::find(member_of.begin(), member_of.end(), kUnresolvedCollection) != member_of.end();
      if (was_unresolved && n.unresolved.empty()) {
        NS_ASSIGN_OR_RETURN(std::string coll, collections_.Find(kUnresolvedCollection));
        if (!coll.empty()) {
          Queue(f, Op::kEdge);
          batch_.RemoveEdge(n.id, coll, kEdgeMemberOf);
        }
      }
    }
    // Blocks gone from the file: delete the topmost of each gone subtree.
    // Only blocks this import derived (or that the file named) are removed;
    // nodes added under a page in NodeSpace stay.
    for (const auto& [id, node] : old) {
      if (planned_ids.count(id) || !IsStableId(id)) continue;
      if (!node.parent_id.empty() && old.count(node.parent_id) &&
          !planned_ids.count(node.parent_id) && IsStableId(node.parent_id)) {
        continue;  // its ancestor goes, and takes it along
      }
      Queue(f, Op::kDelete);
      batch_.Delete(id);
    }
    return Status::OK();
  }

  // Collections an earlier import of this node gave it that the file no
  // longer names (a removed #tag, a moved file's old folder).
  Status DropRemovedMemberships(FileEntry& f, const Node& stored, const PlannedNode& n,
                                const std::vector<std::string>& member_of) {
    const json before = ParseProps(stored.properties);
    if (!before.contains("import") || !before["import"].is_object()) return Status::OK();
    const json& given = before["import"].value("collections", json::array());
    if (!given.is_array()) return Status::OK();
    for (const json& path : given) {
      if (!path.is_string()) continue;
      const std::string p = path.get<std::string>();
      if (std::find(n.collections.begin(), n.collections.end(), p) != n.collections.end() ||
          std::find(member_of.begin(), member_of.end(), p) == member_of.end()) {
        continue;
      }
      NS_ASSIGN_OR_RETURN(std::string coll, collections_.Find(p));
      if (coll.empty()) continue;
      Queue(f, Op::kEdge);
      batch_.RemoveEdge(n.id, coll, kEdgeMemberOf);
    }
    return Status::OK();
  }

  enum class Op : uint8_t { kCreate, kUpdate, kMove, kDelete, kEdge };
  void Queue(FileEntry& f, Op op) {
    // Collections created by the resolver precede this op in the batch.
    while (op_files_.size() < batch_.size()) op_files_.push_back({&f, Op::kEdge});
    op_files_.push_back({&f, op});
  }

  Status Flush() {
    if (batch_.empty()) return Status::OK();
    while (op_files_.size() < batch_.size()) op_files_.push_back({nullptr, Op::kEdge});
    WriteOptions w = o_.write_options;
    w.atomic = false;
    NS_ASSIGN_OR_RETURN(BatchResult result, db_.Write(batch_, w));
    for (size_t i = 0; i < result.results.size(); ++i) {
      const auto& r = result.results[i];
      auto [file, op] = op_files_[i];
      if (!r.status.ok()) {
        Fail(file, r.status.message());
        continue;
      }
      switch (op) {
        case Op::kCreate:
          ++report_.nodes_created;
          break;
        case Op::kUpdate:
        case Op::kMove:
          ++report_.nodes_updated;
          break;
        case Op::kDelete:
          report_.nodes_deleted += static_cast<uint64_t>(r.affected);
          break;
        case Op::kEdge:
          break;
      }
    }
    progress_.nodes_written = report_.nodes_created + report_.nodes_updated;
    batch_.Clear();
    op_files_.clear();
    return Status::OK();
  }

  // Nodes from earlier imports whose links named a page that exists now.
  Status ResolveOlderLinks() {
    NS_ASSIGN_OR_RETURN(std::string coll, collections_.Find(kUnresolvedCollection));
    if (coll.empty()) return Status::OK();
    NS_ASSIGN_OR_RETURN(std::vector<Edge> members, db_.Edges(coll, false, kEdgeMemberOf));
    for (const Edge& e : members) {
      auto node = db_.Get(e.from_id);
      if (!node.ok()) continue;
      json props = ParseProps(node->properties);
      if (!props.contains("import") || !props["import"].contains("unresolved")) continue;
      std::vector<std::string> still;
      std::vector<Ref> refs = FindRefs(node->content);
      std::vector<std::string> repl;
      bool changed = false;
      std::set<std::string> unresolved, resolved;
      for (const auto& u : props["import"]["unresolved"]) {
        if (u.is_string()) unresolved.insert(u.get<std::string>());
      }
      for (const Ref& r : refs) {
        std::string original = node->content.substr(r.begin, r.end - r.begin);
        std::string id;
        if (r.kind == Ref::Kind::kWikiLink && unresolved.count(r.target)) {
          id = ResolveName(r.target.substr(0, r.target.find('^')));
        }
        if (id.empty()) {
          repl.push_back(std::move(original));
          continue;
        }
        repl.push_back("[[" + id + "|" + original.substr(2, original.size() - 4) + "]]");
        resolved.insert(r.target);
        changed = true;
        ++report_.links_resolved;
      }
      if (!changed) continue;
      for (const Ref& r : refs) {
        if (r.kind != Ref::Kind::kWikiLink || !unresolved.count(r.target)) continue;
        if (!resolved.count(r.target) &&
            std::find(still.begin(), still.end(), r.target) == still.end()) {
          still.push_back(r.target);
        }
      }
      NodePatch patch;
      patch.content = ReplaceRefs(node->content, refs, repl);
      if (still.empty()) {
        props["import"].erase("unresolved");
        if (props["import"].empty()) props.erase("import");
      } else {
        props["import"]["unresolved"] = still;
      }
      patch.properties = props.dump();
      WriteBatch b;
      b.Update(node->id, std::move(patch), node->version);
      if (still.empty()) b.RemoveEdge(node->id, coll, kEdgeMemberOf);
      auto written = db_.Write(b, o_.write_options);
      if (!written.ok()) {
        Fail(nullptr, "resolving links of node '" + node->id + "': " + written.status().message());
        continue;
      }
      ++report_.nodes_updated;
    }
    return Status::OK();
  }

  // Roots imported from this vault whose file is gone.
  Status ArchiveRemoved() {
    std::set<std::string> present;
    for (const auto& f : files_) present.insert(f.rel);
    NS_ASSIGN_OR_RETURN(std::vector<Node> roots, db_.Roots());
    for (const Node& n : roots) {
      if (n.properties.find("\"import\"") == std::string::npos) continue;
      const json props = ParseProps(n.properties);
      const json& imp = props["import"];
      if (!imp.is_object() || imp.value("vault", "") != vault_) continue;
      if (present.count(imp.value("path", ""))) continue;
      NS_ASSIGN_OR_RETURN(int64_t changed, db_.SetLifecycle(n.id, Lifecycle::kArchived, n.version,
                                                            o_.write_options));
      if (changed > 0) ++report_.roots_archived;
    }
    return Status::OK();
  }

  Database& db_;
  const MarkdownImportOptions& o_;
  CollectionResolver collections_;
  std::map<std::string, std::map<std::string, std::string>> headings_;  // root id -> headings
  std::set<std::string> date_roots_;  // date nodes this import's daily notes become
  fs::path root_;
  MarkdownFlavor flavor_ = MarkdownFlavor::kMarkdown;
  std::string vault_;
  std::vector<FileEntry> files_;
  std::unordered_map<std::string, std::string> names_;  // normalised name -> root id
  WriteBatch batch_;
  std::vector<std::pair<FileEntry*, Op>> op_files_;  // per batch op: its file
  MarkdownImportReport report_;
  MarkdownImportProgress progress_;
};

}  // namespace
}  // namespace markdown

Result<MarkdownImportReport> ImportMarkdown(Database& db, const std::string& folder,
                                            const MarkdownImportOptions& options) {
  return markdown::Importer(db, options).Run(folder);
}

}  // namespace nodespace
