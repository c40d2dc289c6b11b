#include "index/text/text_index.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

#include "storage/changed_nodes.h"

namespace nodespace::text {
namespace {

using storage::Connection;
using storage::ScopedStatement;
using storage::Statement;

// FTS5's bm25() constants (fts5_aux.c).
constexpr double kK1 = 1.2;
constexpr double kB = 0.75;
// Catching up re-reads each changed row; past this many changes (or rows
// changed since the build) one pass over the table is cheaper and keeps the
// delta lists short.
constexpr int64_t kRebuildAfterChanges = 50000;
constexpr uint16_t kMaxCount = std::numeric_limits<uint16_t>::max();
constexpr uint32_t kEnd = std::numeric_limits<uint32_t>::max();

constexpr const char* kDocColumns = "rowid, title, content, lifecycle";

using Posting = TextIndex::Posting;

// Counts one token into `p`; false when the count would overflow.
bool Count(Posting& p, int column) {
  uint16_t& tf = column == 0 ? p.title_tf : p.content_tf;
  if (tf == kMaxCount) return false;
  ++tf;
  return true;
}

// One row's title and content as FTS5 indexes them: per distinct token its
// counts, and the row's length in tokens.
template <typename Visit>
Status TokenizeDoc(FtsTokenizer& tokenizer, std::string_view title, std::string_view content,
                   uint32_t* length, Visit&& visit) {
  *length = 0;
  const std::string_view columns[2] = {title, content};
  for (int column = 0; column < 2; ++column) {
    uint32_t column_size = 0;
    NS_RETURN_IF_ERROR(
        tokenizer.Tokenize(columns[column], false, [&](std::string_view token, bool colocated) {
          // FTS5 counts a colocated token
          // (a synonym) in no column size.
          if (!colocated || column_size == 0) ++column_size;
          visit(token, column);
        }));
    *length += column_size;
  }
  return Status::OK();
}

// Walks one term's postings in row order: the base list (skipping rows that
// left it) and the delta list, merged.
class Cursor {
 public:
  Cursor(const TextIndex::Term& term, const std::vector<TextIndex::Doc>& docs)
      : base_(term.base.data()),
        base_end_(base_ + term.base.size()),
        delta_(term.delta.data()),
        delta_end_(delta_ + term.delta.size()),
        docs_(docs) {
    SkipStale();
  }

  uint32_t row() const {
    const uint32_t b = base_ < base_end_ ? base_->row : kEnd;
    const uint32_t d = delta_ < delta_end_ ? delta_->row : kEnd;
    return std::min(b, d);
  }
  // The posting at row(); only when row() != kEnd.
  const Posting& posting() const {
    if (base_ < base_end_ && (delta_ == delta_end_ || base_->row < delta_->row)) return *base_;
    return *delta_;
  }
  void Next() {
    const uint32_t at = row();
    if (base_ < base_end_ && base_->row == at) {
      ++base_;
      SkipStale();
    }
    if (delta_ < delta_end_ && delta_->row == at) ++delta_;
  }
  // Moves to the first posting at or after `target`.
  void SeekTo(uint32_t target) {
    base_ = Gallop(base_, base_end_, target);
    SkipStale();
    delta_ = Gallop(delta_, delta_end_, target);
  }

 private:
  static const Posting* Gallop(const Posting* from, const Posting* end, uint32_t target) {
    if (from == end || from->row >= target) return from;
    // Exponential steps from `from`, then a binary search in the last one;
    // offsets are checked against what is left, never past `end`.
    size_t step = 1;
    const Posting* lo = from;
    while (step < static_cast<size_t>(end - lo) && lo[step].row < target) {
      lo += step;
      step *= 2;
    }
    const Posting* hi = step < static_cast<size_t>(end - lo) ? lo + step + 1 : end;
    return std::lower_bound(lo, hi, target, [](const Posting& p, uint32_t r) { return p.row < r; });
  }
  void SkipStale() {
    while (base_ < base_end_ && !docs_[base_->row].in_base) ++base_;
  }

