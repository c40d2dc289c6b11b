#include "markdown/planner.h"

#include <map>

#include "markdown/blocks.h"
#include "markdown/dialect.h"
#include "markdown/front_matter.h"
#include "markdown/refs.h"
#include "markdown/stable_id.h"
#include "model/ids.h"

namespace nodespace::markdown {
namespace {

constexpr std::string_view kIdCommentOpen = "<!-- ns:";
constexpr std::string_view kIdCommentClose = " -->";

std::string_view Stem(std::string_view rel_path) {
  const size_t slash = rel_path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? rel_path : rel_path.substr(slash + 1);
  const size_t dot = name.rfind('.');
  return dot == std::string_view::npos ? name : name.substr(0, dot);
}

std::string WithoutExtension(std::string_view rel_path) {
  const size_t dot = rel_path.rfind('.');
  const size_t slash = rel_path.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return std::string(rel_path);
  }
  return std::string(rel_path.substr(0, dot));
}

// "a/b" (a tag) -> "a:b"; empty parts dropped.
std::string CollectionPath(std::string_view tag) {
  std::string out;
  size_t start = 0;
  while (start <= tag.size()) {
    size_t slash = tag.find('/', start);
    if (slash == std::string_view::npos) slash = tag.size();
    std::string_view part = tag.substr(start, slash - start);
    if (!part.empty()) {
      if (!out.empty()) out += ':';
      out.append(part);
    }
    start = slash + 1;
  }
  return out;
}

void AddUnique(std::vector<std::string>* v, std::string s) {
  if (s.empty()) return;
  for (const auto& x : *v) {
    if (x == s) return;
  }
  v->push_back(std::move(s));
}

// Strings of a front matter / property value that is a string or a list.
std::vector<std::string> StringList(const nlohmann::json& v) {
  std::vector<std::string> out;
  auto add_text = [&](const std::string& s) {
    size_t start = 0;
    while (start <= s.size()) {
      size_t comma = s.find(',', start);
      if (comma == std::string::npos) comma = s.size();
      std::string item = s.substr(start, comma - start);
      const size_t b = item.find_first_not_of(" \t#");
      const size_t e = item.find_last_not_of(" \t");
      if (b != std::string::npos && e >= b) out.push_back(item.substr(b, e - b + 1));
      start = comma + 1;
    }
  };
  if (v.is_string()) add_text(v.get<std::string>());
  if (v.is_array()) {
    for (const auto& x : v) {
      if (x.is_string()) add_text(x.get<std::string>());
    }
  }
  return out;
}

// The page-level facts shared by both passes.
struct Head {
  PageHead head;
  nlohmann::json page_props = nlohmann::json::object();  // under "md"
  std::vector<std::string> collections;
  std::string_view body;  // the text after front matter / page properties
  int body_line = 0;
  std::optional<int64_t> root_version;
  bool root_explicit = false;
};

Result<Head> ParseHead(const FileInput& f) {
  Head h;
  const std::string_view stem = Stem(f.rel_path);
  std::string title(f.flavor == MarkdownFlavor::kLogseq ? LogseqPageName(stem) : std::string(stem));
  std::vector<std::string> aliases;
  nlohmann::json explicit_root;  // {"id":..., "version":...}
  if (f.flavor == MarkdownFlavor::kLogseq) {
    // Page properties: the leading `key:: value` lines (also as a first
    // bullet "- key:: value" written by older Logseq versions).
    std::string_view text = f.text;
    size_t pos = 0;
    int line = 0;
    bool first_bullet = false;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) nl = text.size();
      std::string_view l = text.substr(pos, nl - pos);
      if (line == 0 && l.substr(0, 2) == "- ") {
        std::string k, v;
        if (!ParseLogseqProperty(l.substr(2), &k, &v)) break;
        first_bullet = true;
        l = l.substr(2);
      } else if (first_bullet && l.substr(0, 2) == "- ") {
        break;
      }
      std::string key, value;
      if (!ParseLogseqProperty(l, &key, &value)) break;
      if (key == "id") {
        explicit_root["id"] = value;
      } else {
        h.page_props[key] = LogseqValue(key, value);
      }
      pos = nl + 1;
      ++line;
    }
    h.body = text.substr(std::min(pos, text.size()));
    h.body_line = line;
    if (h.page_props.contains("title") && h.page_props["title"].is_string()) {
      title = h.page_props["title"].get<std::string>();
    }
    if (h.page_props.contains("alias")) aliases = StringList(h.page_props["alias"]);
    if (h.page_props.contains("tags")) {
      for (const auto& t : StringList(h.page_props["tags"]))
        AddUnique(&h.collections, CollectionPath(t));
    }
  } else {
    FrontMatter fm = SplitFrontMatter(f.text);
    h.body = fm.body;
    h.body_line = fm.body_line;
    if (fm.present) {
      NS_ASSIGN_OR_RETURN(h.page_props, ParseFrontMatter(fm.yaml));
      if (h.page_props.contains("nodespace")) {
        explicit_root = h.page_props["nodespace"];
        h.page_props.erase("nodespace");
      }
      if (h.page_props.contains("title") && h.page_props["title"].is_string()) {
        title = h.page_props["title"].get<std::string>();
      }
      for (const char* key : {"aliases", "alias"}) {
        if (h.page_props.contains(key)) {
          for (auto& a : StringList(h.page_props[key])) aliases.push_back(a);
        }
      }
      for (const char* key : {"tags", "tag"}) {
        if (h.page_props.contains(key)) {
          for (const auto& t : StringList(h.page_props[key])) {
            AddUnique(&h.collections, CollectionPath(t));
          }
        }
      }
    }
    // Folders become collections.
    const size_t slash = f.rel_path.rfind('/');
    if (slash != std::string::npos) {
      AddUnique(&h.collections, CollectionPath(std::string_view(f.rel_path).substr(0, slash)));
    }
  }
  const std::string date = DailyNoteDate(stem, f.flavor);
  if (explicit_root.is_object() && explicit_root.contains("id") &&
      explicit_root["id"].is_string()) {
    h.head.root_id = explicit_root["id"].get<std::string>();
    h.root_explicit = true;
    if (explicit_root.contains("version") && explicit_root["version"].is_number_integer()) {
      h.root_version = explicit_root["version"].get<int64_t>();
    }
  } else if (!date.empty()) {
    h.head.root_id = date;
  } else {
    h.head.root_id = StableId(f.vault + "\n" + f.rel_path);
  }
  const bool titled = h.page_props.contains("title") && h.page_props["title"].is_string();
  if (!date.empty() && !titled) title = date;  // a journal's title is its date
  h.head.title = title.empty() ? std::string(stem) : title;
  AddUnique(&h.head.names, NormalizeName(WithoutExtension(f.rel_path)));
  AddUnique(&h.head.names, NormalizeName(stem));
  AddUnique(&h.head.names, NormalizeName(h.head.title));
  for (const auto& a : aliases) AddUnique(&h.head.names, NormalizeName(a));
  if (!date.empty()) AddUnique(&h.head.names, date);
  return h;
}

