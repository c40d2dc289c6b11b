// Markdown import and export: plain Markdown folders, Obsidian vaults and
// Logseq graphs become trees of nodes, and trees of nodes become Markdown
// files again. docs/formats/markdown.md says how each construct maps.
//
//   MarkdownImportOptions o;
//   o.on_error = [](const std::string& m) { std::cerr << m << "\n"; };
//   auto report = ImportMarkdown(*db, "/home/ana/vault", o);
//
// Importing the same folder again is idempotent: node ids derive from the
// vault name, the file's relative path and the block's position (or come from
// the file: a Logseq `id::`, an exported id comment), files whose bytes did
// not change are skipped, changed files update their nodes in place.
//
// Thread safety: the functions use only the Database passed in (itself
// thread-safe); the option callbacks run on the calling thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nodespace/database.h"

namespace nodespace {

enum class MarkdownFlavor : uint8_t {
  kAuto,      // import: Logseq when logseq/ or journals/+pages/ exist, Obsidian
              // when .obsidian/ exists, else Markdown. Export: as imported.
  kMarkdown,  // CommonMark + GFM tables and task lists, YAML front matter
  kObsidian,  // + [[wiki links]], ![[embeds]], #nested/tags, daily notes
  kLogseq,    // every bullet a node, key:: value properties, TODO markers
};

const char* MarkdownFlavorName(MarkdownFlavor flavor);  // "auto", "markdown", ...
std::optional<MarkdownFlavor> ParseMarkdownFlavor(const std::string& name);

struct MarkdownImportProgress {
  uint64_t files_done = 0;
  uint64_t files_total = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_total = 0;
  uint64_t nodes_written = 0;
};

struct MarkdownImportOptions {
  MarkdownFlavor flavor = MarkdownFlavor::kAuto;
  // Archive the nodes of files that were imported from this vault before but
  // are gone now (restored when the file comes back).
  bool archive_removed = false;
  // Part of every derived id, so that two vaults with the same file names do
  // not overwrite each other. Empty: the folder's own name.
  std::string vault_name;
  // Operations per transaction; files are never split across transactions.
  size_t batch_size = 2000;
  WriteOptions write_options;
  // A file that could not be imported: "relative/path.md: reason". The rest
  // of the import goes on.
  std::function<void(const std::string& message)> on_error;
  std::function<void(const MarkdownImportProgress&)> on_progress;
};

struct MarkdownImportReport {
  MarkdownFlavor flavor = MarkdownFlavor::kMarkdown;  // the one used
  uint64_t files = 0;                                 // Markdown files seen
  uint64_t files_unchanged = 0;                       // skipped: same bytes as last import
  uint64_t files_failed = 0;                          // reported through on_error
  uint64_t nodes_created = 0;
  uint64_t nodes_updated = 0;  // content, type, properties or place changed
  uint64_t nodes_deleted = 0;  // blocks gone from a changed file
  uint64_t roots_archived = 0;
  uint64_t links_resolved = 0;  // wiki links and block refs now pointing to a node
  // Links whose target is not (yet) imported: "path.md: [[Name]]". They stay
  // in the content and resolve when a later import brings the target.
  std::vector<std::string> unresolved;
  std::vector<std::string> errors;  // the same messages as on_error
};

// Imports every *.md file under `folder`. Returns a failed Status only when
// the folder cannot be read or the database fails; a broken file (invalid
// UTF-8, malformed front matter, binary) is reported and skipped. Symbolic
// links that lead outside `folder` are never followed.
Result<MarkdownImportReport> ImportMarkdown(Database& db, const std::string& folder,
                                            const MarkdownImportOptions& options = {});

struct MarkdownExportOptions {
  // kAuto: the flavour each root was imported with, Markdown for others.
  MarkdownFlavor flavor = MarkdownFlavor::kAuto;
  std::string root_id;  // empty: every root except collections
  // Write each node's id and version (an HTML comment, or `id::` for
  // Logseq) so that a re-import updates exactly these nodes and refuses an
  // edit of a node that changed in the database since (a conflict).
  bool with_ids = false;
  bool include_archived = false;
};

struct MarkdownExportReport {
  uint64_t files = 0;
  uint64_t nodes = 0;
};

// Writes one file per root into `dir` (created if missing), at the path it
// was imported from, else at its title. Files are written whole or not at all.
Result<MarkdownExportReport> ExportMarkdown(const Database& db, const std::string& dir,
                                            const MarkdownExportOptions& options = {});

// The Markdown of the subtree rooted at `node_id` (a root or any other
// node), as ExportMarkdown writes a file: the node is the page, its
// descendants the blocks. For tools that hand notes to people or models.
Result<std::string> MarkdownOfSubtree(const Database& db, const std::string& node_id,
                                      MarkdownFlavor flavor = MarkdownFlavor::kMarkdown);

// Creates nodes from Markdown text in one transaction, the way a file's
// blocks become nodes on import (headings, paragraphs, list items nested,
// tasks, code). With `parent_id` the blocks go under that node, wrapped in a
// node holding `title` when one is given; without it `title` (default
// "Untitled") becomes a new root. Every call makes new nodes with fresh ids.
// Returns the created ids, parents before children.
Result<std::vector<std::string>> CreateNodesFromMarkdown(Database& db, const std::string& text,
                                                         const std::string& parent_id,
                                                         const std::string& title,
                                                         const WriteOptions& options = {});

}  // namespace nodespace
