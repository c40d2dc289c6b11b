// References inside a block's Markdown: wiki links, Logseq block references
// and #tags, found with md4c so that code spans and code blocks are skipped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nodespace::markdown {

struct Ref {
  enum class Kind : uint8_t { kWikiLink, kBlockRef, kTag };
  Kind kind = Kind::kWikiLink;
  size_t begin = 0, end = 0;  // the bytes "[[...]]", "((uuid))" or "#tag" in the content
  std::string target;         // wiki link: before '|'; block ref: the uuid; tag: "a/b"
  std::string label;          // wiki link: after the first '|' (may hold more '|')
  bool embed = false;         // "![[...]]"
};

// In order of appearance.
std::vector<Ref> FindRefs(std::string_view markdown);

// Replaces each ref's bytes with `replacements[i]` (same length as refs).
std::string ReplaceRefs(std::string_view markdown, const std::vector<Ref>& refs,
                        const std::vector<std::string>& replacements);

}  // namespace nodespace::markdown