  const Posting* base_;
  const Posting* base_end_;
  const Posting* delta_;
  const Posting* delta_end_;
  const std::vector<TextIndex::Doc>& docs_;
};

// One distinct query term while a query runs.
struct WeightedTerm {
  const TextIndex::Term* term = nullptr;
  double idf = 0;
  int copies = 1;  // the word appears this often in the query: FTS5 scores each
  double bound = 0;
  int64_t frequency = 0;
};

// The k best rows seen so far: a min-heap on (score, then larger row first).
class TopRows {
 public:
  explicit TopRows(size_t k) : k_(k) {}
  bool full() const { return heap_.size() >= k_; }
  // Rows must score above this to enter once the heap is full.
  double threshold() const { return full() ? heap_.front().score : -HUGE_VAL; }
  void Offer(uint32_t row, double score) {
    const ScoredRow r{row, score};
    if (!full()) {
      heap_.push_back(r);
      std::push_heap(heap_.begin(), heap_.end(), Worse);
    } else if (Worse(r, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), Worse);
      heap_.back() = r;
      std::push_heap(heap_.begin(), heap_.end(), Worse);
    }
  }
  std::vector<ScoredRow> Take() {
    std::sort(heap_.begin(), heap_.end(), Worse);
    return std::move(heap_);
  }

 private:
  // True when a ranks before b (the heap keeps the worst at its front).
  static bool Worse(const ScoredRow& a, const ScoredRow& b) {
    return a.score != b.score ? a.score > b.score : a.row < b.row;
  }
  size_t k_;
  std::vector<ScoredRow> heap_;
};

}  // namespace

