#include "query/executor.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include "embed/text_analyzer.h"
#include "index/text/text_query.h"
#include "model/stable_hash.h"
#include "query/cursor.h"
#include "query/planner.h"
#include "storage/node_rows.h"

namespace nodespace::query {
namespace {

using Clock = std::chrono::steady_clock;
using storage::OwnedStatement;
using storage::ScopedStatement;
using storage::Statement;

// BM25 column weights (title, content): a title match counts three times a
// content match, as in Database::SearchText. FTS5 ranks with kBm25, the text
// index with kTitleWeight: they must agree.
constexpr const char* kBm25 = "bm25(nodes_fts, 3.0, 1.0)";
constexpr double kTitleWeight = 3.0;
// The planner's text match counts stop here (Statistics::TextMatches).
constexpr int64_t kTextMatchesCap = 100000;
// How many times larger than the narrowest index range a subtree may be and
// still be listed first, when the hierarchy index lists it (an array read
// per row against an indexed SQL probe per row: about 1 µs vs 0.02 µs).
constexpr double kTreeListingAdvantage = 20;
// Subtrees up to this size are counted exactly in the hierarchy index for the
// planner (at once from its preorder; otherwise a walk of about 200 ns a row
// at 1M nodes); larger ones keep the sampled estimate when it must walk.
constexpr int64_t kExactSubtreeCountCap = 20000;
constexpr int kMaxRootWalk = 10000;
// Hits carry no vector (NULL in its column): a page of 384-d vectors would
// triple what a result and its cache entry hold; Database::Get has it.
constexpr const char* kHitColumns =
    "id, parent_id, order_key, node_type, content, title, properties, lifecycle, version, "
    "created_at, modified_at, NULL";

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Sorts distinct row ids. A subtree listing comes in tree order and can hold
// tens of thousands of rows: marking them in a bitmap over their range and
// reading it back is linear, where sorting is not.
void SortDistinctRows(std::vector<int64_t>& rows) {
  if (rows.size() < 256) {
    std::sort(rows.begin(), rows.end());
    return;
  }
  const auto [lo, hi] = std::minmax_element(rows.begin(), rows.end());
  const int64_t base = *lo;
  const auto span = static_cast<uint64_t>(*hi - base) + 1;
  if (span / 64 > rows.size() * 4) {  // too sparse for a bitmap to pay
    std::sort(rows.begin(), rows.end());
    return;
  }
  std::vector<uint64_t> bits(span / 64 + 1, 0);
  for (int64_t row : rows) {
    const auto at = static_cast<uint64_t>(row - base);
    bits[at / 64] |= uint64_t{1} << (at % 64);
  }
  rows.clear();
  for (size_t w = 0; w < bits.size(); ++w) {
    for (uint64_t word = bits[w]; word != 0; word &= word - 1) {
      rows.push_back(base + static_cast<int64_t>(w * 64) + std::countr_zero(word));
    }
  }
}

std::string RowListJson(const std::vector<int64_t>& rows) {
  std::string json = "[";
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i) json += ',';
    json += std::to_string(rows[i]);
  }
  return json + "]";
}

QueryValue ReadValue(const Statement& s, int column) {
  switch (s.ColumnType(column)) {
    case SQLITE_INTEGER:
      return s.ColumnInt(column);
    case SQLITE_FLOAT:
      return s.ColumnDouble(column);
    case SQLITE_NULL:
      return std::monostate{};
    default:
      return s.ColumnString(column);
  }
}

// SQLite's ordering of values: NULL < numbers < text.
int CompareValues(const QueryValue& a, const QueryValue& b) {
  auto rank = [](const QueryValue& v) {
    if (std::holds_alternative<std::monostate>(v)) return 0;
    if (std::holds_alternative<std::string>(v)) return 2;
    return 1;
  };
  auto number = [](const QueryValue& v) {
    if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
    if (const auto* d = std::get_if<double>(&v)) return *d;
    if (const auto* b = std::get_if<bool>(&v)) return *b ? 1.0 : 0.0;
    return 0.0;
  };
  const int ra = rank(a), rb = rank(b);
  if (ra != rb) return ra < rb ? -1 : 1;
  if (ra == 0) return 0;
  if (ra == 2)
    return std::get<std::string>(a).compare(std::get<std::string>(b)) < 0 ? -1
           : std::get<std::string>(a) == std::get<std::string>(b)         ? 0
                                                                          : 1;
  const double x = number(a), y = number(b);
  return x < y ? -1 : (x > y ? 1 : 0);
}

struct Candidate {
  int64_t rowid = 0;
  double score = 0;
  std::optional<double> text_score;
  std::optional<size_t> text_rank;
  std::optional<double> vector_distance;
  std::optional<size_t> vector_rank;
  std::vector<QueryValue> sort_values;
  std::vector<int64_t> members;  // group_by_root: member rows, best first
};

// A ranked list from one index: (rowid, raw score), best first.
struct Ranked {
  int64_t rowid;
  double raw;  // bm25 (lower is better) or distance (lower is closer)
};

bool RankedLess(const Ranked& a, const Ranked& b) {
  return a.raw != b.raw ? a.raw < b.raw : a.rowid < b.rowid;
}

bool IsCreatedRange(const Filter& f) {
  return f.kind == Filter::Kind::kCompare && f.field == "created_at" &&
         (f.op == Filter::Op::kLt || f.op == Filter::Op::kLe || f.op == Filter::Op::kGt ||
          f.op == Filter::Op::kGe || f.op == Filter::Op::kEq);
}

// Whether one index can list the rows `filter` allows without reading the
// table: a single comparison (FilterAccessRows tells whether an index serves
// it), or created_at bounds, which share nodes_by_created.
bool FilterIndexCovers(const Filter& filter) {
  if (filter.kind == Filter::Kind::kCompare) return true;
  if (filter.kind != Filter::Kind::kAnd || filter.children.empty()) return false;
  return std::all_of(filter.children.begin(), filter.children.end(), IsCreatedRange);
}

class QueryRun {
 public:
  QueryRun(ExecutionContext& ctx, const Query& q, const std::vector<float>& qvec)
      : ctx_(ctx), q_(q), qvec_(qvec) {}

  Result<QueryResult> Execute();

 private:
  void Stage(const std::string& name, int64_t rows, Clock::time_point start,
             std::string detail = "") {
    out_.explain.stages.push_back({name, rows, MsSince(start), std::move(detail)});
  }
  Status Prepare();
  Status PlanRanked();
  size_t RankingDepth() const;  // candidates each ranking must produce
  Result<int64_t> FilterAccessRows();
  Status RunFieldSorted();
  Status RunRanked();
  Result<std::vector<Ranked>> TextCandidates(size_t depth);
  // The `k` best text matches from the text index (within `allowed`, sorted
  // rows, when given), best first; nothing when it cannot answer the query.
  Result<std::optional<std::vector<Ranked>>> IndexedText(size_t k,
                                                         const std::vector<int64_t>* allowed);
  // The text stage outside filter-first plans: from the text index when it
  // can answer (false: it cannot), else from FTS5.
  Result<bool> TextFromIndex(size_t depth, std::vector<Ranked>& out, std::string& detail);
  Status TextFromFts5(size_t depth, std::vector<Ranked>& out, std::string& detail);
  // Appends the rows of `ranked` that pass the filters, in order, until
  // `out` holds `depth`.
  Status KeepPassing(const std::vector<Ranked>& ranked, size_t depth, std::vector<Ranked>& out);
  Result<std::vector<Ranked>> VectorCandidates(size_t depth);
  Result<const std::vector<int64_t>*> AllowedRows(bool with_vector);
  Result<std::unordered_set<int64_t>> PassingRows(const std::vector<int64_t>& rows);
  Result<bool> CheckUnder(size_t which, int64_t rowid, const std::string& id,
                          const std::string& parent_id);
  void PlanTreeFilter();
  // Whether a row's facts (a HierarchyIndex::Row, or the preorder's copy of
  // them) pass the cursor's ceiling, the lifecycle, the vector and the type
  // tests; `type_ok` (by type code, `type_codes` long) is null for any type.
  template <typename Facts>
  static bool FactsPass(int64_t row, const Facts& r, int64_t ceiling, bool active_only,
                        bool with_vector, const uint8_t* type_ok, size_t type_codes) {
    return row <= ceiling && !(active_only && r.lifecycle != 0) && (!with_vector || r.has_vector) &&
           (type_ok == nullptr ||
            (static_cast<uint32_t>(r.type) < type_codes && type_ok[r.type] != 0));
  }
  // `known_unders`: how many of the first top-level subtrees are known to
  // hold the row already.
  template <typename Facts>
  bool TreeAccepts(int64_t row, const Facts& r, bool with_vector, size_t known_unders = 0) const {
    return FactsPass(row, r, cursor_.ceiling, active_only_, with_vector,
                     tree_types_ ? tree_type_allowed_.data() : nullptr,
                     tree_type_allowed_.size()) &&
           (known_unders >= top_unders_.size() || InOtherSubtrees(row, known_unders));
  }
  bool InOtherSubtrees(int64_t row, size_t known_unders) const;
  std::vector<Candidate> Fuse(const std::vector<Ranked>& text, const std::vector<Ranked>& vec);
  Status LoadSortValues(std::vector<Candidate>& candidates);
  Result<std::vector<Candidate>> GroupByRoot(std::vector<Candidate> candidates, size_t wanted);
  Result<int64_t> RootOf(int64_t rowid);
  Status FetchHits(const std::vector<Candidate>& page);
  Status ComputeFacets();
  Status ComputeAggregations();
  SqlExpr MatchSet() const;