// Removes "<!-- ns:ID@VERSION -->" from the end of lines; records them by line.
std::string StripIdComments(std::string_view body,
                            std::map<int, std::pair<std::string, int64_t>>* by_line) {
  if (body.find(kIdCommentOpen) == std::string_view::npos) return std::string(body);
  std::string out;
  out.reserve(body.size());
  size_t pos = 0;
  int line = 0;
  while (pos <= body.size()) {
    size_t nl = body.find('\n', pos);
    if (nl == std::string_view::npos) nl = body.size();
    std::string_view l = body.substr(pos, nl - pos);
    const size_t open = l.rfind(kIdCommentOpen);
    if (open != std::string_view::npos && l.size() >= kIdCommentClose.size() &&
        l.substr(l.size() - kIdCommentClose.size()) == kIdCommentClose) {
      std::string_view inner =
          l.substr(open + kIdCommentOpen.size(),
                   l.size() - kIdCommentClose.size() - open - kIdCommentOpen.size());
      const size_t at = inner.rfind('@');
      if (at != std::string_view::npos && at > 0) {
        int64_t version = 0;
        for (char c : inner.substr(at + 1)) version = version * 10 + (c - '0');
        (*by_line)[line] = {std::string(inner.substr(0, at)), version};
        size_t cut = open;
        while (cut > 0 && l[cut - 1] == ' ') --cut;
        l = l.substr(0, cut);
      }
    }
    out.append(l);
    if (nl < body.size()) out += '\n';
    pos = nl + 1;
    ++line;
  }
  return out;
}