Result<std::optional<std::vector<ScoredRow>>> TextIndex::View::TopK(
    FtsTokenizer& tokenizer, const std::vector<std::string>& words, TermMatch match,
    double title_weight, int max_lifecycle, size_t k, const std::vector<int64_t>* allowed) const {
  using Answer = std::optional<std::vector<ScoredRow>>;
  const TextIndex& ix = index_;
  std::vector<std::string> tokens;
  NS_ASSIGN_OR_RETURN(bool one_token_each, Lookup(tokenizer, words, &tokens));
  if (!one_token_each) return Answer();
  std::vector<WeightedTerm> terms;
  std::vector<std::string> seen;
  std::vector<const Term*> phrase_terms;  // per token, in query order (null: unknown)
  for (const std::string& token : tokens) {
    if (auto dup = std::find(seen.begin(), seen.end(), token); dup != seen.end()) {
      auto at = static_cast<size_t>(dup - seen.begin());
      if (terms[at].term != nullptr) ++terms[at].copies;
      phrase_terms.push_back(terms[at].term);
      continue;
    }
    seen.push_back(token);
    auto it = ix.term_ids_.find(token);
    if (it == ix.term_ids_.end()) {
      if (match == TermMatch::kAllTerms) return Answer(std::vector<ScoredRow>());
      terms.push_back({});  // keeps terms parallel to seen; matches nothing
      phrase_terms.push_back(nullptr);
      continue;
    }
    const Term& t = ix.terms_[it->second];
    phrase_terms.push_back(&t);
    if (t.overflow) return Answer();
    WeightedTerm q;
    q.term = &t;
    q.frequency =
        static_cast<int64_t>(t.base.size()) - ix.StaleIn(t) + static_cast<int64_t>(t.delta.size());
    terms.push_back(q);
  }
  terms.erase(std::remove_if(terms.begin(), terms.end(),
                             [](const WeightedTerm& q) { return q.term == nullptr; }),
              terms.end());
  if (terms.empty() || ix.doc_count_ == 0 || k == 0) return Answer(std::vector<ScoredRow>());

  // FTS5's statistics: rows, average length, per-term idf (clamped above 0).
  const auto rows = static_cast<double>(ix.doc_count_);
  const double avgdl = static_cast<double>(ix.total_length_) / rows;
  auto contribution = [&](const WeightedTerm& q, const Posting& p, uint32_t row) {
    const double freq = title_weight * p.title_tf + 1.0 * p.content_tf;
    const auto length = static_cast<double>(ix.docs_[row].length);
    return q.copies * q.idf *
           ((freq * (kK1 + 1.0)) / (freq + kK1 * (1 - kB + kB * length / avgdl)));
  };
  for (WeightedTerm& q : terms) {
    const auto hits = static_cast<double>(q.frequency);
    q.idf = std::log((rows - hits + 0.5) / (hits + 0.5));
    if (q.idf <= 0.0) q.idf = 1e-6;
    // The best any row can get from this term: the highest counts at the
    // shortest length (the score grows with counts, falls with length).
    Posting best{0, q.term->max_title_tf, q.term->max_content_tf};
    const double freq = title_weight * best.title_tf + best.content_tf;
    const double shortest = q.term->min_length == UINT32_MAX ? 0.0 : q.term->min_length;
    q.bound =
        q.copies * q.idf * ((freq * (kK1 + 1.0)) / (freq + kK1 * (1 - kB + kB * shortest / avgdl)));
    q.bound = q.bound * (1 + 1e-9) + 1e-12;  // rounding must not prune a row that belongs
  }

  // The answer's scores summed phrase by phrase in query order, as FTS5
  // sums them, so that either ranking gives bit-identical scores.
  std::unordered_map<const Term*, double> idf_of;
  for (const WeightedTerm& q : terms) idf_of[q.term] = q.idf;
  auto in_query_order = [&](std::vector<ScoredRow> rows) {
    for (ScoredRow& r : rows) {
      const auto row = static_cast<uint32_t>(r.row);
      double score = 0;
      for (const Term* t : phrase_terms) {
        if (t == nullptr) continue;
        const std::vector<Posting>& list = ix.docs_[row].in_base ? t->base : t->delta;
        auto at = std::lower_bound(list.begin(), list.end(), row,
                                   [](const Posting& p, uint32_t x) { return p.row < x; });
        if (at == list.end() || at->row != row) continue;
        WeightedTerm once;
        once.idf = idf_of[t];
        score += contribution(once, *at, row);
      }
      r.score = score;
    }
    std::sort(rows.begin(), rows.end(), [](const ScoredRow& a, const ScoredRow& b) {
      return a.score != b.score ? a.score > b.score : a.row < b.row;
    });
    return Answer(std::move(rows));
  };

  // The allowed rows as a bitmap: a candidate costs one bit test.
  std::vector<uint64_t> allowed_bits;
  if (allowed != nullptr) {
    allowed_bits.assign(ix.docs_.size() / 64 + 1, 0);
    for (int64_t row : *allowed) {
      if (row > 0 && static_cast<size_t>(row) < ix.docs_.size()) {
        allowed_bits[static_cast<size_t>(row) / 64] |= uint64_t{1} << (row % 64);
      }
    }
  }
  auto admitted = [&](uint32_t row) {
    const Doc& d = ix.docs_[row];
    if (!d.exists || d.lifecycle > max_lifecycle) return false;
    return allowed == nullptr || ((allowed_bits[row / 64] >> (row % 64)) & 1) != 0;
  };

  TopRows top(k);
  std::vector<Cursor> cursors;
  if (match == TermMatch::kAllTerms) {
    // Rarest list first; every row it holds is sought in the others.
    std::sort(terms.begin(), terms.end(), [](const WeightedTerm& a, const WeightedTerm& b) {
      return a.frequency < b.frequency;
    });
    for (const WeightedTerm& q : terms) cursors.emplace_back(*q.term, ix.docs_);
    uint32_t row = cursors[0].row();
    while (row != kEnd) {
      bool all = true;
      for (size_t i = 1; i < cursors.size(); ++i) {
        cursors[i].SeekTo(row);
        if (cursors[i].row() != row) {
          all = false;
          row = cursors[i].row();
          break;
        }
      }
      if (!all) {
        if (row == kEnd) break;
        cursors[0].SeekTo(row);
        row = cursors[0].row();
        continue;
      }
      if (admitted(row)) {
        double score = 0;
        for (size_t i = 0; i < cursors.size(); ++i) {
          score += contribution(terms[i], cursors[i].posting(), row);
        }
        top.Offer(row, score);
      }
      cursors[0].Next();
      row = cursors[0].row();
    }
    return in_query_order(top.Take());
  }

  // Any term: MaxScore. Lists sorted by bound; the first `first_essential`
  // together cannot beat the k-th score, so a row none of the others hold
  // is skipped unseen and those lists are only sought.
  std::sort(terms.begin(), terms.end(),
            [](const WeightedTerm& a, const WeightedTerm& b) { return a.bound < b.bound; });
  for (const WeightedTerm& q : terms) cursors.emplace_back(*q.term, ix.docs_);
  std::vector<double> bound_up_to(terms.size());  // sum of bounds of lists 0..i
  double sum = 0;
  for (size_t i = 0; i < terms.size(); ++i) bound_up_to[i] = sum += terms[i].bound;
  size_t first_essential = 0;
  while (true) {
    const double threshold = top.threshold();
    while (first_essential < terms.size() && bound_up_to[first_essential] <= threshold) {
      ++first_essential;
    }
    if (first_essential == terms.size()) break;
    uint32_t row = kEnd;
    for (size_t i = first_essential; i < cursors.size(); ++i) row = std::min(row, cursors[i].row());
    if (row == kEnd) break;
    if (admitted(row)) {
      double score = 0;
      for (size_t i = first_essential; i < cursors.size(); ++i) {
        if (cursors[i].row() == row) score += contribution(terms[i], cursors[i].posting(), row);
      }
      // The rest, best bound first, while they could still lift it past.
      for (size_t i = first_essential; i-- > 0;) {
        if (score + bound_up_to[i] <= threshold) break;
        cursors[i].SeekTo(row);
        if (cursors[i].row() == row) score += contribution(terms[i], cursors[i].posting(), row);
      }
      if (score > threshold || !top.full()) top.Offer(row, score);
    }
    for (size_t i = first_essential; i < cursors.size(); ++i) {
      if (cursors[i].row() == row) cursors[i].Next();
    }
  }
  return in_query_order(top.Take());
}