  ExecutionContext& ctx_;
  const Query& q_;
  const std::vector<float>& qvec_;
  QueryResult out_;

  std::vector<SortKey> field_keys_;  // the sort without "score"
  bool score_sort_ = false;
  uint64_t query_hash_ = 0;
  Cursor cursor_;
  bool has_cursor_ = false;
  SqlExpr where_;        // the filters, lifecycle default and row ceiling
  SqlExpr where_probe_;  // the same, testing subtrees per row (for few rows)
  // For checking candidates: the filters without the top-level `under`
  // conditions, which CheckUnder tests with remembered ancestors instead.
  SqlExpr where_check_;
  // The filters and row ceiling without the lifecycle default, for listing
  // allowed rows from an index that covers the filters without reading the
  // table (AllowedRows).
  SqlExpr where_rows_;
  // The filters without the first top-level `under`, for listing the
  // allowed rows from that subtree outwards (AllowedRows).
  SqlExpr where_in_subtree_;
  std::optional<bool> from_subtree_;  // AllowedRows lists the subtree first
  std::vector<const Filter*> top_unders_;
  std::vector<int64_t> under_rows_;  // per top-level `under`: its target's row
  // With the hierarchy index (ctx_.tree): whether it alone can test every
  // filter (top-level subtrees, type equality, the default lifecycle), and
  // the type codes a row must carry (unset: any type).
  bool tree_filter_ = false;
  std::optional<std::vector<int32_t>> tree_types_;
  std::vector<uint8_t> tree_type_allowed_;  // by type code: 1 when in tree_types_
  bool active_only_ = false;
  // Per top-level `under`: node id -> levels below its target (-1: outside).
  std::vector<std::unordered_map<std::string, int>> under_memo_;
  std::string fts_;
  // The words fts_ combines, for the text index, when it is flat.
  std::vector<std::string> text_words_;
  std::optional<text::TermMatch> text_flat_;
  bool has_filters_ = false;
  QueryStrategy strategy_ = QueryStrategy::kHybrid;
  double selectivity_ = 1;
  PlanInput plan_in_;  // what the plan was chosen from
  std::optional<std::vector<int64_t>> allowed_all_, allowed_vec_;
  std::unordered_map<int64_t, int64_t> root_cache_;
};

Status QueryRun::Prepare() {
  const bool ranked = !q_.text.empty() || !qvec_.empty();
  for (const SortKey& key : q_.sort) {
    if (key.field != "score") field_keys_.push_back(key);
  }
  score_sort_ = ranked && (q_.sort.empty() || q_.sort.front().field == "score");
  if (!score_sort_ && field_keys_.empty()) field_keys_.push_back({"modified_at", true});

  Query canonical = q_;
  canonical.cursor.clear();
  canonical.explain = false;
  canonical.use_cache = true;
  canonical.strategy = QueryStrategy::kAuto;
  const std::string key = QueryToJson(canonical);
  query_hash_ = stable_hash::Fnv1a64(key);
  // Counted by hash: a vector query's JSON is kilobytes long.
  out_.explain.query_frequency = ctx_.stats.RecordQuery(std::to_string(query_hash_));
  ctx_.stats.RecordFieldUse(q_);

  if (!q_.cursor.empty()) {
    NS_ASSIGN_OR_RETURN(cursor_, DecodeCursor(q_.cursor));
    if (cursor_.query_hash != query_hash_) {
      return Status::InvalidArgument("cursor: belongs to a different query");
    }
    has_cursor_ = true;
  } else {
    NS_ASSIGN_OR_RETURN(cursor_.ceiling,
                        ctx_.conn.QueryInt("SELECT ifnull(max(rowid), 0) FROM nodes"));
  }
  cursor_.query_hash = query_hash_;

  has_filters_ = !(q_.filter.kind == Filter::Kind::kAnd && q_.filter.children.empty());
  // A subtree of a node that does not exist is a mistake, not an empty set.
  NS_ASSIGN_OR_RETURN(Statement * exists,
                      ctx_.conn.Prepare("SELECT rowid FROM nodes WHERE id = ?1"));
  std::unordered_map<std::string, int64_t> target_rows;
  std::vector<const Filter*> pending{&q_.filter};
  while (!pending.empty()) {
    const Filter* f = pending.back();
    pending.pop_back();
    for (const Filter& child : f->children) pending.push_back(&child);
    if (f->kind != Filter::Kind::kUnder) continue;
    ScopedStatement s(*exists);
    s->Bind(1, f->target);
    NS_ASSIGN_OR_RETURN(bool found, s->Step());
    if (!found) return Status::NotFound("under: node '" + f->target + "' not found");
    target_rows[f->target] = s->ColumnInt(0);
  }
  NS_ASSIGN_OR_RETURN(where_, CompileFilter(q_.filter, ctx_.resolve));
  NS_ASSIGN_OR_RETURN(where_probe_,
                      CompileFilter(q_.filter, ctx_.resolve, SubtreeTest::kAncestors));
  Filter rest = Filter::And({});
  if (q_.filter.kind == Filter::Kind::kAnd) {
    for (const Filter& child : q_.filter.children) {
      if (child.kind == Filter::Kind::kUnder) {
        top_unders_.push_back(&child);
      } else {
        rest.children.push_back(child);
      }
    }
  } else {
    rest.children.push_back(q_.filter);
  }
  under_memo_.resize(top_unders_.size());
  for (const Filter* under : top_unders_) under_rows_.push_back(target_rows[under->target]);
  active_only_ = !q_.include_archived && !FilterMentionsField(q_.filter, "lifecycle");
  PlanTreeFilter();
  NS_ASSIGN_OR_RETURN(where_check_, CompileFilter(rest, ctx_.resolve, SubtreeTest::kAncestors));
  if (!top_unders_.empty()) {
    Filter others = Filter::And({});
    for (const Filter& child : q_.filter.children) {
      if (&child != top_unders_.front()) others.children.push_back(child);
    }
    NS_ASSIGN_OR_RETURN(where_in_subtree_, CompileFilter(others, ctx_.resolve));
  }
  where_rows_ = where_;
  where_rows_.And({"+n.rowid <= " + std::to_string(cursor_.ceiling), {}});
  for (SqlExpr* w : {&where_, &where_probe_, &where_check_, &where_in_subtree_}) {
    if (!q_.include_archived && !FilterMentionsField(q_.filter, "lifecycle")) {
      w->And({"n.lifecycle = 0", {}});
    }
    // Unary + keeps SQLite from scanning by rowid to serve this bound when
    // an index fits the filters better.
    w->And({"+n.rowid <= " + std::to_string(cursor_.ceiling), {}});
  }

  if (!q_.text.empty()) {
    auto parsed = text::ParseTextQuery(q_.text);
    if (!parsed.ok()) return parsed.status().WithContext("text");
    fts_ = parsed->fts;
    text_words_ = parsed->positive_words;
    text_flat_ = parsed->flat;
    if (q_.text_any && parsed->plain && parsed->positive_terms.size() > 1) {
      // Any of the words, without the stop words of a natural-language
      // query ("the", "of"): they match most nodes and rank none.
      std::string any, all_terms;
      std::vector<std::string> any_words;
      bool any_prefix = false;
      for (size_t i = 0; i < parsed->positive_terms.size(); ++i) {
        const std::string& term = parsed->positive_terms[i];
        all_terms += (all_terms.empty() ? "" : " OR ") + term;
        const bool bare = term.size() > 2 && term.front() == '"' && term.back() == '"' &&
                          term.find(' ') == std::string::npos;
        std::string word = bare ? term.substr(1, term.size() - 2) : "";
        for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (bare && embed::IsStopWord(word)) continue;
        any += (any.empty() ? "" : " OR ") + term;
        any_words.push_back(parsed->positive_words[i]);
        any_prefix = any_prefix || parsed->positive_prefix[i];
      }
      fts_ = any.empty() ? all_terms : any;
      if (!any.empty()) {
        text_words_ = std::move(any_words);
      } else {
        any_prefix = std::find(parsed->positive_prefix.begin(), parsed->positive_prefix.end(),
                               true) != parsed->positive_prefix.end();
      }
      text_flat_ = any_prefix ? std::nullopt : std::optional(text::TermMatch::kAnyTerm);
    }
  }
  return Status::OK();
}