// Is `text` exactly one fenced code block ("```lang" ... "```")?
bool IsFencedBlock(std::string_view text, std::string* lang) {
  if (text.size() < 6) return false;
  const char fence = text[0];
  if ((fence != '`' && fence != '~') || text.substr(0, 3) != std::string(3, fence)) return false;
  const size_t first_end = text.find('\n');
  if (first_end == std::string_view::npos) return false;
  const size_t last_start = text.rfind('\n');  // >= first_end: another line
  std::string_view close = text.substr(last_start + 1);
  while (!close.empty() && (close.back() == ' ' || close.back() == '\r')) close.remove_suffix(1);
  if (close.size() < 3 || close.find_first_not_of(fence) != std::string_view::npos) return false;
  std::string_view info = text.substr(0, first_end);
  const size_t after_fence = info.find_first_not_of(fence);
  info = after_fence == std::string_view::npos ? std::string_view() : info.substr(after_fence);
  while (!info.empty() && info.front() == ' ') info.remove_prefix(1);
  lang->assign(info.substr(0, info.find(' ')));
  return true;
}

// "cancelled" for an item written "[-] ...", "in_progress" for "[/] ...".
const char* ExtendedTaskStatus(std::string_view content) {
  if (content.size() < 4 || content[0] != '[' || content[2] != ']' || content[3] != ' ') {
    return nullptr;
  }
  if (content[1] == '-') return "cancelled";
  if (content[1] == '/') return "in_progress";
  return nullptr;
}

class Planner {
 public:
  Planner(const FileInput& f, const LinkResolver& resolve) : f_(f), resolve_(resolve) {}

  Result<PlannedFile> Run() {
    NS_ASSIGN_OR_RETURN(Head h, ParseHead(f_));
    PlannedNode root;
    root.id = h.head.root_id;
    root.explicit_id = h.root_explicit;
    root.version = h.root_version;
    root.node_type = ids::IsDateId(root.id) ? "date" : "page";
    root.content = h.head.title;
    if (!h.page_props.empty()) root.properties["md"] = h.page_props;
    root.collections = h.collections;
    out_.nodes.push_back(std::move(root));
    keys_.push_back(f_.vault + "\n" + f_.rel_path);
    child_counts_.push_back(0);

    std::map<int, std::pair<std::string, int64_t>> id_comments;
    const std::string body = StripIdComments(h.body, &id_comments);
    id_comments_ = &id_comments;
    ParseOptions po;
    po.indented_code = f_.flavor != MarkdownFlavor::kLogseq;
    const std::vector<Block> blocks = ParseBlocks(body, po);
    std::vector<std::pair<int, size_t>> sections;  // (heading level, node index)
    for (const Block& b : blocks) {
      size_t parent = sections.empty() ? 0 : sections.back().second;
      if (b.kind == BlockKind::kHeading && f_.flavor != MarkdownFlavor::kLogseq) {
        while (!sections.empty() && sections.back().first >= b.level) sections.pop_back();
        parent = sections.empty() ? 0 : sections.back().second;
        const size_t idx = Add(parent, b);
        sections.emplace_back(b.level, idx);
        continue;
      }
      AddTree(parent, b);
    }
    // Links are resolved once every node is planned, so that [[#Heading]]
    // finds a heading further down the file.
    for (size_t i = 1; i < out_.nodes.size(); ++i) ResolveRefs(&out_.nodes[i]);
    return std::move(out_);
  }

