#include "index/text/text_search.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "index/text/text_query.h"
#include "storage/node_rows.h"

namespace nodespace {

const char* TextMatchName(TextMatch match) {
  switch (match) {
    case TextMatch::kAllTerms:
      return "all_terms";
    case TextMatch::kSubtree:
      return "subtree";
    case TextMatch::kAnyTerm:
      return "any_term";
  }
  return "all_terms";
}

namespace text {
namespace {

using storage::Connection;
using storage::ScopedStatement;
using storage::Statement;

constexpr size_t kMaxLimit = 10000;
// How many matches per term the subtree search considers (in index order).
constexpr int64_t kSubtreeMatchesPerTerm = 5000;
// Grouped results need several hits per group; fetch this many per group.
constexpr size_t kHitsPerGroup = 5;
constexpr int kMaxTreeDepth = 100000;

struct RawHit {
  int64_t rowid = 0;
  double score = 0;
  TextMatch match = TextMatch::kAllTerms;
  std::vector<std::string> matched_ids;
  int64_t snippet_rowid = 0;  // 0: the hit's own row
};

class Search {
 public:
  Search(Connection& conn, const TextSearchOptions& options, ParsedQuery parsed, TextIndex* index)
      : conn_(conn), opt_(options), parsed_(std::move(parsed)), index_(index) {}

  Result<TextSearchResult> Run() {
    const size_t want = opt_.group_by_root ? opt_.limit * kHitsPerGroup : opt_.limit;
    std::vector<RawHit> hits;
    NS_RETURN_IF_ERROR(Matches(parsed_.fts, parsed_.flat, parsed_.positive_words, want,
                               TextMatch::kAllTerms, hits));
    const bool several_terms = parsed_.plain && parsed_.positive_terms.size() >= 2;
    if (several_terms && opt_.match_subtrees && hits.size() < want) {
      NS_RETURN_IF_ERROR(SubtreeMatches(want, hits));
    }
    if (several_terms && opt_.any_term_fallback && hits.size() < want) {
      std::string any;
      for (const std::string& t : parsed_.positive_terms) {
        if (!any.empty()) any += " OR ";
        any += t;
      }
      const bool any_prefix =
          std::find(parsed_.positive_prefix.begin(), parsed_.positive_prefix.end(), true) !=
          parsed_.positive_prefix.end();
      const std::optional<TermMatch> flat =
          any_prefix ? std::nullopt : std::optional<TermMatch>(TermMatch::kAnyTerm);
      NS_RETURN_IF_ERROR(
          Matches(any, flat, parsed_.positive_words, want, TextMatch::kAnyTerm, hits));
    }

    TextSearchResult out;
    out.fts_query = parsed_.fts;
    out.ranked_by = ranked_by_index_ ? "text_index" : "fts5";
    if (opt_.group_by_root) {
      NS_RETURN_IF_ERROR(GroupByRoot(hits));
    }
    for (RawHit& h : hits) {
      if (out.hits.size() >= opt_.limit) break;
      TextHit hit;
      NS_ASSIGN_OR_RETURN(std::optional<Node> node, LoadByRowid(h.rowid));
      if (!node) continue;
      hit.node = std::move(*node);
      hit.score = h.score;
      hit.match = h.match;
      hit.matched_ids = std::move(h.matched_ids);
      NS_ASSIGN_OR_RETURN(hit.snippet, Snippet(h));
      out.hits.push_back(std::move(hit));
    }
    return out;
  }

 private:
  int64_t MaxLifecycle() const { return opt_.include_archived ? 2 : 0; }

  // The text index at this search's snapshot, opened on first use; null
  // without an index, or when it cannot be brought to the snapshot (FTS5
  // then answers: the index only ever speeds a search up).
  const TextIndex::View* IndexView() {
    if (index_ == nullptr || index_tried_) return view_.get();
    index_tried_ = true;
    Result<int64_t> seq = conn_.QueryInt("SELECT ifnull(max(seq), 0) FROM changes");
    if (!seq.ok()) return nullptr;
    Result<std::unique_ptr<TextIndex::View>> view = index_->ViewAt(conn_, *seq);
    if (!view.ok() || *view == nullptr) return nullptr;
    Result<FtsTokenizer> tokenizer = FtsTokenizer::Open(conn_);
    if (!tokenizer.ok()) return nullptr;
    tokenizer_.emplace(std::move(*tokenizer));
    view_ = std::move(*view);
    return view_.get();
  }