void QueryRun::PlanTreeFilter() {
  tree_filter_ = false;
  if (ctx_.tree == nullptr || top_unders_.empty()) return;
  for (const Filter& child : q_.filter.children) {
    if (child.kind == Filter::Kind::kUnder) continue;
    const bool type_eq = child.kind == Filter::Kind::kCompare && child.field == "type" &&
                         (child.op == Filter::Op::kEq || child.op == Filter::Op::kIn);
    if (!type_eq) return;
    std::vector<int32_t> codes;
    for (const QueryValue& v : child.values) {
      const std::string* type = std::get_if<std::string>(&v);
      if (type == nullptr) return;  // SQL's comparison of text with a number decides
      const int32_t code = ctx_.tree->TypeCode(*type);
      if (code >= 0) codes.push_back(code);
    }
    std::sort(codes.begin(), codes.end());
    if (tree_types_) {
      std::vector<int32_t> both;
      std::set_intersection(tree_types_->begin(), tree_types_->end(), codes.begin(), codes.end(),
                            std::back_inserter(both));
      codes = std::move(both);
    }
    tree_types_ = std::move(codes);
    // Codes are small (one per node type the database has seen): a table
    // by code tests a row in one load.
    tree_type_allowed_.assign(
        tree_types_->empty() ? 0 : static_cast<size_t>(tree_types_->back()) + 1, 0);
    for (int32_t code : *tree_types_) tree_type_allowed_[static_cast<size_t>(code)] = 1;
  }
  tree_filter_ = true;
}

bool QueryRun::InOtherSubtrees(int64_t row, size_t known_unders) const {
  for (size_t i = known_unders; i < top_unders_.size(); ++i) {
    if (ctx_.tree->LevelsBelow(row, under_rows_[i], top_unders_[i]->depth) < 0) return false;
  }
  return true;
}

Result<int64_t> QueryRun::FilterAccessRows() {
  // The cheapest indexed condition of a top-level AND bounds the rows SQLite
  // reaches; without one it scans every node.
  const int64_t nodes = ctx_.stats.node_count();
  std::vector<const Filter*> parts;
  if (q_.filter.kind == Filter::Kind::kAnd) {
    for (const Filter& c : q_.filter.children) parts.push_back(&c);
  } else {
    parts.push_back(&q_.filter);
  }
  int64_t best = nodes;
  // Range conditions on created_at share one index range scan: estimate
  // them together.
  Filter created_range = Filter::And({});
  for (const Filter* f : parts) {
    if (IsCreatedRange(*f)) created_range.children.push_back(*f);
  }
  if (!created_range.children.empty()) {
    const Filter& range =
        created_range.children.size() == 1 ? created_range.children[0] : created_range;
    NS_ASSIGN_OR_RETURN(double s, ctx_.stats.Selectivity(ctx_.conn, range, ctx_.resolve));
    best = std::min(best, static_cast<int64_t>(std::ceil(s * static_cast<double>(nodes))));
  }
  for (const Filter* f : parts) {
    bool indexed = f->kind == Filter::Kind::kUnder || f->kind == Filter::Kind::kMentions ||
                   f->kind == Filter::Kind::kMentionedBy || f->kind == Filter::Kind::kCollection;
    if (f->kind == Filter::Kind::kCompare) {
      const bool eq = f->op == Filter::Op::kEq || f->op == Filter::Op::kIn;
      indexed = eq && (f->field == "type" || f->field == "id" || f->field == "parent_id");
      // A property with an index of its own (a hot index): equality, IN and
      // one-sided ranges read just the matching entries. Without this the
      // plan costs filter_first as a scan of every row's JSON, and the
      // index the scaling manager built goes unused by vector queries.
      const bool range = f->op == Filter::Op::kLt || f->op == Filter::Op::kLe ||
                         f->op == Filter::Op::kGt || f->op == Filter::Op::kGe;
      const bool has_value =
          !f->values.empty() && !std::holds_alternative<std::monostate>(f->values[0]);
      if (!indexed && (eq || range) && has_value) {
        NS_ASSIGN_OR_RETURN(indexed, ctx_.stats.PropertyIndexed(ctx_.conn, f->field));
      }
    }
    if (!indexed) continue;
    NS_ASSIGN_OR_RETURN(double s, ctx_.stats.Selectivity(ctx_.conn, *f, ctx_.resolve));
    best = std::min(best, static_cast<int64_t>(std::ceil(s * static_cast<double>(nodes))));
  }
  return best;
}

size_t QueryRun::RankingDepth() const {
  // One list alone can go as deep as the page needs; fused lists stop at the
  // window so that deeper pages do not re-rank earlier ones.
  const bool both = !fts_.empty() && !qvec_.empty();
  if (both) return q_.window;
  size_t depth = static_cast<size_t>(cursor_.offset) + q_.limit + 1;
  if (!score_sort_ || q_.group_by_root) depth = std::max(depth, q_.window);
  return depth;
}

Status QueryRun::PlanRanked() {
  const auto start = Clock::now();
  NS_RETURN_IF_ERROR(ctx_.stats.Refresh(ctx_.conn, ctx_.change_seq));
  if (ctx_.tree) {
    // Exact sizes for the planner, cheaply: counting stops where a sampled
    // estimate is as good.
    for (size_t i = 0; i < top_unders_.size(); ++i) {
      const int64_t cap = ctx_.tree->Ordered(under_rows_[i]) ? INT64_MAX : kExactSubtreeCountCap;
      const int64_t size = ctx_.tree->CountSubtree(under_rows_[i], top_unders_[i]->depth, cap);
      if (size < cap) {
        ctx_.stats.RememberSubtreeSize(top_unders_[i]->target, top_unders_[i]->depth, size);
      }
    }
  }
  PlanInput in;
  in.has_text = !fts_.empty();
  in.has_vector = !qvec_.empty();
  in.has_filters = has_filters_;
  in.node_count = ctx_.stats.node_count();
  in.vector_count = ctx_.stats.vector_count();
  if (has_filters_) {
    NS_ASSIGN_OR_RETURN(selectivity_, ctx_.stats.Selectivity(ctx_.conn, q_.filter, ctx_.resolve));
    NS_ASSIGN_OR_RETURN(in.filter_access_rows, FilterAccessRows());
    if (tree_filter_) {
      NS_ASSIGN_OR_RETURN(double share,
                          ctx_.stats.Selectivity(ctx_.conn, *top_unders_.front(), ctx_.resolve));
      in.filter_access_rows =
          static_cast<int64_t>(std::ceil(share * static_cast<double>(in.node_count)));
      in.filter_in_memory = true;
    }
    in.filter_index_covers = FilterIndexCovers(q_.filter);
  } else {
    in.filter_access_rows = 0;
  }
  in.selectivity = selectivity_;
  if (in.has_text) {
    std::optional<int64_t> estimate;
    if (ctx_.text != nullptr && ctx_.tokenizer != nullptr && text_flat_) {
      // From the index's row counts: no FTS5 walk over the matches.
      NS_ASSIGN_OR_RETURN(estimate,
                          ctx_.text->EstimateMatches(*ctx_.tokenizer, text_words_, *text_flat_));
    }
    if (estimate) {
      // Capped as Statistics::TextMatches caps its count, which the cost
      // model's constants were set with.
      in.text_matches = std::min<int64_t>(*estimate, kTextMatchesCap);
      in.text_in_memory = true;
    } else {
      NS_ASSIGN_OR_RETURN(in.text_matches, ctx_.stats.TextMatches(ctx_.conn, fts_));
    }
  }
  in.depth = RankingDepth();
  in.ef = q_.ef ? q_.ef : ctx_.default_ef;
  in.exact_max = ctx_.exact_search_max;
  const Plan plan = ChoosePlan(in, q_.strategy);
  strategy_ = plan.strategy;
  plan_in_ = in;

  QueryExplain& e = out_.explain;
  e.node_count = in.node_count;
  e.vector_count = in.vector_count;
  e.filter_selectivity = selectivity_;
  e.text_match_estimate = in.has_text ? in.text_matches : -1;
  e.expected_result_size = static_cast<int64_t>(std::llround(
      selectivity_ * static_cast<double>(in.has_text ? in.text_matches : in.node_count)));
  e.estimated_cost_us = plan.cost_us;
  e.strategy = QueryStrategyName(strategy_);
  e.forced = plan.forced;
  Stage("plan", 0, start, e.strategy);
  return Status::OK();
}