Result<bool> TextIndex::View::Lookup(FtsTokenizer& tokenizer, const std::vector<std::string>& words,
                                     std::vector<std::string>* tokens) const {
  // Each word must be one token to FTS5; anything else is a phrase.
  for (const std::string& word : words) {
    std::vector<std::string> found;
    NS_RETURN_IF_ERROR(tokenizer.Tokenize(word, true, [&](std::string_view token, bool colocated) {
      if (!colocated) found.emplace_back(token);
    }));
    if (found.size() != 1) return false;
    tokens->push_back(std::move(found[0]));
  }
  return true;
}

Result<std::optional<int64_t>> TextIndex::View::EstimateMatches(
    FtsTokenizer& tokenizer, const std::vector<std::string>& words, TermMatch match) const {
  using Answer = std::optional<int64_t>;
  const TextIndex& ix = index_;
  std::vector<std::string> tokens;
  NS_ASSIGN_OR_RETURN(bool one_token_each, Lookup(tokenizer, words, &tokens));
  if (!one_token_each) return Answer();
  const auto rows = static_cast<double>(ix.doc_count_);
  double any = 0;
  double all = rows;
  for (const std::string& token : tokens) {
    auto it = ix.term_ids_.find(token);
    double frequency = 0;
    if (it != ix.term_ids_.end()) {
      const Term& t = ix.terms_[it->second];
      frequency = static_cast<double>(t.base.size()) - static_cast<double>(ix.StaleIn(t)) +
                  static_cast<double>(t.delta.size());
    }
    any += frequency;
    all = rows > 0 ? all * (frequency / rows) : 0;
  }
  const double estimate = match == TermMatch::kAnyTerm ? std::min(any, rows) : std::round(all);
  return Answer(static_cast<int64_t>(estimate));
}