 private:
  void AddTree(size_t parent, const Block& b) {
    const size_t idx = Add(parent, b);
    for (const Block& c : b.children) AddTree(idx, c);
  }

  size_t Add(size_t parent, const Block& b) {
    PlannedNode n;
    n.parent_id = out_.nodes[parent].id;
    Convert(b, &n);
    const std::string key = keys_[parent] + "/" + std::to_string(child_counts_[parent]++);
    auto it = id_comments_->find(b.line);
    if (it != id_comments_->end()) {
      n.id = it->second.first;
      n.version = it->second.second;
      n.explicit_id = true;
    } else if (!n.explicit_id) {
      n.id = StableId(key);
    }
    if (n.node_type == "header") out_.headings.emplace(HeadingKey(n.content), n.id);
    out_.nodes.push_back(std::move(n));
    keys_.push_back(key);
    child_counts_.push_back(0);
    return out_.nodes.size() - 1;
  }

  void Convert(const Block& b, PlannedNode* n) {
    n->content = b.content;
    switch (b.kind) {
      case BlockKind::kHeading:
        n->node_type = "header";
        return;
      case BlockKind::kCode:
        n->node_type = "code-block";
        if (!b.lang.empty()) n->properties["code-block"] = {{"language", b.lang}};
        return;
      case BlockKind::kQuote:
        n->node_type = "quote-block";
        return;
      case BlockKind::kTable:
        n->node_type = "table";
        return;
      case BlockKind::kParagraph:
      case BlockKind::kHtml:
        n->node_type = "text";
        return;
      case BlockKind::kThematicBreak:
        n->node_type = "thematic-break";
        return;
      case BlockKind::kListItem:
        break;
    }
    if (b.list_start != 0) n->properties["list"] = {{"start", b.list_start}};
    if (b.is_task) {
      n->node_type = "task";
      n->properties["task"] = {{"status", b.task_done ? "done" : "open"}};
    } else if (f_.flavor == MarkdownFlavor::kLogseq) {
      n->node_type = "text";
    } else if (const char* status = ExtendedTaskStatus(n->content)) {
      // "- [-] dropped" and "- [/] underway": the checkbox forms Obsidian
      // users write for cancelled and started tasks.
      n->node_type = "task";
      n->properties["task"] = {{"status", status}};
      n->content.erase(0, 4);
    } else {
      n->node_type = b.ordered ? "ordered-list-item" : "list-item";
    }
    if (f_.flavor != MarkdownFlavor::kLogseq) return;
    nlohmann::json props = nlohmann::json::object();
    std::string content = SplitLogseqProperties(b.content, &props);
    if (props.contains("id") && props["id"].is_string()) {
      const std::string id = props["id"].get<std::string>();
      if (ids::IsValidId(id, 256)) {
        n->id = id;
        n->explicit_id = true;
      }
      props.erase("id");
    }
    std::string marker, status;
    if (!b.is_task) {
      std::string_view rest = SplitTaskMarker(content, &marker, &status);
      if (!marker.empty()) {
        n->node_type = "task";
        n->properties["task"] = {{"status", status}, {"marker", marker}};
        content.assign(rest);
      }
    }
    if (n->node_type == "text" && content.size() > 1 && content[0] == '#') {
      const size_t hashes = content.find_first_not_of('#');
      if (hashes != std::string::npos && hashes <= 6 && content[hashes] == ' ') {
        n->node_type = "header";
      }
    }
    // A bullet that is one fenced code block is a code block, as it would
    // be outside Logseq.
    if (n->node_type == "text") {
      std::string lang;
      if (IsFencedBlock(content, &lang)) {
        n->node_type = "code-block";
        if (!lang.empty()) n->properties["code-block"] = {{"language", lang}};
      }
    }
    if (props.contains("tags")) {
      for (const auto& t : StringList(props["tags"])) AddUnique(&n->collections, CollectionPath(t));
    }
    if (!props.empty()) n->properties["md"] = props;
    n->content = std::move(content);
  }

