// ExportMarkdown: each root becomes one file, written so that importing it
// again gives the same tree, types, properties and links
// (docs/formats/markdown.md, "Export").
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>

#include "markdown/dialect.h"
#include "markdown/front_matter.h"
#include "markdown/planner.h"
#include "markdown/refs.h"
#include "markdown/stable_id.h"
#include "model/ids.h"
#include "nodespace/markdown.h"

namespace nodespace {
namespace fs = std::filesystem;
using nlohmann::json;

namespace markdown {
namespace {

json ParseProps(const std::string& text) {
  json j = json::parse(text.empty() ? "{}" : text, nullptr, false);
  return j.is_object() ? j : json::object();
}

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t nl = s.find('\n', pos);
    out.push_back(s.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return out;
}

// A relative path that stays inside the export folder, or "".
std::string SafeRelPath(const std::string& rel) {
  if (rel.empty() || rel[0] == '/') return "";
  for (const auto& part : fs::path(rel)) {
    if (part == ".." || part == ".") return "";
  }
  return rel;
}

std::string SafeFileName(const std::string& title) {
  std::string out;
  for (char c : title) {
    out += (c == '/' || c == '\\' || c == ':' || c == '\n' || c == '\r' || c == '\0') ? '-' : c;
  }
  while (!out.empty() && (out.front() == '.' || out.front() == ' ')) out.erase(out.begin());
  if (out.size() > 120) out.resize(120);
  return out.empty() ? "untitled" : out;
}

class Writer {
 public:
  Writer(const Database& db, const MarkdownExportOptions& o) : db_(db), o_(o) {}

  // Imported links "[[id|Note|alias]]" read "[[Note|alias]]" again; block
  // references "[[uuid|((uuid))]]" read "((uuid))".
  std::string ExportLinks(const std::string& content) {
    std::vector<Ref> refs = FindRefs(content);
    if (refs.empty()) return content;
    std::vector<std::string> repl;
    bool changed = false;
    for (const Ref& r : refs) {
      std::string original = content.substr(r.begin, r.end - r.begin);
      if (r.kind == Ref::Kind::kWikiLink && !r.label.empty() && db_.Get(r.target).ok()) {
        const bool block_ref = r.label.size() > 4 && r.label.substr(0, 2) == "((";
        repl.push_back(block_ref ? r.label : "[[" + r.label + "]]");
        changed = true;
      } else {
        repl.push_back(std::move(original));
      }
    }
    return changed ? ReplaceRefs(content, refs, repl) : content;
  }

  Result<std::string> Render(const Node& root, MarkdownFlavor flavor, const std::string& rel) {
    std::string out;
    const json props = ParseProps(root.properties);
    json page = props.contains("md") && props["md"].is_object() ? props["md"] : json::object();
    const std::string title = root.title.empty() ? root.content : root.title;
    const std::string stem = fs::path(rel).stem().string();
    if (flavor == MarkdownFlavor::kLogseq) {
      if (title != LogseqPageName(stem) && !page.contains("title") && !ids::IsDateId(root.id)) {
        page["title"] = title;
      }
      for (const auto& [k, v] : page.items()) out += k + ":: " + LogseqValueText(v) + "\n";
      if (o_.with_ids || !IsDerived(root.id)) out += "id:: " + root.id + "\n";
    } else {
      if (title != stem && !page.contains("title")) page["title"] = title;
      if (o_.with_ids) page["nodespace"] = {{"id", root.id}, {"version", root.version}};
      if (!page.empty()) out += "---\n" + EmitFrontMatter(page) + "---\n";
    }
    struct Ctx {
      bool list = false;  // children are list items
      int child_indent = 0;
      int ordinal = 0;
    };
    std::vector<Ctx> ctx(1);
    bool first_block = true, last_list = false;
    SubtreeOptions so;
    so.include_archived = o_.include_archived;
    Status st = db_.VisitSubtree(root.id, so, [&](const Node& n, int depth) {
      if (depth == 0) return true;
      ++nodes_;
      ctx.resize(static_cast<size_t>(depth));
      Ctx& parent = ctx[static_cast<size_t>(depth) - 1];
      const json p = ParseProps(n.properties);
      std::string content = ExportLinks(n.content);
      std::vector<std::string> lines = SplitLines(content);
      Ctx mine;
      if (flavor == MarkdownFlavor::kLogseq) {
        const std::string indent(static_cast<size_t>(depth - 1), '\t');
        std::string first = "- ";
        if (n.node_type == "task") {
          const json& t = p.contains("task") ? p["task"] : json::object();
          std::string marker = t.value("marker", "");
          if (marker.empty()) marker = TaskMarkerFor(t.value("status", "open"));
          first += marker + " ";
        }
        out += indent + first + lines[0] + "\n";
        for (size_t i = 1; i < lines.size(); ++i) out += indent + "  " + lines[i] + "\n";
        if (p.contains("md") && p["md"].is_object()) {
          for (const auto& [k, v] : p["md"].items()) {
            out += indent + "  " + k + ":: " + LogseqValueText(v) + "\n";
          }
        }
        if (o_.with_ids || !IsDerived(n.id)) out += indent + "  id:: " + n.id + "\n";
        ctx.push_back(mine);
        return true;
      }
      const bool list = parent.list || n.node_type == "list-item" ||
                        n.node_type == "ordered-list-item" || n.node_type == "task";
      std::string id_comment = o_.with_ids ? " " + IdComment(n.id, n.version) : "";
      if (list) {
        const int indent = parent.list ? parent.child_indent : 0;
        std::string marker = "- ";
        if (n.node_type == "ordered-list-item") {
          // A list that started at another number says so on its first item.
          if (parent.ordinal == 0 && p.contains("list") && p["list"].is_object()) {
            const json& start = p["list"].value("start", json());
            if (start.is_number_integer()) parent.ordinal = start.get<int>() - 1;
          }
          marker = std::to_string(++parent.ordinal) + ". ";
        } else {
          parent.ordinal = 0;
        }
        std::string box;
        if (n.node_type == "task") {
          const json& t = p.contains("task") ? p["task"] : json::object();
          const std::string status = t.value("status", "open");
          box = status == "done"          ? "[x] "
                : status == "cancelled"   ? "[-] "
                : status == "in_progress" ? "[/] "
                                          : "[ ] ";
        }
        if (!first_block && !last_list) out += "\n";
        const std::string pad(static_cast<size_t>(indent), ' ');
        out += pad + marker + box + lines[0] + id_comment + "\n";
        const std::string cont(static_cast<size_t>(indent) + marker.size(), ' ');
        for (size_t i = 1; i < lines.size(); ++i) {
          out += (lines[i].empty() ? "" : cont + lines[i]) + "\n";
        }
        mine.list = true;
        mine.child_indent = indent + static_cast<int>(marker.size());
        last_list = true;
      } else {
        parent.ordinal = 0;
        if (!first_block) out += "\n";
        out += lines[0] + id_comment + "\n";
        for (size_t i = 1; i < lines.size(); ++i) out += lines[i] + "\n";
        last_list = false;
      }
      first_block = false;
      ctx.push_back(mine);
      return true;
    });
    if (!st.ok()) return st;
    return out;
  }

