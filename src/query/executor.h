// Runs one validated query against one read snapshot.
//
// The pipeline, each stage timed for EXPLAIN:
//   plan      classify the query, estimate each strategy's cost, choose
//   filter    (filter_first / hybrid) the rows the filters allow
//   text      BM25 candidates, ranked, filtered as the strategy says
//   vector    nearest candidates, ranked, filtered as the strategy says
//   fuse      one ranking (RRF or weighted), or the field sort
//   group     one hit per root (group_by_root)
//   page      the cursor's slice, the next cursor
//   fetch     the nodes of the page
//   facets / aggregations   over the whole match set
#pragma once

#include <vector>

#include "db/vector_store.h"
#include "index/text/text_index.h"
#include "nodespace/query.h"
#include "query/filter_sql.h"
#include "query/hierarchy_index.h"
#include "query/statistics.h"
#include "storage/sqlite.h"

namespace nodespace::query {

struct ExecutionContext {
  storage::Connection& conn;       // inside a read transaction
  VectorStore* vectors = nullptr;  // null without a query vector
  Statistics& stats;
  CollectionResolver resolve;
  size_t default_ef = 128;
  size_t exact_search_max = 10000;
  int64_t change_seq = 0;
  // The tree's shape at this snapshot, when the query has top-level subtree
  // filters and the index could be brought here (null: SQL walks the tree).
  const HierarchyIndex::View* tree = nullptr;
  // Postings in memory at this snapshot, with FTS5's tokenizer for the
  // query's words, when the query has text and the index could be brought
  // here (null: FTS5 ranks).
  const text::TextIndex::View* text = nullptr;
  text::FtsTokenizer* tokenizer = nullptr;
};

// `query_vector` is the query's vector (or its embedded semantic text).
Result<QueryResult> ExecuteQuery(ExecutionContext& ctx, const Query& query,
                                 const std::vector<float>& query_vector);

}  // namespace nodespace::query