Result<const std::vector<int64_t>*> QueryRun::AllowedRows(bool with_vector) {
  std::optional<std::vector<int64_t>>& slot = with_vector ? allowed_vec_ : allowed_all_;
  if (slot) return &*slot;
  const auto start = Clock::now();
  if (with_vector && allowed_all_ && ctx_.tree) {
    // The text stage listed the allowed rows already: keep those with a
    // vector (the hierarchy index knows, at the same snapshot) instead of
    // listing them again.
    std::vector<int64_t> rows;
    rows.reserve(allowed_all_->size());
    for (int64_t row : *allowed_all_) {
      const HierarchyIndex::Row* r = ctx_.tree->Find(row);
      if (r != nullptr && r->has_vector) rows.push_back(row);
    }
    slot = std::move(rows);
    Stage("filter", static_cast<int64_t>(slot->size()), start,
          "allowed rows with a vector, from the allowed rows");
    return &*slot;
  }
  // When a subtree is the narrowest way in, list it first and test the
  // other filters on its rows only. Left to itself SQLite walks an index on
  // a condition it cannot tell is broad (type = 'text' holds most rows: it
  // keeps no statistics, see hot_indexes.cc) and tests every row against
  // the subtree: 70-100 ms at 100K nodes for a subtree of a few hundred.
  // Decided once per query (both lists of allowed rows ask).
  if (!from_subtree_) {
    from_subtree_ = false;
    if (!top_unders_.empty()) {
      NS_ASSIGN_OR_RETURN(double share,
                          ctx_.stats.Selectivity(ctx_.conn, *top_unders_.front(), ctx_.resolve));
      NS_ASSIGN_OR_RETURN(int64_t narrowest, FilterAccessRows());
      const double subtree_rows = std::ceil(share * static_cast<double>(ctx_.stats.node_count()));
      // From the hierarchy index a listed row costs an array read, not an
      // indexed SQL probe: worth it for subtrees far larger than the
      // narrowest index range.
      const double advantage = ctx_.tree ? kTreeListingAdvantage : 1;
      from_subtree_ = subtree_rows <= static_cast<double>(narrowest) * advantage;
    }
  }
  const bool from_subtree = *from_subtree_;
  if (from_subtree && ctx_.tree) {
    std::vector<int64_t> rows;
    // TreeAccepts with its inputs copied into the closure; when the
    // hierarchy index cannot test every filter (no tree filter), only the
    // ceiling and the vector are tested here and SQL tests the rest below.
    // The loop runs once per row of the slice (389,511 rows for the largest
    // subtree the benchmark queries at 1M); with the inputs read through
    // `this`, each push_back made the compiler load them all again, and a
    // call with a binary search per row took 14 % of the hybrid queries'
    // time (perf). Both changes took the listing from 2.7-2.9 to 1.8-2.0 ms.
    const int64_t ceiling = cursor_.ceiling;
    const bool active_only = tree_filter_ && active_only_;
    const uint8_t* type_ok = tree_filter_ && tree_types_ ? tree_type_allowed_.data() : nullptr;
    const size_t type_codes = tree_type_allowed_.size();
    // Instantiated with and without the further subtrees' test, so that the
    // common single-subtree loop carries no branch for it.
    auto list = [&](auto other_unders) {
      ctx_.tree->ForEachInSubtree(
          under_rows_.front(), top_unders_.front()->depth,
          [this, &rows, ceiling, active_only, with_vector, type_ok, type_codes](int64_t row,
                                                                                const auto& r) {
            if (FactsPass(row, r, ceiling, active_only, with_vector, type_ok, type_codes) &&
                (!decltype(other_unders)::value || InOtherSubtrees(row, 1))) {
              rows.push_back(row);
            }
          });
    };
    if (tree_filter_ && top_unders_.size() > 1) {
      list(std::true_type{});
    } else {
      list(std::false_type{});
    }
    SortDistinctRows(rows);
    std::string detail = std::string("listed from the hierarchy index") +
                         (ctx_.tree->Ordered(under_rows_.front()) ? " (a preorder slice)"
                                                                  : " (a walk of child lists)");
    if (!tree_filter_ && !rows.empty()) {
      // The other filters need SQL: tested on the listed rows only.
      SqlExpr expr{"n.rowid IN (SELECT value FROM json_each(?1))", {RowListJson(rows)}};
      expr.And(where_in_subtree_);
      NS_ASSIGN_OR_RETURN(OwnedStatement s,
                          ctx_.conn.PrepareOnce("SELECT n.rowid FROM nodes n WHERE " + expr.sql));
      BindArgs(*s, expr.args);
      rows.clear();
      while (true) {
        NS_ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) break;
        rows.push_back(s->ColumnInt(0));
      }
      std::sort(rows.begin(), rows.end());
      detail += ", other filters in SQL";
    }
    slot = std::move(rows);
    Stage("filter", static_cast<int64_t>(slot->size()), start,
          std::string(with_vector ? "allowed rows with a vector, " : "allowed rows, ") + detail);
    return &*slot;
  }
  // Testing the lifecycle and the vector in SQL makes SQLite fetch every
  // row, where an index covering the filters (created_at, a hot property)
  // lists them alone: 10,000 rows in 4 ms instead of 40 at 1M
  // (docs/BENCHMARKS.md). With the hierarchy index both are tested in
  // memory. A list for the vector index needs neither test: the index holds
  // active nodes with a vector only and returns nothing else.
  const bool tree_checks = ctx_.tree != nullptr && !from_subtree;
  const bool index_checks = with_vector && !from_subtree && !tree_checks;
  SqlExpr expr = from_subtree                  ? where_in_subtree_
                 : tree_checks || index_checks ? where_rows_
                                               : where_;
  if (with_vector && from_subtree) expr.And({"n.embedding IS NOT NULL", {}});
  std::string sql = "SELECT n.rowid FROM nodes n WHERE " + expr.sql;
  if (from_subtree) {
    // CROSS JOIN keeps the subtree as the outer loop; the root id is bound
    // after the filters' own parameters.
    const Filter& under = *top_unders_.front();
    expr.args.push_back(under.target);
    sql = "WITH RECURSIVE sub(id, d) AS (SELECT id, 0 FROM nodes WHERE id = ?" +
          std::to_string(expr.args.size()) +
          " UNION ALL SELECT c.id, sub.d + 1 FROM nodes c JOIN sub ON c.parent_id = sub.id" +
          (under.depth >= 0 ? " WHERE sub.d < " + std::to_string(under.depth) : std::string()) +
          ") SELECT n.rowid FROM sub CROSS JOIN nodes n ON n.id = sub.id WHERE " + expr.sql;
  }
  // Sorted here, not by SQL: ORDER BY rowid would make SQLite walk the
  // table in rowid order instead of using an index that fits the filters.
  NS_ASSIGN_OR_RETURN(OwnedStatement s, ctx_.conn.PrepareOnce(sql));
  BindArgs(*s, expr.args);
  std::vector<int64_t> rows;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    const int64_t rowid = s->ColumnInt(0);
    if (tree_checks) {
      const HierarchyIndex::Row* r = ctx_.tree->Find(rowid);
      if (r == nullptr || (active_only_ && r->lifecycle != 0) || (with_vector && !r->has_vector)) {
        continue;
      }
    }
    rows.push_back(rowid);
  }
  std::sort(rows.begin(), rows.end());
  slot = std::move(rows);
  std::string detail = with_vector ? "allowed rows with a vector" : "allowed rows";
  if (from_subtree) detail += ", listed from the subtree";
  if (tree_checks) detail += ", lifecycle and vector from the hierarchy index";
  if (index_checks) detail += ", lifecycle and vector left to the vector index";
  Stage("filter", static_cast<int64_t>(slot->size()), start, detail);
  return &*slot;
}

Result<std::unordered_set<int64_t>> QueryRun::PassingRows(const std::vector<int64_t>& rows) {
  if (tree_filter_) {
    std::unordered_set<int64_t> passing;
    for (int64_t row : rows) {
      const HierarchyIndex::Row* r = ctx_.tree->Find(row);
      if (r != nullptr && TreeAccepts(row, *r, false)) passing.insert(row);
    }
    return passing;
  }
  SqlExpr expr{"n.rowid IN (SELECT value FROM json_each(?1))", {RowListJson(rows)}};
  expr.And(where_check_);
  NS_ASSIGN_OR_RETURN(
      OwnedStatement s,
      ctx_.conn.PrepareOnce("SELECT n.rowid, n.id, n.parent_id FROM nodes n WHERE " + expr.sql));
  BindArgs(*s, expr.args);
  std::unordered_set<int64_t> passing;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    bool inside = true;
    for (size_t i = 0; i < top_unders_.size() && inside; ++i) {
      NS_ASSIGN_OR_RETURN(inside,
                          CheckUnder(i, s->ColumnInt(0), s->ColumnString(1), s->ColumnString(2)));
    }
    if (inside) passing.insert(s->ColumnInt(0));
  }
  return passing;
}