  uint64_t nodes() const { return nodes_; }

 private:
  static bool IsDerived(const std::string& id) { return IsStableId(id) || ids::IsDateId(id); }

  const Database& db_;
  const MarkdownExportOptions& o_;
  uint64_t nodes_ = 0;
};

Status WriteFile(const fs::path& path, const std::string& text) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec)
    return Status::IOError("cannot create '" + path.parent_path().string() + "': " + ec.message());
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    f.flush();
    if (!f) return Status::IOError("cannot write '" + tmp.string() + "'");
  }
  fs::rename(tmp, path, ec);
  if (ec) return Status::IOError("cannot rename to '" + path.string() + "': " + ec.message());
  return Status::OK();
}

}  // namespace
}  // namespace markdown

Result<MarkdownExportReport> ExportMarkdown(const Database& db, const std::string& dir,
                                            const MarkdownExportOptions& options) {
  std::vector<Node> roots;
  if (!options.root_id.empty()) {
    NS_ASSIGN_OR_RETURN(Node n, db.Get(options.root_id));
    roots.push_back(std::move(n));
  } else {
    ListOptions lo;
    lo.include_archived = options.include_archived;
    NS_ASSIGN_OR_RETURN(roots, db.Roots(lo));
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create '" + dir + "': " + ec.message());
  MarkdownExportReport report;
  markdown::Writer writer(db, options);
  std::set<std::string> used;
  for (const Node& root : roots) {
    if (root.node_type == "collection" || root.node_type == "schema") continue;
    const json props = markdown::ParseProps(root.properties);
    const json imp =
        props.contains("import") && props["import"].is_object() ? props["import"] : json::object();
    MarkdownFlavor flavor = options.flavor;
    if (flavor == MarkdownFlavor::kAuto) {
      flavor =
          ParseMarkdownFlavor(imp.value("flavor", "markdown")).value_or(MarkdownFlavor::kMarkdown);
      if (flavor == MarkdownFlavor::kAuto) flavor = MarkdownFlavor::kMarkdown;
    }
    std::string rel = markdown::SafeRelPath(imp.value("path", ""));
    const std::string title =
        root.title.empty() ? root.content.substr(0, root.content.find('\n')) : root.title;
    if (rel.empty() || imp.value("flavor", "") != MarkdownFlavorName(flavor)) {
      if (flavor == MarkdownFlavor::kLogseq) {
        rel = ids::IsDateId(root.id)
                  ? "journals/" + root.id.substr(0, 4) + "_" + root.id.substr(5, 2) + "_" +
                        root.id.substr(8, 2) + ".md"
                  : "pages/" + markdown::LogseqFileName(markdown::SafeFileName(title)) + ".md";
      } else {
        rel = ids::IsDateId(root.id) ? root.id + ".md" : markdown::SafeFileName(title) + ".md";
      }
    }
    std::string unique = rel;
    for (int i = 2; used.count(unique); ++i) {
      unique = rel.substr(0, rel.size() - 3) + " (" + std::to_string(i) + ").md";
    }
    used.insert(unique);
    NS_ASSIGN_OR_RETURN(std::string text, writer.Render(root, flavor, unique));
    NS_RETURN_IF_ERROR(markdown::WriteFile(fs::path(dir) / unique, text));
    ++report.files;
    ++report.nodes;
  }
  report.nodes += writer.nodes();
  return report;
}

Result<std::string> MarkdownOfSubtree(const Database& db, const std::string& node_id,
                                      MarkdownFlavor flavor) {
  NS_ASSIGN_OR_RETURN(Node node, db.Get(node_id));
  if (flavor == MarkdownFlavor::kAuto) flavor = MarkdownFlavor::kMarkdown;
  const std::string title =
      node.title.empty() ? node.content.substr(0, node.content.find('\n')) : node.title;
  const MarkdownExportOptions options;  // the writer keeps a reference
  markdown::Writer writer(db, options);
  return writer.Render(node, flavor, markdown::SafeFileName(title) + ".md");
}

}  // namespace nodespace
