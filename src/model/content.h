// What the engine derives from a node's markdown content: its title and the
// nodes it mentions. Also UTF-8 validation, which every text input passes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nodespace::content {

// Whether `text` is well-formed UTF-8 (no overlongs, surrogates or bytes past
// U+10FFFF). On failure `*error_offset` is the first bad byte.
bool IsValidUtf8(std::string_view text, size_t* error_offset = nullptr);

// The title of a node: its first non-empty line without leading markdown
// heading/list/task markers, trimmed and cut at 200 bytes (on a character
// boundary).
std::string DeriveTitle(std::string_view markdown);

// Node ids mentioned in markdown, deduplicated, in order of first appearance:
//   [[id]] and [[id|label]]   wiki links
//   @id                       at the start or after whitespace/punctuation
//   nodespace://id            links, e.g. [label](nodespace://id)
// Mentions inside `inline code` or fenced code blocks are ignored.
std::vector<std::string> ExtractMentions(std::string_view markdown);

}  // namespace nodespace::content
