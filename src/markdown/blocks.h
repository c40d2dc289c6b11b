// Markdown to blocks: md4c finds the block structure, and each block keeps
// its own Markdown source (so links, emphasis and code survive verbatim).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nodespace::markdown {

enum class BlockKind : uint8_t {
  kParagraph,
  kHeading,
  kCode,
  kQuote,
  kTable,
  kHtml,
  kListItem,
  kThematicBreak,  // "---", "***", "___": content is the line as written
};

struct Block {
  BlockKind kind = BlockKind::kParagraph;
  int level = 0;         // kHeading: 1..6
  bool ordered = false;  // kListItem of an ordered list
  bool is_task = false;  // kListItem written "- [ ]" / "- [x]"
  bool task_done = false;
  int list_start = 0;  // the first item of an ordered list not starting at 1: its number
  std::string lang;    // kCode: the fence's language, if any
  // The block's Markdown. A heading is "## text" (setext headings too); a
  // list item is its text without the marker, its continuation lines
  // de-indented, and without its nested list (those are `children`).
  std::string content;
  int line = 0;                 // 0-based line of `text` where the block starts
  std::vector<Block> children;  // kListItem: the items of its nested lists
};

struct ParseOptions {
  // Logseq indents with tabs and never means an indented code block.
  bool indented_code = true;
};

// The top-level blocks of `text` in order: paragraphs, headings, code, block
// quotes, tables and HTML blocks whole, and each list as its items (nested
// items as children). Block quotes keep any lists inside them as content.
// Thematic breaks between top-level blocks are blocks of their own.
std::vector<Block> ParseBlocks(std::string_view text, const ParseOptions& options = {});

}  // namespace nodespace::markdown