Result<bool> QueryRun::CheckUnder(size_t which, int64_t rowid, const std::string& id,
                                  const std::string& parent_id) {
  if (ctx_.tree) {
    return ctx_.tree->LevelsBelow(rowid, under_rows_[which], top_unders_[which]->depth) >= 0;
  }
  // Walk up until the target, the root, or a node already placed, then
  // remember every node on the way: candidates share ancestors, so most
  // walks stop after a step or two.
  const Filter& under = *top_unders_[which];
  std::unordered_map<std::string, int>& memo = under_memo_[which];  // levels below, -1: outside
  auto within = [&](int levels) {
    return levels >= 0 && (under.depth < 0 || levels <= under.depth);
  };
  if (id == under.target) return within(0);
  if (auto known = memo.find(id); known != memo.end()) return within(known->second);
  NS_ASSIGN_OR_RETURN(Statement * parent_of,
                      ctx_.conn.Prepare("SELECT parent_id FROM nodes WHERE id = ?1"));
  std::vector<std::string> path{id};
  std::string up = parent_id;
  int base = -1;  // levels of `up` below the target
  while (true) {
    if (up.empty() || path.size() > 10000) break;  // a root (or a damaged tree): outside
    if (up == under.target) {
      base = 0;
      break;
    }
    if (auto known = memo.find(up); known != memo.end()) {
      base = known->second;
      break;
    }
    path.push_back(up);
    ScopedStatement p(*parent_of);
    p->Bind(1, up);
    NS_ASSIGN_OR_RETURN(bool row, p->Step());
    up = row ? p->ColumnString(0) : "";
  }
  // path[i] is path.size() - i levels below `up`.
  for (size_t i = 0; i < path.size(); ++i) {
    memo[path[i]] = base < 0 ? -1 : base + static_cast<int>(path.size() - i);
  }
  return within(memo[id]);
}

Result<std::optional<std::vector<Ranked>>> QueryRun::IndexedText(
    size_t k, const std::vector<int64_t>* allowed) {
  using Answer = std::optional<std::vector<Ranked>>;
  if (ctx_.text == nullptr || ctx_.tokenizer == nullptr || !text_flat_) return Answer();
  // Every lifecycle: the filters decide, as they do for FTS5's matches.
  constexpr int kAnyLifecycle = 2;
  NS_ASSIGN_OR_RETURN(std::optional<std::vector<text::ScoredRow>> top,
                      ctx_.text->TopK(*ctx_.tokenizer, text_words_, *text_flat_, kTitleWeight,
                                      kAnyLifecycle, k, allowed));
  if (!top) return Answer();
  std::vector<Ranked> out;
  out.reserve(top->size());
  for (const text::ScoredRow& r : *top) out.push_back({r.row, -r.score});
  return Answer(std::move(out));
}

Result<std::vector<Ranked>> QueryRun::TextCandidates(size_t depth) {
  const auto start = Clock::now();
  std::vector<Ranked> out;
  std::string detail;
  if (strategy_ == QueryStrategy::kFilterFirst && has_filters_) {
    // Score only the allowed rows: from the text index's postings when it
    // takes the words, else one FTS5 probe each (a probe for a broad word
    // walks its position lists: milliseconds at 1M nodes).
    NS_ASSIGN_OR_RETURN(const std::vector<int64_t>* allowed, AllowedRows(false));
    NS_ASSIGN_OR_RETURN(std::optional<std::vector<Ranked>> top, IndexedText(depth, allowed));
    if (top) {
      out = std::move(*top);
      Stage("text", static_cast<int64_t>(out.size()), start,
            "text index: matches within " + std::to_string(allowed->size()) + " allowed rows");
      return out;
    }
    NS_ASSIGN_OR_RETURN(
        Statement * stmt,
        ctx_.conn.Prepare(std::string("SELECT ") + kBm25 +
                          " FROM nodes_fts WHERE nodes_fts MATCH ?1 AND rowid = ?2"));
    for (int64_t rowid : *allowed) {
      ScopedStatement s(*stmt);
      s->Bind(1, fts_);
      s->Bind(2, rowid);
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (row) out.push_back({rowid, s->ColumnDouble(0)});
    }
    std::sort(out.begin(), out.end(), RankedLess);
    if (out.size() > depth) out.resize(depth);
    detail = "probed " + std::to_string(allowed->size()) + " allowed rows";
  } else {
    NS_ASSIGN_OR_RETURN(bool indexed, TextFromIndex(depth, out, detail));
    if (!indexed) NS_RETURN_IF_ERROR(TextFromFts5(depth, out, detail));
  }
  Stage("text", static_cast<int64_t>(out.size()), start, detail);
  return out;
}

Status QueryRun::KeepPassing(const std::vector<Ranked>& ranked, size_t depth,
                             std::vector<Ranked>& out) {
  std::unordered_set<int64_t> passing;
  if (has_filters_) {
    std::vector<int64_t> rows;
    for (const Ranked& r : ranked) rows.push_back(r.rowid);
    NS_ASSIGN_OR_RETURN(passing, PassingRows(rows));
  }
  for (const Ranked& r : ranked) {
    if ((!has_filters_ || passing.count(r.rowid)) && out.size() < depth) out.push_back(r);
  }
  return Status::OK();
}

Result<bool> QueryRun::TextFromIndex(size_t depth, std::vector<Ranked>& out, std::string& detail) {
  if (ctx_.text == nullptr || !text_flat_) return false;
  if (strategy_ == QueryStrategy::kVectorFirst || !has_filters_) {
    // The best rows without scoring every match; with filters, ever more
    // of them until enough pass.
    size_t want = has_filters_ ? std::max<size_t>(64, depth * 2) : depth;
    size_t examined = 0;
    while (out.size() < depth) {
      NS_ASSIGN_OR_RETURN(std::optional<std::vector<Ranked>> top, IndexedText(want, nullptr));
      if (!top) return false;  // only on the first round: the words do not change
      std::vector<Ranked> fresh(top->begin() + static_cast<std::ptrdiff_t>(examined), top->end());
      examined = top->size();
      NS_RETURN_IF_ERROR(KeepPassing(fresh, depth, out));
      if (top->size() < want) break;
      want *= 4;
    }
    detail = "text index: best " + std::to_string(examined) + " matches" +
             (has_filters_ ? ", then filtered" : "");
    return true;
  }
  if (ctx_.tree == nullptr) return false;
  // Hybrid with the allowed rows cheap from the hierarchy index: only they
  // are scored.
  NS_ASSIGN_OR_RETURN(const std::vector<int64_t>* allowed, AllowedRows(false));
  NS_ASSIGN_OR_RETURN(std::optional<std::vector<Ranked>> top, IndexedText(depth, allowed));
  if (!top) return false;
  out = std::move(*top);
  detail = "text index: matches within " + std::to_string(allowed->size()) + " allowed rows";
  return true;
}

Status QueryRun::TextFromFts5(size_t depth, std::vector<Ranked>& out, std::string& detail) {
  if (strategy_ == QueryStrategy::kVectorFirst || !has_filters_) {
    // Rank every match once (FTS5 scores them all before the first row),
    // then keep those the filters pass, checking them a batch at a time.
    NS_ASSIGN_OR_RETURN(Statement * stmt,
                        ctx_.conn.Prepare(std::string("SELECT rowid, ") + kBm25 +
                                          " AS s FROM nodes_fts WHERE nodes_fts MATCH ?1 ORDER BY "
                                          "s, rowid"));
    ScopedStatement s(*stmt);
    s->Bind(1, fts_);
    size_t batch = has_filters_ ? std::max<size_t>(64, depth * 2) : depth;
    size_t examined = 0;
    bool done = false;
    while (!done && out.size() < depth) {
      std::vector<Ranked> chunk;
      while (chunk.size() < batch) {
        NS_ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) {
          done = true;
          break;
        }
        chunk.push_back({s->ColumnInt(0), s->ColumnDouble(1)});
      }
      examined += chunk.size();
      NS_RETURN_IF_ERROR(KeepPassing(chunk, depth, out));
      batch *= 4;
    }
    detail = "ranked " + std::to_string(examined) + " matches, then filtered";
  } else if (ctx_.tree) {
    // The allowed rows are cheap from the hierarchy index: FTS5 walks its
    // matches and scores only the allowed ones.
    NS_ASSIGN_OR_RETURN(const std::vector<int64_t>* allowed, AllowedRows(false));
    NS_ASSIGN_OR_RETURN(Statement * stmt,
                        ctx_.conn.Prepare(std::string("SELECT rowid, ") + kBm25 +
                                          " AS s FROM nodes_fts WHERE nodes_fts MATCH ?1 AND "
                                          "ns_row_in(rowid, ?2) ORDER BY s, rowid LIMIT ?3"));
    ScopedStatement s(*stmt);
    s->Bind(1, fts_).BindRowSet(2, allowed).Bind(3, static_cast<int64_t>(depth));
    while (true) {
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      out.push_back({s->ColumnInt(0), s->ColumnDouble(1)});
    }
    detail = "matches within " + std::to_string(allowed->size()) + " allowed rows";
  } else {
    // One statement: FTS5 matches joined with the filters.
    SqlExpr expr{"nodes_fts MATCH ?1", {fts_}};
    expr.And(where_probe_);
    NS_ASSIGN_OR_RETURN(OwnedStatement s,
                        ctx_.conn.PrepareOnce(std::string("SELECT nodes_fts.rowid, ") + kBm25 +
                                              " AS s FROM nodes_fts JOIN nodes n ON n.rowid = "
                                              "nodes_fts.rowid WHERE " +
                                              expr.sql + " ORDER BY s, nodes_fts.rowid LIMIT " +
                                              std::to_string(depth)));
    BindArgs(*s, expr.args);
    while (true) {
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      out.push_back({s->ColumnInt(0), s->ColumnDouble(1)});
    }
    detail = "matches joined with the filters";
  }
  return Status::OK();
}