  // Visits rows matching `fts` best first, `fetch` at a time; `visit`
  // returns false to stop. A flat word query (`flat`, over `words`) ranks
  // from the text index where it can; otherwise ranking happens inside
  // FTS5 (ORDER BY keeps only the top rows), so only those rows are then
  // looked up in `nodes`.
  Status Ranked(const std::string& fts, std::optional<TermMatch> flat,
                const std::vector<std::string>& words, int64_t fetch,
                const std::function<Result<bool>(int64_t rowid, double score)>& visit) {
    if (const TextIndex::View* view = flat ? IndexView() : nullptr; view != nullptr) {
      size_t offset = 0;
      auto want = static_cast<size_t>(fetch);
      while (true) {
        NS_ASSIGN_OR_RETURN(std::optional<std::vector<ScoredRow>> top,
                            view->TopK(*tokenizer_, words, *flat, opt_.title_weight,
                                       static_cast<int>(MaxLifecycle()), offset + want, nullptr));
        if (!top) break;  // not a query the index answers exactly
        ranked_by_index_ = true;
        for (size_t i = offset; i < top->size(); ++i) {
          NS_ASSIGN_OR_RETURN(bool more, visit((*top)[i].row, (*top)[i].score));
          if (!more) return Status::OK();
        }
        if (top->size() < offset + want) return Status::OK();
        offset += want;
        want *= 4;
      }
    }
    // A plain sorter over bm25() measured faster than FTS5's `rank MATCH`
    // form (bench/text_bench.cc, "sql_fts_only" vs "sql_rank").
    NS_ASSIGN_OR_RETURN(Statement * stmt,
                        conn_.Prepare("SELECT rowid, bm25(nodes_fts, ?2, 1.0) AS s FROM nodes_fts "
                                      "WHERE nodes_fts MATCH ?1 ORDER BY s LIMIT ?3 OFFSET ?4"));
    int64_t offset = 0;
    while (true) {
      ScopedStatement s(*stmt);
      s->Bind(1, fts).BindDouble(2, opt_.title_weight).Bind(3, fetch).Bind(4, offset);
      int64_t rows = 0;
      while (true) {
        NS_ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        ++rows;
        NS_ASSIGN_OR_RETURN(bool more, visit(s->ColumnInt(0), -s->ColumnDouble(1)));
        if (!more) return Status::OK();
      }
      if (rows < fetch) return Status::OK();
      offset += fetch;
      fetch *= 4;
    }
  }

  // Visits up to `limit` rows matching `fts` in index order with their
  // score. Unlike Ranked it does not score every match of a frequent word,
  // so its cost is bounded by `limit`; used where co-location matters more
  // than the single word's rank (the subtree tier).
  Status Unranked(const std::string& fts, int64_t limit,
                  const std::function<Result<bool>(int64_t rowid, double score)>& visit) {
    NS_ASSIGN_OR_RETURN(Statement * stmt,
                        conn_.Prepare("SELECT rowid, bm25(nodes_fts, ?2, 1.0) FROM nodes_fts "
                                      "WHERE nodes_fts MATCH ?1 LIMIT ?3"));
    ScopedStatement s(*stmt);
    s->Bind(1, fts).BindDouble(2, opt_.title_weight).Bind(3, limit);
    while (true) {
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) return Status::OK();
      NS_ASSIGN_OR_RETURN(bool more, visit(s->ColumnInt(0), -s->ColumnDouble(1)));
      if (!more) return Status::OK();
    }
  }

  Result<int64_t> LifecycleOf(int64_t rowid) {
    NS_ASSIGN_OR_RETURN(Statement * stmt,
                        conn_.Prepare("SELECT lifecycle FROM nodes WHERE rowid = ?1"));
    ScopedStatement s(*stmt);
    s->Bind(1, rowid);
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    return row ? s->ColumnInt(0) : int64_t{-1};
  }

  // Appends up to `want` - hits.size() nodes matching `fts` that are not hits yet.
  Status Matches(const std::string& fts, std::optional<TermMatch> flat,
                 const std::vector<std::string>& words, size_t want, TextMatch match,
                 std::vector<RawHit>& hits) {
    if (hits.size() >= want) return Status::OK();
    const auto fetch = static_cast<int64_t>(want + hits.size() + 8);
    return Ranked(fts, flat, words, fetch, [&](int64_t rowid, double score) -> Result<bool> {
      if (seen_.count(rowid)) return true;
      NS_ASSIGN_OR_RETURN(int64_t lifecycle, LifecycleOf(rowid));
      if (lifecycle < 0 || lifecycle > MaxLifecycle()) return true;
      seen_.insert(rowid);
      hits.push_back({rowid, score, match, {}});
      return hits.size() < want;
    });
  }

  Result<std::string> ParentOf(const std::string& id) {
    auto it = parent_of_.find(id);
    if (it != parent_of_.end()) return it->second;
    NS_ASSIGN_OR_RETURN(Statement * stmt,
                        conn_.Prepare("SELECT parent_id FROM nodes WHERE id = ?1"));
    ScopedStatement s(*stmt);
    s->Bind(1, id);
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    std::string parent = row ? s->ColumnString(0) : "";
    parent_of_.emplace(id, parent);
    return parent;
  }

