// Search: full-text (BM25) and vector (kNN) queries over one database.
//
//   nodespace::TextSearchOptions q;
//   q.query = "login flow";
//   for (const auto& hit : db->SearchText(q).value().hits) ...
//
// Query syntax for text search (docs/API.md has the full grammar):
//   words            all of them, anywhere in one node (AND is implicit)
//   "a phrase"       the words next to each other, in order
//   auth*            any word starting with "auth"
//   a OR b, a AND b  boolean operators (upper case); parentheses group
//   NOT a, -a        exclude nodes containing `a`
// Matching folds case and diacritics and stems English words
// ("Résumés" finds "resume").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nodespace/node.h"

namespace nodespace {

struct TextSearchOptions {
  std::string query;
  size_t limit = 10;
  // Archived and trashed nodes are left out unless asked for.
  bool include_archived = false;
  // A title match counts this many times a content match.
  double title_weight = 3.0;
  // When fewer than `limit` nodes contain every term, also return subtrees
  // whose nodes contain them between them (a parent with the first term and
  // a child with the second), then nodes that contain some of the terms.
  // Only for plain word lists (no explicit AND/OR/NOT).
  bool match_subtrees = true;
  bool any_term_fallback = true;
  // How far above a matching node a subtree root may be (1: parent).
  int subtree_levels = 2;
  // Collapse hits into one per tree root (a page and its blocks).
  bool group_by_root = false;
  std::string highlight_open = "[";
  std::string highlight_close = "]";
};

// How a text hit matched the query.
enum class TextMatch : uint8_t {
  kAllTerms,  // one node contains the whole query
  kSubtree,   // the node's subtree contains every term between its nodes
  kAnyTerm,   // the node contains some of the terms (fallback)
};
const char* TextMatchName(TextMatch match);  // "all_terms", "subtree", "any_term"

struct TextHit {
  Node node;
  double score = 0;  // BM25, higher is better; comparable within one result
  TextMatch match = TextMatch::kAllTerms;
  std::string snippet;  // content around the matches, matches highlighted
  // For kSubtree hits and grouped results: the nodes that matched, best first.
  std::vector<std::string> matched_ids;
};

struct TextSearchResult {
  std::vector<TextHit> hits;
  std::string fts_query;  // the FTS5 expression that ran (for EXPLAIN and bug reports)
  // What ranked the words: "text_index" (postings in memory, Options::text_index)
  // or "fts5" (a query shape the index does not take, or an index not built yet).
  std::string ranked_by = "fts5";
};

// Which nodes a vector search may return. Empty fields do not filter.
// Archived and trashed nodes are never returned by vector search.
struct SearchFilter {
  std::vector<std::string> node_types;        // any of these types
  std::string under;                          // the subtree of this node (itself included)
  std::optional<TimestampMs> created_from;    // created_at >= this
  std::optional<TimestampMs> created_before;  // created_at < this
  // properties at `path` ("lexname", "task.status") equal to one of `values`
  // (compared as text).
  struct PropertyIn {
    std::string path;
    std::vector<std::string> values;
  };
  std::vector<PropertyIn> properties;

  bool empty() const {
    return node_types.empty() && under.empty() && !created_from && !created_before &&
           properties.empty();
  }
};

struct VectorSearchOptions {
  // The query: a vector of the database's dimension, or text for the
  // database's embedder (semantic search). Exactly one of them.
  std::vector<float> vector;
  std::string text;
  size_t k = 10;
  SearchFilter filter;
  // Graph search effort (beam width); 0: the index default. Larger finds
  // more of the true neighbours and costs more.
  size_t ef = 0;
  // Score every allowed vector instead of walking the graph.
  bool exact = false;
};

struct VectorHit {
  Node node;
  double distance = 0;  // smaller is closer: 1 - cos, -dot or squared L2
};

struct VectorSearchResult {
  std::vector<VectorHit> hits;  // closest first
  // How the query ran: "exact" (every vector scored), "graph", or
  // "exact_filtered" / "graph_filtered", and the counts it was chosen from.
  std::string plan;
  int64_t allowed_count = -1;  // nodes the filter allows (-1: no filter)
  int64_t index_size = 0;      // vectors in the index
  uint64_t distances_computed = 0;
};

}  // namespace nodespace
