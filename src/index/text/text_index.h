// Ranked term queries answered from postings in memory, with FTS5's scores.
//
// FTS5 ranks a query by scoring every row that matches it: an any-term query
// over a frequent word scores hundreds of thousands of rows to return ten
// (docs/BENCHMARKS.md, "Search: full text"). This index keeps, per term, the
// rows that contain it with their counts in title and content, and finds the
// best k with MaxScore: once k rows are held, a row that only matches words
// whose best possible contribution cannot lift it past the k-th is never
// scored, and those words' lists are only probed, not walked.
//
// The scores are FTS5's own bm25() (k1 1.2, b 0.75, the same idf, document
// length and column weights) over the tokens FTS5's tokenizer produces, so an
// answer equals what `bm25(nodes_fts, title_weight, 1.0)` ranks first, up to
// the order of equal scores. Queries it cannot answer exactly (phrases,
// prefixes, NOT, nested groups) stay with FTS5.
//
// Derived state like the hierarchy index: built from one pass over `nodes`,
// brought forward from the change log to each query's snapshot. Rows changed
// since the build leave their postings in the base lists (skipped there) and
// live in small sorted delta lists until the next build. Large builds run on
// a thread of their own (BuildInBackground) while FTS5 answers, so the first
// search after opening a large database does not wait for them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "index/text/fts5_tokenizer.h"
#include "index/text/text_query.h"
#include "nodespace/status.h"
#include "storage/sqlite.h"

namespace nodespace::text {

// A row and its score: FTS5's bm25() negated, so higher is better.
struct ScoredRow {
  int64_t row = 0;
  double score = 0;
};

class TextIndex {
 public:
  // Counts kept per (term, row): occurrences in the title and the content.
  struct Posting {
    uint32_t row = 0;
    uint16_t title_tf = 0;
    uint16_t content_tf = 0;
  };
  struct Term {
    std::vector<Posting> base;   // by row; rows no longer in the base are skipped
    std::vector<Posting> delta;  // by row; rows indexed since the build
    // Bounds over every posting ever added (removals keep them valid).
    uint16_t max_title_tf = 0;
    uint16_t max_content_tf = 0;
    uint32_t min_length = UINT32_MAX;
    bool overflow = false;  // a count past 65,535: scores would be wrong
  };
  struct Doc {
    uint32_t length = 0;  // tokens in title and content (FTS5's column sizes)
    uint8_t lifecycle = 0;
    bool exists = false;
    bool in_base = false;   // its postings in the base lists are current
    bool in_delta = false;  // its postings are in the delta lists
  };

  // The index at one change sequence, read-locked.
  class View {
   public:
    View(std::shared_lock<std::shared_mutex> lock, const TextIndex& index)
        : lock_(std::move(lock)), index_(index) {}

    int64_t seq() const { return index_.seq_; }
    // The `k` best rows for `words` (each the text of one quoted query
    // string), best first; ties by row. Rows whose lifecycle is above
    // `max_lifecycle`, and with `allowed` (sorted rowids) rows outside it,
    // are skipped. Null when the index cannot give FTS5's answer: a word
    // FTS5 reads as a phrase of several tokens (or none), or a term whose
    // counts overflowed.
    Result<std::optional<std::vector<ScoredRow>>> TopK(FtsTokenizer& tokenizer,
                                                       const std::vector<std::string>& words,
                                                       TermMatch match, double title_weight,
                                                       int max_lifecycle, size_t k,
                                                       const std::vector<int64_t>* allowed) const;

    // About how many rows match (any lifecycle), for planning: the sum of
    // the words' row counts (any term, at most every row) or their
    // product as if independent (all terms); no list is walked. Null as
    // for TopK.
    Result<std::optional<int64_t>> EstimateMatches(FtsTokenizer& tokenizer,
                                                   const std::vector<std::string>& words,
                                                   TermMatch match) const;

   private:
    // The terms FTS5 would read `words` as (null entries: unknown words);
    // false when a word is not exactly one token.
    Result<bool> Lookup(FtsTokenizer& tokenizer, const std::vector<std::string>& words,
                        std::vector<std::string>* tokens) const;

    std::shared_lock<std::shared_mutex> lock_;
    const TextIndex& index_;
  };