  void ResolveRefs(PlannedNode* n) {
    std::vector<Ref> refs = FindRefs(n->content);
    if (refs.empty()) return;
    std::vector<std::string> repl;
    bool changed = false;
    for (const Ref& r : refs) {
      std::string original = n->content.substr(r.begin, r.end - r.begin);
      if (r.kind == Ref::Kind::kTag) {
        AddUnique(&n->collections, CollectionPath(r.target));
        repl.push_back(std::move(original));
        continue;
      }
      if (r.kind == Ref::Kind::kBlockRef) {
        repl.push_back("[[" + r.target + "|" + original + "]]");
        ++out_.links_resolved;
        changed = true;
        continue;
      }
      // A wiki link: [[Note]], [[Note|alias]], [[Note#Heading]], [[#Heading]]
      // (a heading resolves to its header node, else to the page).
      std::string base = r.target;
      const size_t cut = base.find_first_of("#^");
      if (cut != std::string::npos) base.resize(cut);
      std::string id;
      if (NormalizeName(base).empty()) {
        id = out_.nodes[0].id;  // this very file, or one of its headings
        if (cut != std::string::npos && r.target[cut] == '#') {
          auto h = out_.headings.find(HeadingKey(r.target.substr(cut + 1)));
          if (h != out_.headings.end()) id = h->second;
        }
      } else {
        id = resolve_(cut != std::string::npos && r.target[cut] == '#' ? r.target : base);
      }
      if (id.empty()) {
        AddUnique(&n->unresolved, r.target);
        repl.push_back(std::move(original));
      } else if (id == r.target) {
        repl.push_back(std::move(original));  // already a NodeSpace id
      } else {
        std::string inner = original.substr(2, original.size() - 4);
        repl.push_back("[[" + id + "|" + inner + "]]");
        ++out_.links_resolved;
        changed = true;
      }
    }
    if (changed) n->content = ReplaceRefs(n->content, refs, repl);
    if (!n->unresolved.empty()) n->properties["import"] = {{"unresolved", n->unresolved}};
  }

  const FileInput& f_;
  const LinkResolver& resolve_;
  PlannedFile out_;
  std::vector<std::string> keys_;  // structural key of each node, for derived ids
  std::vector<int> child_counts_;
  const std::map<int, std::pair<std::string, int64_t>>* id_comments_ = nullptr;
};

}  // namespace

std::string NormalizeName(std::string_view name) {
  while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  if (name.size() > 3 && name.substr(name.size() - 3) == ".md") name.remove_suffix(3);
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string HeadingKey(std::string_view heading) {
  while (!heading.empty() && (heading.front() == '#' || heading.front() == ' ')) {
    heading.remove_prefix(1);
  }
  while (!heading.empty() && (heading.back() == '#' || heading.back() == ' ')) {
    heading.remove_suffix(1);
  }
  return NormalizeName(heading);
}

Result<PageHead> ReadPageHead(const FileInput& file) {
  NS_ASSIGN_OR_RETURN(Head h, ParseHead(file));
  return std::move(h.head);
}

Result<PlannedFile> PlanFile(const FileInput& file, const LinkResolver& resolve) {
  return Planner(file, resolve).Run();
}

std::string IdComment(const std::string& id, int64_t version) {
  return std::string(kIdCommentOpen) + id + "@" + std::to_string(version) +
         std::string(kIdCommentClose);
}

}  // namespace nodespace::markdown