Result<std::vector<Ranked>> QueryRun::VectorCandidates(size_t depth) {
  const auto start = Clock::now();
  std::vector<Ranked> out;
  if (!ctx_.vectors) return out;
  VectorQuery vq;
  vq.vector = qvec_;
  vq.ef = q_.ef;
  const CreatedBounds bounds = CreatedAtBounds(q_.filter);
  vq.created_min = bounds.min;
  vq.created_max = bounds.max;
  std::string detail;
  if (has_filters_ && strategy_ != QueryStrategy::kVectorFirst) {
    NS_ASSIGN_OR_RETURN(const std::vector<int64_t>* allowed, AllowedRows(true));
    vq.allowed = allowed;
    vq.k = depth;
    // filter_first scores every allowed vector; hybrid lets the index walk
    // its graph and skip what the filter rejects.
    vq.exact = strategy_ == QueryStrategy::kFilterFirst;
    NS_ASSIGN_OR_RETURN(VectorAnswer answer, ctx_.vectors->Search(ctx_.conn, vq));
    for (const vector::Neighbor& n : answer.result.neighbors) {
      out.push_back({n.label, static_cast<double>(n.distance)});
    }
    detail = answer.plan + " over " + std::to_string(allowed->size()) + " allowed";
  } else {
    // Unfiltered nearest neighbours, widened until enough pass the filters.
    size_t k = depth;
    if (has_filters_) {
      k = static_cast<size_t>(
          std::ceil(static_cast<double>(depth) / std::max(selectivity_, 1e-6) * 1.2));
    }
    const size_t vectors = static_cast<size_t>(std::max<int64_t>(1, ctx_.stats.vector_count()));
    k = std::max(depth, std::min(k, vectors + depth));
    // Filtered afterwards: a quantized graph ranks its k by int8 codes alone
    // and the few that pass are re-scored below. Re-scoring all k with
    // floats (k + 256 reads, from disk once the floats' pages are released)
    // made these the slowest queries of the growth benchmark.
    vq.codes_only = has_filters_;
    bool rescore_passing = false;
    while (true) {
      vq.k = k;
      vq.ef = std::max(q_.ef ? q_.ef : ctx_.default_ef, k);
      NS_ASSIGN_OR_RETURN(VectorAnswer answer, ctx_.vectors->Search(ctx_.conn, vq));
      std::vector<int64_t> rows;
      for (const vector::Neighbor& n : answer.result.neighbors) rows.push_back(n.label);
      std::unordered_set<int64_t> passing;
      if (has_filters_) {
        NS_ASSIGN_OR_RETURN(passing, PassingRows(rows));
      }
      out.clear();
      for (const vector::Neighbor& n : answer.result.neighbors) {
        if (!has_filters_ || passing.count(n.label)) {
          out.push_back({n.label, static_cast<double>(n.distance)});
        }
      }
      detail = answer.plan + ", k=" + std::to_string(k) + " then filtered";
      rescore_passing = answer.result.stats.code_distances;
      if (out.size() >= depth || answer.result.neighbors.size() < k ||
          k >= static_cast<size_t>(answer.index_size)) {
        break;
      }
      // Fewer passed than the filters' share promised: the nearest vectors
      // mostly fail the filters (they lie outside the subtree, or rarely
      // carry the property). From the share that passed, the walk would
      // have to reach `needed` neighbours; listing the allowed rows and
      // pushing them into the index is often cheaper (a 1 % lexname filter
      // at 1M widened to k 8,000-33,000, 40-250 ms).
      const double passed = static_cast<double>(std::max<size_t>(out.size(), 1));
      const double needed = std::max(4.0 * static_cast<double>(k),
                                     static_cast<double>(depth) * static_cast<double>(k) / passed);
      if (PushDownCost(plan_in_) <= WidenedWalkCost(plan_in_, needed)) {
        NS_ASSIGN_OR_RETURN(const std::vector<int64_t>* allowed, AllowedRows(true));
        vq.allowed = allowed;
        vq.k = depth;
        vq.ef = q_.ef;
        vq.codes_only = false;
        rescore_passing = false;
        NS_ASSIGN_OR_RETURN(VectorAnswer pushed, ctx_.vectors->Search(ctx_.conn, vq));
        out.clear();
        for (const vector::Neighbor& n : pushed.result.neighbors) {
          out.push_back({n.label, static_cast<double>(n.distance)});
        }
        detail +=
            ", too few: " + pushed.plan + " over " + std::to_string(allowed->size()) + " allowed";
        break;
      }
      k = std::min(k * 4, static_cast<size_t>(answer.index_size));
    }
    if (rescore_passing && !out.empty()) {
      // The passing candidates as the allowed rows of an exact search: the
      // best of them by code (HnswIndex::RescoreCount(depth)) are re-scored
      // with floats, as an unfiltered walk of depth would re-score its own.
      std::vector<int64_t> passing;
      passing.reserve(out.size());
      for (const Ranked& r : out) passing.push_back(r.rowid);
      std::sort(passing.begin(), passing.end());
      passing.erase(std::unique(passing.begin(), passing.end()), passing.end());
      vq.allowed = &passing;
      vq.k = depth;
      vq.ef = q_.ef;
      vq.exact = true;
      vq.codes_only = false;
      NS_ASSIGN_OR_RETURN(VectorAnswer rescored, ctx_.vectors->Search(ctx_.conn, vq));
      out.clear();
      for (const vector::Neighbor& n : rescored.result.neighbors) {
        out.push_back({n.label, static_cast<double>(n.distance)});
      }
      detail += ", " + std::to_string(passing.size()) + " passing re-scored: " + rescored.plan;
    }
  }
  std::sort(out.begin(), out.end(), RankedLess);
  if (out.size() > depth) out.resize(depth);
  Stage("vector", static_cast<int64_t>(out.size()), start, detail);
  return out;
}

std::vector<Candidate> QueryRun::Fuse(const std::vector<Ranked>& text,
                                      const std::vector<Ranked>& vec) {
  std::unordered_map<int64_t, Candidate> by_row;
  for (size_t i = 0; i < text.size(); ++i) {
    Candidate& c = by_row[text[i].rowid];
    c.rowid = text[i].rowid;
    c.text_score = -text[i].raw;
    c.text_rank = i + 1;
  }
  for (size_t i = 0; i < vec.size(); ++i) {
    Candidate& c = by_row[vec[i].rowid];
    c.rowid = vec[i].rowid;
    c.vector_distance = vec[i].raw;
    c.vector_rank = i + 1;
  }
  const bool both = !fts_.empty() && !qvec_.empty();
  const FusionOptions& f = q_.fusion;
  auto bounds = [](const std::vector<Ranked>& list) {
    double lo = INFINITY, hi = -INFINITY;
    for (const Ranked& r : list) {
      lo = std::min(lo, r.raw);
      hi = std::max(hi, r.raw);
    }
    return std::pair{lo, hi};
  };
  const auto [text_lo, text_hi] = bounds(text);
  const auto [vec_lo, vec_hi] = bounds(vec);
  // Lower raw values are better in both lists: 1 for the best, 0 for the worst.
  auto scaled = [](double raw, double lo, double hi) {
    return hi > lo ? (hi - raw) / (hi - lo) : 1;
  };
  std::vector<Candidate> out;
  out.reserve(by_row.size());
  for (auto& [rowid, c] : by_row) {
    if (!both) {
      c.score = c.text_score ? *c.text_score : -*c.vector_distance;
    } else if (f.method == FusionOptions::Method::kRrf) {
      c.score = 0;
      if (c.text_rank) c.score += f.text_weight / (f.rrf_k + static_cast<double>(*c.text_rank));
      if (c.vector_rank) {
        c.score += f.vector_weight / (f.rrf_k + static_cast<double>(*c.vector_rank));
      }
    } else {
      c.score = 0;
      if (c.text_score) c.score += f.text_weight * scaled(-*c.text_score, text_lo, text_hi);
      if (c.vector_distance) {
        c.score += f.vector_weight * scaled(*c.vector_distance, vec_lo, vec_hi);
      }
    }
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
    return a.score != b.score ? a.score > b.score : a.rowid < b.rowid;
  });
  return out;
}

