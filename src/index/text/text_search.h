// Full-text search over the FTS5 index kept beside the nodes table.
//
// Ranking is FTS5's BM25 (k1 1.2, b 0.75) with a title weight, which already
// keeps long documents from winning on length alone: term frequency saturates
// and scores are normalised by document length. On top of it this layer adds
// what plain BM25 misses in nested notes (see TextSearchOptions): subtree
// matches, the any-term fallback and grouping by root.
#pragma once

#include "index/text/text_index.h"
#include "nodespace/search.h"
#include "nodespace/status.h"
#include "storage/sqlite.h"

namespace nodespace::text {

// Runs the search on `conn`, inside one read transaction so every step sees
// the same snapshot. The caller owns the connection for the duration.
// With `index`, word queries rank from its postings (brought to that
// snapshot first); without it, or for queries it cannot answer, FTS5 ranks.
Result<TextSearchResult> SearchText(storage::Connection& conn, const TextSearchOptions& options,
                                    TextIndex* index = nullptr);

}  // namespace nodespace::text