Result<std::unique_ptr<TextIndex::View>> TextIndex::ViewAt(Connection& conn, int64_t seq) {
  {
    std::shared_lock lock(mu_);
    if (unusable_ || (built_ && seq_ > seq)) return std::unique_ptr<View>();
    if (built_ && seq_ == seq) return std::make_unique<View>(std::move(lock), *this);
  }
  {
    std::unique_lock lock(mu_);
    if (!unusable_ && (!built_ || seq_ < seq)) {
      const bool rebuild =
          !built_ || seq - seq_ > kRebuildAfterChanges ||
          static_cast<int64_t>(stale_rows_.size() + delta_terms_.size()) > kRebuildAfterChanges;
      if (rebuild && open_ != nullptr) {
        NS_ASSIGN_OR_RETURN(int64_t rows, conn.QueryInt("SELECT ifnull(max(rowid), 0) FROM nodes"));
        if (rows >= background_min_rows_) {
          StartBackgroundBuild();
          return std::unique_ptr<View>();
        }
      }
      // A failed catch-up changes nothing (it reads everything before it
      // applies anything); a failed rebuild leaves the index unbuilt.
      NS_RETURN_IF_ERROR(rebuild ? Rebuild(conn, seq) : CatchUp(conn, seq));
    }
  }
  std::shared_lock lock(mu_);
  if (unusable_ || !built_ || seq_ != seq) return std::unique_ptr<View>();
  return std::make_unique<View>(std::move(lock), *this);
}

TextIndex::~TextIndex() {
  StopBackgroundBuild();
}

void TextIndex::BuildInBackground(OpenConnection open, int64_t min_rows,
                                  std::function<void()> installed) {
  std::unique_lock lock(mu_);
  open_ = std::move(open);
  background_min_rows_ = min_rows;
  installed_ = std::move(installed);
}

void TextIndex::StopBackgroundBuild() {
  stop_ = true;
  std::thread builder;
  {
    std::unique_lock lock(mu_);
    builder = std::move(builder_);
  }
  if (builder.joinable()) builder.join();
}

Status TextIndex::background_error() const {
  std::shared_lock lock(mu_);
  return background_error_;
}

void TextIndex::StartBackgroundBuild() {
  // Called with mu_ held. One build at a time; none after a failure (until
  // Clear) or once stopping.
  if (building_ || stop_ || !background_error_.ok()) return;
  if (builder_.joinable()) builder_.join();  // finished: it no longer needs mu_
  building_ = true;
  builder_ = std::thread([this, generation = generation_] { RunBackgroundBuild(generation); });
}

void TextIndex::RunBackgroundBuild(int64_t generation) {
  Built built;
  int64_t seq = 0;
  Status status = [&]() -> Status {
    NS_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, open_());
    // One read transaction: the sequence and every row from one snapshot.
    NS_RETURN_IF_ERROR(conn->Exec("BEGIN"));
    Result<int64_t> at = conn->QueryInt("SELECT ifnull(max(seq), 0) FROM changes");
    Status read = at.ok() ? Build(*conn, &stop_, &built) : at.status();
    (void)conn->Exec("COMMIT");
    if (at.ok()) seq = *at;
    return read;
  }();
  std::function<void()> installed;
  {
    std::unique_lock lock(mu_);
    if (!status.ok()) {
      if (!stop_) background_error_ = status;
    } else if (generation == generation_ && (!built_ || seq > seq_)) {
      Install(std::move(built), seq);
      installed = installed_;
    }
  }
  // Still "building" while it runs, so that no ViewAt waits on this thread
  // (StartBackgroundBuild joins the last one) while `installed` runs.
  if (installed) installed();
  building_ = false;
}