  // Nodes within `subtree_levels` above several matches that, between them,
  // contain every term. Only the lowest such nodes are kept: a grandparent
  // whose child already covers the query adds nothing.
  Status SubtreeMatches(size_t want, std::vector<RawHit>& hits) {
    struct Cover {
      double score = 0;
      std::string via;  // the matching node
    };
    const size_t n_terms = parsed_.positive_terms.size();
    // cover[t][id]: the best match of term t at or below node `id`.
    std::vector<std::unordered_map<std::string, Cover>> cover(n_terms);
    NS_ASSIGN_OR_RETURN(
        Statement * node_stmt,
        conn_.Prepare("SELECT id, parent_id, lifecycle FROM nodes WHERE rowid = ?1"));
    for (size_t t = 0; t < n_terms; ++t) {
      std::vector<std::pair<std::string, double>> matches;
      NS_RETURN_IF_ERROR(Unranked(parsed_.positive_terms[t], kSubtreeMatchesPerTerm,
                                  [&](int64_t rowid, double score) -> Result<bool> {
                                    ScopedStatement s(*node_stmt);
                                    s->Bind(1, rowid);
                                    NS_ASSIGN_OR_RETURN(bool row, s->Step());
                                    if (row && s->ColumnInt(2) <= MaxLifecycle()) {
                                      std::string id = s->ColumnString(0);
                                      parent_of_.emplace(id, s->ColumnString(1));
                                      matches.emplace_back(std::move(id), score);
                                    }
                                    return static_cast<int64_t>(matches.size()) <
                                           kSubtreeMatchesPerTerm;
                                  }));
      for (const auto& [id, score] : matches) {
        std::string at = id;
        for (int level = 0; level <= opt_.subtree_levels && !at.empty(); ++level) {
          Cover& c = cover[t][at];
          if (c.via.empty() || score > c.score) c = {score, id};
          NS_ASSIGN_OR_RETURN(at, ParentOf(at));
        }
      }
    }
    // Candidates cover every term; their score is the sum of the best matches.
    std::map<std::string, double> candidates;
    for (const auto& [id, c0] : cover[0]) {
      double score = c0.score;
      bool all = true;
      for (size_t t = 1; t < n_terms && all; ++t) {
        auto it = cover[t].find(id);
        if (it == cover[t].end()) {
          all = false;
        } else {
          score += it->second.score;
        }
      }
      if (all) candidates.emplace(id, score);
    }
    // Drop candidates above another candidate or above an all-terms hit.
    std::unordered_set<std::string> covered_below;
    auto mark_ancestors = [&](const std::string& id) -> Status {
      std::string at = id;
      for (int level = 0; level < opt_.subtree_levels; ++level) {
        NS_ASSIGN_OR_RETURN(at, ParentOf(at));
        if (at.empty()) break;
        covered_below.insert(at);
      }
      return Status::OK();
    };
    for (const auto& [id, score] : candidates) NS_RETURN_IF_ERROR(mark_ancestors(id));
    std::unordered_set<std::string> hit_ids;
    for (const RawHit& h : hits) {
      NS_ASSIGN_OR_RETURN(std::string id, IdOfRowid(h.rowid));
      hit_ids.insert(id);
      NS_RETURN_IF_ERROR(mark_ancestors(id));
    }
    std::vector<std::pair<double, std::string>> ranked;
    for (const auto& [id, score] : candidates) {
      if (covered_below.count(id) || hit_ids.count(id)) continue;
      ranked.emplace_back(score, id);
    }
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    for (const auto& [score, id] : ranked) {
      if (hits.size() >= want) break;
      NS_ASSIGN_OR_RETURN(std::optional<int64_t> rowid, RowidOf(id));
      if (!rowid || !seen_.insert(*rowid).second) continue;
      RawHit h{*rowid, score, TextMatch::kSubtree, {}};
      for (size_t t = 0; t < n_terms; ++t) {
        const std::string& via = cover[t][id].via;
        if (std::find(h.matched_ids.begin(), h.matched_ids.end(), via) == h.matched_ids.end()) {
          h.matched_ids.push_back(via);
        }
      }
      hits.push_back(std::move(h));
    }
    return Status::OK();
  }