Status QueryRun::LoadSortValues(std::vector<Candidate>& candidates) {
  if (candidates.empty()) return Status::OK();
  std::string columns;
  for (const SortKey& key : field_keys_) {
    NS_ASSIGN_OR_RETURN(std::string sql, FieldSql(key.field));
    columns += ", " + sql;
  }
  std::vector<int64_t> rows;
  for (const Candidate& c : candidates) rows.push_back(c.rowid);
  NS_ASSIGN_OR_RETURN(OwnedStatement s,
                      ctx_.conn.PrepareOnce("SELECT n.rowid" + columns +
                                            " FROM nodes n WHERE n.rowid IN (SELECT value FROM "
                                            "json_each(?1))"));
  s->Bind(1, RowListJson(rows));
  std::unordered_map<int64_t, std::vector<QueryValue>> values;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    std::vector<QueryValue>& v = values[s->ColumnInt(0)];
    for (size_t i = 0; i < field_keys_.size(); ++i) v.push_back(ReadValue(*s, 1 + i));
  }
  for (Candidate& c : candidates) c.sort_values = std::move(values[c.rowid]);
  std::stable_sort(candidates.begin(), candidates.end(),
                   [&](const Candidate& a, const Candidate& b) {
                     for (size_t i = 0; i < field_keys_.size(); ++i) {
                       const int cmp = CompareValues(a.sort_values[i], b.sort_values[i]);
                       if (cmp != 0) return field_keys_[i].descending ? cmp > 0 : cmp < 0;
                     }
                     return a.rowid < b.rowid;
                   });
  return Status::OK();
}

Result<int64_t> QueryRun::RootOf(int64_t rowid) {
  auto it = root_cache_.find(rowid);
  if (it != root_cache_.end()) return it->second;
  NS_ASSIGN_OR_RETURN(
      Statement * stmt,
      ctx_.conn.Prepare("WITH RECURSIVE up(r, parent, d) AS (SELECT rowid, parent_id, 0 FROM "
                        "nodes WHERE rowid = ?1 UNION ALL SELECT n.rowid, n.parent_id, up.d + 1 "
                        "FROM nodes n JOIN up ON n.id = up.parent WHERE up.d < ?2) "
                        "SELECT r FROM up ORDER BY d DESC LIMIT 1"));
  ScopedStatement s(*stmt);
  s->Bind(1, rowid);
  s->Bind(2, kMaxRootWalk);
  NS_ASSIGN_OR_RETURN(bool row, s->Step());
  const int64_t root = row ? s->ColumnInt(0) : rowid;
  root_cache_[rowid] = root;
  return root;
}

Result<std::vector<Candidate>> QueryRun::GroupByRoot(std::vector<Candidate> candidates,
                                                     size_t wanted) {
  const auto start = Clock::now();
  std::vector<Candidate> groups;
  std::unordered_map<int64_t, size_t> group_of;
  for (Candidate& c : candidates) {
    NS_ASSIGN_OR_RETURN(int64_t root, RootOf(c.rowid));
    auto [it, fresh] = group_of.emplace(root, groups.size());
    if (fresh) {
      if (groups.size() >= wanted) break;
      Candidate g = c;
      g.rowid = root;
      g.members = {c.rowid};
      groups.push_back(std::move(g));
    } else {
      groups[it->second].members.push_back(c.rowid);
    }
  }
  Stage("group", static_cast<int64_t>(groups.size()), start, "one hit per root");
  return groups;
}

Status QueryRun::FetchHits(const std::vector<Candidate>& page) {
  const auto start = Clock::now();
  NS_ASSIGN_OR_RETURN(Statement * stmt, ctx_.conn.Prepare(std::string("SELECT ") + kHitColumns +
                                                          " FROM nodes WHERE rowid = ?1"));
  NS_ASSIGN_OR_RETURN(Statement * id_stmt,
                      ctx_.conn.Prepare("SELECT id FROM nodes WHERE rowid = ?1"));
  Statement* snippet_stmt = nullptr;
  if (!fts_.empty() && (!q_.highlight_open.empty() || !q_.highlight_close.empty())) {
    NS_ASSIGN_OR_RETURN(snippet_stmt,
                        ctx_.conn.Prepare("SELECT snippet(nodes_fts, -1, ?3, ?4, '…', 16) FROM "
                                          "nodes_fts WHERE nodes_fts MATCH ?1 AND rowid = ?2"));
  }
  for (const Candidate& c : page) {
    QueryHit hit;
    {
      ScopedStatement s(*stmt);
      s->Bind(1, c.rowid);
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) return Status::Internal("row " + std::to_string(c.rowid) + " vanished in a read");
      hit.node = storage::ReadNodeRow(*s);
    }
    hit.score = c.score;
    hit.text_score = c.text_score;
    hit.text_rank = c.text_rank;
    hit.vector_distance = c.vector_distance;
    hit.vector_rank = c.vector_rank;
    for (int64_t member : c.members) {
      ScopedStatement s(*id_stmt);
      s->Bind(1, member);
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (row) hit.matched_ids.push_back(s->ColumnString(0));
    }
    if (snippet_stmt != nullptr) {
      // Grouped hits show the passage of their best matching member.
      const int64_t rowid = c.members.empty() ? c.rowid : c.members.front();
      ScopedStatement s(*snippet_stmt);
      s->Bind(1, fts_).Bind(2, rowid).Bind(3, q_.highlight_open).Bind(4, q_.highlight_close);
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (row) hit.snippet = s->ColumnString(0);
    }
    out_.hits.push_back(std::move(hit));
  }
  Stage("fetch", static_cast<int64_t>(page.size()), start);
  return Status::OK();
}

Status QueryRun::RunFieldSorted() {
  // Filters (and text, as a match condition) evaluated by SQLite, ordered by
  // the sort keys, keyset-paginated.
  const auto start = Clock::now();
  out_.explain.strategy = fts_.empty() ? "filter_only" : "filter_only_text_match";
  std::vector<std::string> exprs;
  std::string order;
  for (const SortKey& key : field_keys_) {
    NS_ASSIGN_OR_RETURN(std::string sql, FieldSql(key.field));
    exprs.push_back(sql);
    order += sql + (key.descending ? " DESC, " : " ASC, ");
  }
  order += "n.rowid ASC";
  SqlExpr expr = MatchSet();
  if (has_cursor_ && !q_.group_by_root) {
    if (!cursor_.keyset || cursor_.sort_values.size() != exprs.size()) {
      return Status::InvalidArgument("cursor: belongs to a different query");
    }
    // Rows after the cursor's tuple in the sort order (NULLs sort first
    // ascending, last descending, as SQLite orders them).
    SqlExpr after;
    std::vector<std::string> params;
    for (size_t i = 0; i < exprs.size(); ++i) {
      after.args.push_back(cursor_.sort_values[i]);
      params.push_back("?" + std::to_string(after.args.size()));
    }
    after.args.push_back(cursor_.last_rowid);
    const std::string rowid_param = "?" + std::to_string(after.args.size());
    std::string equal_prefix;
    for (size_t i = 0; i < exprs.size(); ++i) {
      const std::string& e = exprs[i];
      const std::string& v = params[i];
      const std::string beyond =
          field_keys_[i].descending
              ? "(" + e + " < " + v + " OR (" + e + " IS NULL AND " + v + " IS NOT NULL))"
              : "(" + e + " > " + v + " OR (" + e + " IS NOT NULL AND " + v + " IS NULL))";
      after.sql += (i ? " OR " : "") + std::string("(") + equal_prefix + beyond + ")";
      equal_prefix += e + " IS " + v + " AND ";
    }
    after.sql += " OR (" + equal_prefix + "n.rowid > " + rowid_param + ")";
    expr.And(after);
  }
  std::string columns;
  for (const std::string& e : exprs) columns += ", " + e;
  const size_t wanted_groups = static_cast<size_t>(cursor_.offset) + q_.limit + 1;
  std::string sql =
      "SELECT n.rowid" + columns + " FROM nodes n WHERE " + expr.sql + " ORDER BY " + order;
  if (!q_.group_by_root) sql += " LIMIT " + std::to_string(q_.limit + 1);
  NS_ASSIGN_OR_RETURN(OwnedStatement s, ctx_.conn.PrepareOnce(sql));
  BindArgs(*s, expr.args);
  std::vector<Candidate> rows;
  std::unordered_set<int64_t> roots;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    Candidate c;
    c.rowid = s->ColumnInt(0);
    for (size_t i = 0; i < exprs.size(); ++i) c.sort_values.push_back(ReadValue(*s, 1 + i));
    if (q_.group_by_root) {
      NS_ASSIGN_OR_RETURN(int64_t root, RootOf(c.rowid));
      // Stop once one more group than the page needs has started.
      if (roots.insert(root).second && roots.size() > wanted_groups) break;
    }
    rows.push_back(std::move(c));
  }
  Stage("filter", static_cast<int64_t>(rows.size()), start, "SQLite: filters, sort, keyset");
  std::vector<Candidate> page;
  bool more = false;
  if (q_.group_by_root) {
    NS_ASSIGN_OR_RETURN(std::vector<Candidate> groups, GroupByRoot(std::move(rows), wanted_groups));
    const size_t from = std::min(groups.size(), static_cast<size_t>(cursor_.offset));
    const size_t to = std::min(groups.size(), from + q_.limit);
    page.assign(groups.begin() + static_cast<std::ptrdiff_t>(from),
                groups.begin() + static_cast<std::ptrdiff_t>(to));
    more = groups.size() > to;
    if (more) {
      Cursor next = cursor_;
      next.keyset = false;
      next.offset = static_cast<int64_t>(to);
      out_.next_cursor = EncodeCursor(next);
    }
  } else {
    more = rows.size() > q_.limit;
    if (more) rows.resize(q_.limit);
    page = std::move(rows);
    if (more) {
      Cursor next = cursor_;
      next.keyset = true;
      next.sort_values = page.back().sort_values;
      next.last_rowid = page.back().rowid;
      out_.next_cursor = EncodeCursor(next);
    }
  }
  return FetchHits(page);
}