void TextIndex::Clear() {
  std::unique_lock lock(mu_);
  Reset();
  unusable_ = false;
  ++generation_;
  background_error_ = Status::OK();
}

void TextIndex::Reset() {
  // Assigning `{}` would keep the containers' memory; fresh ones release it.
  built_ = false;
  seq_ = 0;
  term_ids_ = std::unordered_map<std::string, uint32_t>();
  terms_ = std::vector<Term>();
  docs_ = std::vector<Doc>();
  doc_count_ = 0;
  total_length_ = 0;
  stale_rows_ = std::vector<uint32_t>();
  delta_terms_ = std::unordered_map<uint32_t, std::vector<uint32_t>>();
}

size_t TextIndex::MemoryBytes() const {
  std::shared_lock lock(mu_);
  // A hash-map entry: the key (with its heap buffer past 15 bytes), the
  // value, a next pointer and a bucket slot.
  constexpr size_t kMapEntryBytes = sizeof(std::string) + 4 * sizeof(void*);
  size_t bytes = docs_.capacity() * sizeof(Doc) + terms_.capacity() * sizeof(Term) +
                 term_ids_.size() * kMapEntryBytes + stale_rows_.capacity() * sizeof(uint32_t);
  for (const Term& t : terms_) {
    bytes += (t.base.capacity() + t.delta.capacity()) * sizeof(Posting);
  }
  for (const auto& [row, ids] : delta_terms_) bytes += kMapEntryBytes + ids.capacity() * 4;
  for (const auto& [term, id] : term_ids_) bytes += term.capacity() > 15 ? term.capacity() : 0;
  return bytes;
}

int64_t TextIndex::rebuilds() const {
  std::shared_lock lock(mu_);
  return rebuilds_;
}

bool TextIndex::built() const {
  std::shared_lock lock(mu_);
  return built_;
}

uint32_t TextIndex::InternTerm(const std::string& term) {
  auto [it, added] = term_ids_.emplace(term, static_cast<uint32_t>(terms_.size()));
  if (added) terms_.emplace_back();
  return it->second;
}

int64_t TextIndex::StaleIn(const Term& term) const {
  if (stale_rows_.empty() || term.base.empty()) return 0;
  int64_t stale = 0;
  if (stale_rows_.size() * 16 < term.base.size()) {
    // Few rows left the base: look each one up rather than walk the list.
    for (uint32_t row : stale_rows_) {
      auto at = std::lower_bound(term.base.begin(), term.base.end(), row,
                                 [](const Posting& p, uint32_t r) { return p.row < r; });
      stale += at != term.base.end() && at->row == row ? 1 : 0;
    }
    return stale;
  }
  for (const Posting& p : term.base) stale += docs_[p.row].in_base ? 0 : 1;
  return stale;
}

Status TextIndex::Rebuild(Connection& conn, int64_t seq) {
  Reset();
  Built built;
  NS_RETURN_IF_ERROR(Build(conn, nullptr, &built));
  Install(std::move(built), seq);
  return Status::OK();
}

void TextIndex::Install(Built built, int64_t seq) {
  Reset();
  if (built.unusable) {
    unusable_ = true;
    return;
  }
  term_ids_ = std::move(built.term_ids);
  terms_ = std::move(built.terms);
  docs_ = std::move(built.docs);
  doc_count_ = built.doc_count;
  total_length_ = built.total_length;
  seq_ = seq;
  built_ = true;
  ++rebuilds_;
}

