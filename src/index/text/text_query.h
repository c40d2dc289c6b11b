// Parses the user's text query into a safe FTS5 MATCH expression.
//
// Nothing the user types reaches FTS5 unquoted: every word becomes a quoted
// string, so FTS5 syntax errors ("fts5: syntax error near ...") cannot leak
// out, and column filters or NEAR() cannot be injected. Sloppy input gets a
// forgiving reading (an unclosed quote ends at the end of the query, a
// trailing or doubled operator is dropped); input with nothing to search for
// gets a clear InvalidArgument.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodespace/status.h"

namespace nodespace::text {

inline constexpr size_t kMaxQueryTerms = 256;

// How the words of a flat query combine.
enum class TermMatch { kAllTerms, kAnyTerm };
inline constexpr size_t kMaxQueryBytes = 16 * 1024;

// One word or phrase the query looks for, in FTS5 syntax ("auth"*, "a b").
struct QueryTerm {
  std::string fts;
  bool negated = false;
};

struct ParsedQuery {
  std::string fts;  // the whole MATCH expression
  // The positive terms, in query order. For a plain word list they are what
  // the subtree and any-term fallbacks combine.
  std::vector<std::string> positive_terms;
  // True when the query is a plain list of words/phrases (no AND/OR/NOT,
  // no parentheses): the fallbacks only reinterpret such queries.
  bool plain = true;
  // The positive words as typed (the text inside each quoted string), in
  // query order, and whether each ends in `*`.
  std::vector<std::string> positive_words;
  std::vector<bool> positive_prefix;
  // Set when the query is one word, or words all joined by AND or all by
  // OR, none negated and none a prefix: such queries can be ranked outside
  // FTS5 (TextIndex).
  std::optional<TermMatch> flat;
};

Result<ParsedQuery> ParseTextQuery(std::string_view query);

}  // namespace nodespace::text