  using OpenConnection = std::function<Result<std::unique_ptr<storage::Connection>>()>;
  static constexpr int64_t kBackgroundBuildRows = 20000;

  TextIndex() = default;
  TextIndex(const TextIndex&) = delete;
  TextIndex& operator=(const TextIndex&) = delete;
  ~TextIndex();

  // From now on, a full build of a table with at least `min_rows` rows runs
  // on a thread of its own, reading through a connection from `open` in one
  // read transaction; until it is done, ViewAt returns null (callers use
  // FTS5). Without this, every build runs inside the ViewAt that needs it.
  // `installed` (when set) runs on the build's thread once its index is in
  // place and the one it replaced is freed, outside the index's lock.
  void BuildInBackground(OpenConnection open, int64_t min_rows = kBackgroundBuildRows,
                         std::function<void()> installed = nullptr);
  // Ends a background build at its next slice of rows, waits for it, and
  // starts no other; for shutdown.
  void StopBackgroundBuild();

  // The index at `seq`, the change sequence of the caller's read snapshot
  // (the caller is inside that read transaction), brought there first. Null
  // when it cannot be: a reader with a newer snapshot moved it past `seq`,
  // the rowids are too sparse for arrays, or a background build is running.
  Result<std::unique_ptr<View>> ViewAt(storage::Connection& conn, int64_t seq);

  // Drops everything (the next ViewAt rebuilds); for memory pressure.
  void Clear();
  // Bytes held by postings, rows and the term dictionary.
  size_t MemoryBytes() const;
  // Full builds so far (tests and status).
  int64_t rebuilds() const;
  // Whether a build was installed and nothing cleared it since.
  bool built() const;
  // The error that ended the last background build (OK: none); builds are
  // not retried after one until Clear.
  Status background_error() const;

 private:
  // A whole index read from one snapshot, before it is installed.
  struct Built {
    std::unordered_map<std::string, uint32_t> term_ids;
    std::vector<Term> terms;
    std::vector<Doc> docs;
    int64_t doc_count = 0;
    int64_t total_length = 0;
    bool unusable = false;  // rowids too sparse
  };
  // A row's tokens, counted, before they enter the index.
  struct PendingDoc {
    int64_t row = 0;
    uint8_t lifecycle = 0;
    uint32_t length = 0;
    std::vector<std::pair<std::string, Posting>> terms;
  };
  // Reads every row; `stop` (when set) ends it early with Busy.
  static Status Build(storage::Connection& conn, const std::atomic<bool>* stop, Built* out);
  void Install(Built built, int64_t seq);
  Status Rebuild(storage::Connection& conn, int64_t seq);
  void StartBackgroundBuild();
  void RunBackgroundBuild(int64_t generation);
  Status CatchUp(storage::Connection& conn, int64_t seq);
  void Reset();
  uint32_t InternTerm(const std::string& term);
  void RemoveDoc(int64_t row);
  void AddToDelta(const PendingDoc& doc);
  // Base postings of `term` whose row left the base since the build.
  int64_t StaleIn(const Term& term) const;

  mutable std::shared_mutex mu_;
  bool built_ = false;
  bool unusable_ = false;  // rowids too sparse; retried after Clear
  int64_t seq_ = 0;
  int64_t rebuilds_ = 0;
  std::unordered_map<std::string, uint32_t> term_ids_;
  std::vector<Term> terms_;
  std::vector<Doc> docs_;  // by rowid
  int64_t doc_count_ = 0;
  int64_t total_length_ = 0;
  // Rows removed from the base since the build, sorted; and the delta's
  // rows with their terms (to take them out again when they change).
  std::vector<uint32_t> stale_rows_;
  std::unordered_map<uint32_t, std::vector<uint32_t>> delta_terms_;
  // Background builds (guarded by mu_ unless atomic). Clear moves the
  // generation on, so a build started before it is not installed after.
  OpenConnection open_;
  std::function<void()> installed_;
  int64_t background_min_rows_ = 0;
  int64_t generation_ = 0;
  Status background_error_;
  std::thread builder_;
  std::atomic<bool> building_{false};
  std::atomic<bool> stop_{false};
};

}  // namespace nodespace::text