Status TextIndex::Build(Connection& conn, const std::atomic<bool>* stop, Built* out) {
  NS_ASSIGN_OR_RETURN(int64_t count, conn.QueryInt("SELECT count(*) FROM nodes"));
  NS_ASSIGN_OR_RETURN(int64_t min_row, conn.QueryInt("SELECT ifnull(min(rowid), 1) FROM nodes"));
  NS_ASSIGN_OR_RETURN(int64_t max_row, conn.QueryInt("SELECT ifnull(max(rowid), 0) FROM nodes"));
  if (min_row < 1 || !storage::RowsFitArray(max_row, count)) {
    out->unusable = true;
    return Status::OK();
  }
  NS_ASSIGN_OR_RETURN(FtsTokenizer tokenizer, FtsTokenizer::Open(conn));
  std::vector<Doc>& docs = out->docs;
  docs.assign(static_cast<size_t>(max_row) + 1, Doc{});
  std::unordered_map<std::string, uint32_t>& ids = out->term_ids;
  std::vector<Term>& terms = out->terms;
  std::vector<uint32_t> in_row;  // terms of the row being read
  std::string key;
  NS_ASSIGN_OR_RETURN(storage::OwnedStatement s,
                      conn.PrepareOnce(std::string("SELECT ") + kDocColumns + " FROM nodes"));
  uint32_t last_row = 0;
  bool in_order = true;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool more, s->Step());
    if (!more) break;
    if (stop != nullptr && (out->doc_count & 4095) == 0 && stop->load()) {
      return Status::Busy("the text index build was stopped");
    }
    const int64_t rowid = s->ColumnInt(0);
    if (rowid < 1 || rowid > max_row) continue;  // written since the bounds were read
    const auto row = static_cast<uint32_t>(rowid);
    in_order = in_order && row > last_row;
    last_row = row;
    in_row.clear();
    uint32_t length = 0;
    NS_RETURN_IF_ERROR(
        TokenizeDoc(tokenizer, s->ColumnText(1), s->ColumnText(2), &length,
                    [&](std::string_view token, int column) {
                      key.assign(token);
                      auto it = ids.find(key);
                      if (it == ids.end()) {
                        it = ids.emplace(key, static_cast<uint32_t>(terms.size())).first;
                        terms.emplace_back();
                      }
                      Term& t = terms[it->second];
                      if (t.base.empty() || t.base.back().row != row) {
                        t.base.push_back({row, 0, 0});
                        in_row.push_back(it->second);
                      }
                      Posting& p = t.base.back();
                      if (!Count(p, column)) t.overflow = true;
                      t.max_title_tf = std::max(t.max_title_tf, p.title_tf);
                      t.max_content_tf = std::max(t.max_content_tf, p.content_tf);
                    }));
    for (uint32_t id : in_row) terms[id].min_length = std::min(terms[id].min_length, length);
    Doc& d = docs[row];
    d.length = length;
    d.lifecycle = static_cast<uint8_t>(s->ColumnInt(3));
    d.exists = true;
    d.in_base = true;
    out->total_length += length;
    ++out->doc_count;
  }
  for (Term& t : terms) {
    if (!in_order) {
      std::sort(t.base.begin(), t.base.end(),
                [](const Posting& a, const Posting& b) { return a.row < b.row; });
    }
    t.base.shrink_to_fit();
  }
  return Status::OK();
}