Status QueryRun::RunRanked() {
  NS_RETURN_IF_ERROR(PlanRanked());
  if (has_cursor_ && cursor_.keyset) {
    return Status::InvalidArgument("cursor: belongs to a different query");
  }
  const size_t offset = static_cast<size_t>(cursor_.offset);
  const bool both = !fts_.empty() && !qvec_.empty();
  const size_t depth = RankingDepth();
  std::vector<Ranked> text, vec;
  if (!fts_.empty()) {
    NS_ASSIGN_OR_RETURN(text, TextCandidates(depth));
  }
  if (!qvec_.empty()) {
    NS_ASSIGN_OR_RETURN(vec, VectorCandidates(depth));
  }
  auto start = Clock::now();
  std::vector<Candidate> ranked = Fuse(text, vec);
  if (!score_sort_) NS_RETURN_IF_ERROR(LoadSortValues(ranked));
  Stage("fuse", static_cast<int64_t>(ranked.size()), start,
        !score_sort_ ? "sorted by fields"
        : both       ? (q_.fusion.method == FusionOptions::Method::kRrf ? "rrf" : "weighted")
                     : "single ranking");
  if (q_.group_by_root) {
    NS_ASSIGN_OR_RETURN(ranked, GroupByRoot(std::move(ranked), offset + q_.limit + 1));
  }
  start = Clock::now();
  const size_t from = std::min(ranked.size(), offset);
  const size_t to = std::min(ranked.size(), from + q_.limit);
  std::vector<Candidate> page(ranked.begin() + static_cast<std::ptrdiff_t>(from),
                              ranked.begin() + static_cast<std::ptrdiff_t>(to));
  if (ranked.size() > to) {
    Cursor next = cursor_;
    next.keyset = false;
    next.offset = static_cast<int64_t>(to);
    out_.next_cursor = EncodeCursor(next);
  }
  Stage("page", static_cast<int64_t>(page.size()), start);
  return FetchHits(page);
}

SqlExpr QueryRun::MatchSet() const {
  SqlExpr expr = where_;
  if (!fts_.empty()) {
    expr.And({"n.rowid IN (SELECT rowid FROM nodes_fts WHERE nodes_fts MATCH ?1)", {fts_}});
  }
  return expr;
}

Status QueryRun::ComputeFacets() {
  if (q_.facets.empty() && q_.aggregations.empty()) return Status::OK();
  const auto start = Clock::now();
  const SqlExpr m = MatchSet();
  {
    NS_ASSIGN_OR_RETURN(OwnedStatement s,
                        ctx_.conn.PrepareOnce("SELECT count(*) FROM nodes n WHERE " + m.sql));
    BindArgs(*s, m.args);
    NS_ASSIGN_OR_RETURN(bool row, s->Step());
    out_.total_matches = row ? s->ColumnInt(0) : 0;
  }
  for (const FacetRequest& facet : q_.facets) {
    std::string sql;
    if (facet.field.rfind("properties.", 0) == 0) {
      NS_ASSIGN_OR_RETURN(std::string path, PropertyPathLiteral(facet.field));
      // json_each yields the elements of an array and a scalar itself.
      sql =
          "SELECT CASE je.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' "
          "THEN 'null' ELSE CAST(je.value AS TEXT) END AS v, count(*) AS c FROM nodes n, "
          "json_each(n.properties, " +
          path + ") je WHERE " + m.sql + " GROUP BY v ORDER BY c DESC, v";
    } else {
      NS_ASSIGN_OR_RETURN(std::string column, FieldSql(facet.field));
      if (facet.field == "lifecycle") {
        column = "CASE n.lifecycle WHEN 0 THEN 'active' WHEN 1 THEN 'archived' ELSE 'deleted' END";
      }
      sql = "SELECT CAST(" + column + " AS TEXT) AS v, count(*) AS c FROM nodes n WHERE " + m.sql +
            " GROUP BY v ORDER BY c DESC, v";
    }
    NS_ASSIGN_OR_RETURN(OwnedStatement s, ctx_.conn.PrepareOnce(sql));
    BindArgs(*s, m.args);
    FacetResult result;
    result.field = facet.field;
    while (true) {
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      if (result.values.size() < facet.size) {
        result.values.push_back(
            {s->ColumnIsNull(0) ? "null" : s->ColumnString(0), s->ColumnInt(1)});
      } else {
        result.other_count += s->ColumnInt(1);
      }
    }
    out_.facets.push_back(std::move(result));
  }
  if (!q_.facets.empty()) Stage("facets", static_cast<int64_t>(q_.facets.size()), start);
  return ComputeAggregations();
}

Status QueryRun::ComputeAggregations() {
  if (q_.aggregations.empty()) return Status::OK();
  const auto start = Clock::now();
  const SqlExpr m = MatchSet();
  for (const AggregationRequest& a : q_.aggregations) {
    AggregationResult result;
    result.name = a.name.empty() ? std::string(AggregationKindName(a.kind)) +
                                       (a.field.empty() ? "" : "(" + a.field + ")")
                                 : a.name;
    if (a.kind == AggregationRequest::Kind::kCount) {
      result.value = static_cast<double>(out_.total_matches);
      out_.aggregations.push_back(std::move(result));
      continue;
    }
    NS_ASSIGN_OR_RETURN(std::string v, FieldSql(a.field));
    std::string sql;
    if (a.kind == AggregationRequest::Kind::kDateHistogram) {
      const std::string day =
          "(CASE typeof(" + v + ") WHEN 'text' THEN date(" + v + ") WHEN 'integer' THEN date(" + v +
          " / 1000, 'unixepoch') WHEN 'real' THEN date(" + v + " / 1000, 'unixepoch') END)";
      std::string key = day;
      if (a.interval == "week") key = "date(" + day + ", 'weekday 0', '-6 days')";
      if (a.interval == "month") key = "strftime('%Y-%m', " + day + ")";
      sql = "SELECT " + key + " AS k, count(*) FROM nodes n WHERE " + m.sql +
            " AND k IS NOT NULL GROUP BY k ORDER BY k";
    } else {
      static const std::map<AggregationRequest::Kind, const char*> kFunctions = {
          {AggregationRequest::Kind::kMin, "min"},
          {AggregationRequest::Kind::kMax, "max"},
          {AggregationRequest::Kind::kAvg, "avg"},
          {AggregationRequest::Kind::kSum, "sum"}};
      sql = std::string("SELECT ") + kFunctions.at(a.kind) + "(" + v + ") FROM nodes n WHERE " +
            m.sql + " AND typeof(" + v + ") IN ('integer', 'real')";
    }
    NS_ASSIGN_OR_RETURN(OwnedStatement s, ctx_.conn.PrepareOnce(sql));
    BindArgs(*s, m.args);
    while (true) {
      NS_ASSIGN_OR_RETURN(bool row, s->Step());
      if (!row) break;
      if (a.kind == AggregationRequest::Kind::kDateHistogram) {
        result.buckets.push_back({s->ColumnString(0), s->ColumnInt(1)});
      } else if (!s->ColumnIsNull(0)) {
        result.value = s->ColumnDouble(0);
      }
    }
    out_.aggregations.push_back(std::move(result));
  }
  Stage("aggregations", static_cast<int64_t>(q_.aggregations.size()), start);
  return Status::OK();
}

Result<QueryResult> QueryRun::Execute() {
  const auto start = Clock::now();
  NS_RETURN_IF_ERROR(Prepare());
  QueryExplain& e = out_.explain;
  e.has_text = !fts_.empty();
  e.has_vector = !qvec_.empty();
  e.has_filters = has_filters_;
  out_.total_matches = -1;
  const bool ranked = !fts_.empty() || !qvec_.empty();
  if (!ranked || (qvec_.empty() && !score_sort_)) {
    NS_RETURN_IF_ERROR(RunFieldSorted());
  } else {
    NS_RETURN_IF_ERROR(RunRanked());
  }
  NS_RETURN_IF_ERROR(ComputeFacets());
  e.total_ms = MsSince(start);
  return std::move(out_);
}

}  // namespace

Result<QueryResult> ExecuteQuery(ExecutionContext& ctx, const Query& query,
                                 const std::vector<float>& query_vector) {
  QueryRun run(ctx, query, query_vector);
  return run.Execute();
}

}  // namespace nodespace::query