  // Keeps one hit per tree root, in the order of each root's best hit.
  Status GroupByRoot(std::vector<RawHit>& hits) {
    std::vector<RawHit> groups;
    std::unordered_map<std::string, size_t> group_of_root;
    for (RawHit& h : hits) {
      NS_ASSIGN_OR_RETURN(std::string id, IdOfRowid(h.rowid));
      std::string root = id;
      // The depth cap only guards against a damaged tree (CheckIntegrity
      // reports it); a healthy one ends at a root long before.
      for (int depth = 0; depth < kMaxTreeDepth; ++depth) {
        NS_ASSIGN_OR_RETURN(std::string parent, ParentOf(root));
        if (parent.empty()) break;
        root = parent;
      }
      auto [it, fresh] = group_of_root.emplace(root, groups.size());
      if (fresh) {
        NS_ASSIGN_OR_RETURN(std::optional<int64_t> root_rowid, RowidOf(root));
        if (!root_rowid) {
          group_of_root.erase(it);
          continue;
        }
        RawHit g{*root_rowid, h.score, h.match, {}};
        g.snippet_rowid = h.rowid;
        groups.push_back(std::move(g));
      }
      RawHit& g = groups[it->second];
      if (h.match == TextMatch::kSubtree) {
        for (std::string& m : h.matched_ids) g.matched_ids.push_back(std::move(m));
      } else {
        g.matched_ids.push_back(id);
      }
    }
    hits = std::move(groups);
    return Status::OK();
  }

  Result<std::string> IdOfRowid(int64_t rowid) {
    NS_ASSIGN_OR_RETURN(Statement * stmt, conn_.Prepare("SELECT id FROM nodes WHERE rowid = ?1"));
    ScopedStatement s(*stmt);
    s->Bind(1, rowid);
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return Status::Internal("search hit row " + std::to_string(rowid) + " vanished");
    return s->ColumnString(0);
  }

  Result<std::optional<int64_t>> RowidOf(const std::string& id) {
    NS_ASSIGN_OR_RETURN(Statement * stmt, conn_.Prepare("SELECT rowid FROM nodes WHERE id = ?1"));
    ScopedStatement s(*stmt);
    s->Bind(1, id);
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return std::optional<int64_t>();
    return std::optional<int64_t>(s->ColumnInt(0));
  }

  Result<std::optional<Node>> LoadByRowid(int64_t rowid) {
    NS_ASSIGN_OR_RETURN(Statement * stmt,
                        conn_.Prepare(std::string("SELECT ") + storage::kNodeColumns +
                                      " FROM nodes WHERE rowid = ?1"));
    ScopedStatement s(*stmt);
    s->Bind(1, rowid);
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) return std::optional<Node>();
    return std::optional<Node>(storage::ReadNodeRow(*s));
  }

  // The highlighted passage of the node that matched; for subtree and
  // grouped hits, of the best matching node under it.
  Result<std::string> Snippet(const RawHit& h) {
    int64_t rowid = h.snippet_rowid != 0 ? h.snippet_rowid : h.rowid;
    std::string fts = parsed_.fts;
    if (h.match != TextMatch::kAllTerms) {
      fts.clear();
      for (const std::string& t : parsed_.positive_terms) {
        if (!fts.empty()) fts += " OR ";
        fts += t;
      }
    }
    NS_ASSIGN_OR_RETURN(Statement * stmt,
                        conn_.Prepare("SELECT snippet(nodes_fts, -1, ?3, ?4, '…', 16) FROM "
                                      "nodes_fts WHERE nodes_fts MATCH ?1 AND rowid = ?2"));
    ScopedStatement s(*stmt);
    s->Bind(1, fts).Bind(2, rowid).Bind(3, opt_.highlight_open).Bind(4, opt_.highlight_close);
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    return row ? s->ColumnString(0) : std::string();
  }

  Connection& conn_;
  const TextSearchOptions& opt_;
  ParsedQuery parsed_;
  TextIndex* index_;
  bool index_tried_ = false;
  bool ranked_by_index_ = false;
  std::unique_ptr<TextIndex::View> view_;
  std::optional<FtsTokenizer> tokenizer_;
  std::unordered_set<int64_t> seen_;
  std::unordered_map<std::string, std::string> parent_of_;
};

}  // namespace

Result<TextSearchResult> SearchText(Connection& conn, const TextSearchOptions& options,
                                    TextIndex* index) {
  if (options.limit == 0 || options.limit > kMaxLimit) {
    return Status::InvalidArgument("limit must be between 1 and " + std::to_string(kMaxLimit));
  }
  if (!std::isfinite(options.title_weight) || options.title_weight < 0) {
    return Status::InvalidArgument("title_weight must be a finite number >= 0");
  }
  if (options.subtree_levels < 0 || options.subtree_levels > 16) {
    return Status::InvalidArgument("subtree_levels must be between 0 and 16");
  }
  NS_ASSIGN_OR_RETURN(ParsedQuery parsed, ParseTextQuery(options.query));
  NS_RETURN_IF_ERROR(conn.Exec("BEGIN"));
  Search search(conn, options, std::move(parsed), index);
  Result<TextSearchResult> result = search.Run();
  (void)conn.Exec("COMMIT");
  return result;
}

}  // namespace text
}  // namespace nodespace