Status TextIndex::CatchUp(Connection& conn, int64_t seq) {
  // Everything is read (and tokenized) before anything changes, so a failed
  // read leaves the index as it was. Deletions are applied first: a row
  // freed by a delete may hold a new node by now, which the refresh puts back.
  // Moves change neither text nor lifecycle.
  NS_ASSIGN_OR_RETURN(storage::ChangedNodes changed,
                      storage::ReadChangedNodes(conn, seq_, seq, /*include_moves=*/false));
  const std::vector<int64_t>& removed = changed.freed_rows;
  const std::vector<std::string>& touched = changed.ids;
  NS_ASSIGN_OR_RETURN(FtsTokenizer tokenizer, FtsTokenizer::Open(conn));
  std::vector<PendingDoc> pending;
  pending.reserve(touched.size());
  {
    NS_ASSIGN_OR_RETURN(Statement * stmt, conn.Prepare(std::string("SELECT ") + kDocColumns +
                                                       " FROM nodes WHERE id = ?1"));
    for (const std::string& id : touched) {
      ScopedStatement s(*stmt);
      s->Bind(1, id);
      NS_ASSIGN_OR_RETURN(bool found, s->Step());
      if (!found) continue;  // deleted
      PendingDoc d;
      d.row = s->ColumnInt(0);
      d.lifecycle = static_cast<uint8_t>(s->ColumnInt(3));
      std::unordered_map<std::string, size_t> at;
      std::string key;
      NS_RETURN_IF_ERROR(TokenizeDoc(tokenizer, s->ColumnText(1), s->ColumnText(2), &d.length,
                                     [&](std::string_view token, int column) {
                                       key.assign(token);
                                       auto it = at.find(key);
                                       if (it == at.end()) {
                                         it = at.emplace(key, d.terms.size()).first;
                                         d.terms.push_back({key, {}});
                                       }
                                       Count(d.terms[it->second].second, column);
                                     }));
      pending.push_back(std::move(d));
    }
  }
  int64_t highest = 0;
  bool bad_row = false;
  for (const PendingDoc& d : pending) {
    highest = std::max(highest, d.row);
    bad_row = bad_row || d.row < 1;
  }
  if (bad_row ||
      !storage::RowsFitArray(highest, doc_count_ + static_cast<int64_t>(pending.size()))) {
    Reset();
    unusable_ = true;
    return Status::OK();
  }
  for (int64_t row : removed) RemoveDoc(row);
  for (const PendingDoc& d : pending) {
    RemoveDoc(d.row);
    AddToDelta(d);
  }
  std::sort(stale_rows_.begin(), stale_rows_.end());
  seq_ = seq;
  return Status::OK();
}

void TextIndex::RemoveDoc(int64_t row) {
  if (row < 1 || static_cast<size_t>(row) >= docs_.size()) return;
  const auto r = static_cast<uint32_t>(row);
  Doc& d = docs_[r];
  if (!d.exists) return;
  --doc_count_;
  total_length_ -= d.length;
  if (d.in_base) stale_rows_.push_back(r);
  if (d.in_delta) {
    auto it = delta_terms_.find(r);
    if (it != delta_terms_.end()) {
      for (uint32_t id : it->second) {
        std::vector<Posting>& list = terms_[id].delta;
        auto at = std::lower_bound(list.begin(), list.end(), r,
                                   [](const Posting& p, uint32_t x) { return p.row < x; });
        if (at != list.end() && at->row == r) list.erase(at);
      }
      delta_terms_.erase(it);
    }
  }
  d = Doc{};
}

void TextIndex::AddToDelta(const PendingDoc& doc) {
  const auto r = static_cast<uint32_t>(doc.row);
  if (r >= docs_.size()) docs_.resize(static_cast<size_t>(r) + 1);
  std::vector<uint32_t>& ids = delta_terms_[r];
  for (const auto& [token, counts] : doc.terms) {
    const uint32_t id = InternTerm(token);
    Term& t = terms_[id];
    Posting p = counts;
    p.row = r;
    t.overflow = t.overflow || p.title_tf == kMaxCount || p.content_tf == kMaxCount;
    t.max_title_tf = std::max(t.max_title_tf, p.title_tf);
    t.max_content_tf = std::max(t.max_content_tf, p.content_tf);
    t.min_length = std::min(t.min_length, doc.length);
    auto at = std::lower_bound(t.delta.begin(), t.delta.end(), r,
                               [](const Posting& q, uint32_t x) { return q.row < x; });
    t.delta.insert(at, p);
    ids.push_back(id);
  }
  Doc& d = docs_[r];
  d.length = doc.length;
  d.lifecycle = doc.lifecycle;
  d.exists = true;
  d.in_base = false;
  d.in_delta = true;
  ++doc_count_;
  total_length_ += doc.length;
}

}  // namespace nodespace::text
