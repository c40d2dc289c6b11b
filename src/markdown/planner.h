// One Markdown file to the nodes it becomes: the root (the page), then every
// block in pre-order with its parent, type, content and properties. Pure: no
// I/O and no database; links are resolved through a callback.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodespace/markdown.h"
#include "nodespace/status.h"

namespace nodespace::markdown {

struct PlannedNode {
  std::string id;
  std::string parent_id;  // empty for the root
  std::string node_type;
  std::string content;
  nlohmann::json properties = nlohmann::json::object();
  std::vector<std::string> collections;  // paths "a:b" from #a/b tags (root: + folders)
  std::vector<std::string> unresolved;   // link targets no node answers to yet
  std::optional<int64_t> version;        // from an exported id comment
  bool explicit_id = false;              // written in the file, not derived
};

// What the first pass learns about a file: enough to resolve links to it.
struct PageHead {
  std::string root_id;
  std::string title;
  std::vector<std::string> names;  // normalised (NormalizeName): path, file name, title, aliases
};

struct PlannedFile {
  std::vector<PlannedNode> nodes;  // [0] is the root
  uint64_t links_resolved = 0;
  // HeadingKey(heading text) -> the header node's id; the first of equal
  // headings wins ([[Note#Heading]] links).
  std::map<std::string, std::string> headings;
};

// Returns the node id a link target names ("Note", or "Note#Heading" for a
// heading inside it), or "" when none does. A target that is itself a node
// id resolves to itself (and the link stays as written).
using LinkResolver = std::function<std::string(const std::string& target)>;

// How a heading is looked up: its text without the leading #s, normalised.
std::string HeadingKey(std::string_view heading);

struct FileInput {
  std::string_view text;  // valid UTF-8
  std::string rel_path;   // "folder/Note.md", '/'-separated
  MarkdownFlavor flavor = MarkdownFlavor::kMarkdown;
  std::string vault;  // part of every derived id
};

// Lower-cased (ASCII), trimmed, without a trailing ".md".
std::string NormalizeName(std::string_view name);

// InvalidArgument for malformed front matter.
Result<PageHead> ReadPageHead(const FileInput& file);
Result<PlannedFile> PlanFile(const FileInput& file, const LinkResolver& resolve);

// The comment an export with ids writes at the end of a block's first line.
std::string IdComment(const std::string& id, int64_t version);

}  // namespace nodespace::markdown
