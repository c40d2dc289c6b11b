// The text index against FTS5 itself: for random word queries (AND and OR,
// title weights, lifecycle and allowed-row limits) its top rows carry
// exactly the scores FTS5's bm25() gives, in FTS5's order, after a build and
// after catching up through creates, edits, deletes and archiving.
#include "index/text/text_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "nodespace/database.h"
#include "test_util.h"

namespace nodespace::text {
namespace {

using storage::Connection;

// Words with stems, case and diacritics to fold, common and rare.
const std::vector<std::string> kVocabulary = {
    "the",     "a",    "note",    "running", "runs",  "run",   "café",   "Cafe",  "tree",
    "trees",   "leaf", "garden",  "plan",    "plans", "zebra", "quartz", "naïve", "naive",
    "project", "idea", "meeting", "river",   "stone", "alpha", "omega",  "delta", "ÉTÉ"};

class TextIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options;
    options.scaling.interval_ms = 0;
    auto db = Database::Open(dir_.path(), options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto conn = Connection::Open(dir_.Sub("nodespace.db"), false, false);
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    conn_ = std::move(*conn);
  }

  int64_t Seq() { return conn_->QueryInt("SELECT ifnull(max(seq), 0) FROM changes").value(); }

  std::string RandomText(size_t words) {
    std::string out;
    for (size_t i = 0; i < words; ++i) {
      // Skewed: early words are frequent.
      const size_t pick = std::min(rng_() % kVocabulary.size(), rng_() % kVocabulary.size());
      if (!out.empty()) out += rng_() % 7 == 0 ? ", " : " ";
      out += kVocabulary[pick];
    }
    return out;
  }

  // Roots get a title (the content's first line); so do tasks.
  std::string RandomContent() {
    std::string content = RandomText(1 + rng_() % 30);
    if (rng_() % 2 == 0) content = RandomText(1 + rng_() % 3) + "\n" + content;
    return content;
  }

  void Create(const std::string& id) {
    NewNode n;
    n.id = id;
    n.content = RandomContent();
    if (!ids_.empty() && rng_() % 2 == 0) n.parent_id = ids_[rng_() % ids_.size()];
    if (!n.parent_id.empty() && !db_->Get(n.parent_id).ok()) n.parent_id.clear();
    if (rng_() % 4 == 0) n.node_type = "task";
    auto r = db_->Create(n);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ids_.push_back(id);
  }

  // FTS5's ranking: row -> -bm25 for rows matching `fts` within the limits.
  std::map<int64_t, double> Truth(const std::string& fts, double title_weight, int max_lifecycle,
                                  const std::vector<int64_t>* allowed) {
    std::map<int64_t, double> truth;
    auto stmt = conn_->PrepareOnce(
        "SELECT f.rowid, -bm25(nodes_fts, ?2, 1.0) FROM nodes_fts f JOIN nodes n ON n.rowid = "
        "f.rowid WHERE nodes_fts MATCH ?1 AND n.lifecycle <= ?3");
    EXPECT_TRUE(stmt.ok()) << stmt.status().ToString();
    (*stmt)->Bind(1, fts).BindDouble(2, title_weight).Bind(3, static_cast<int64_t>(max_lifecycle));
    while ((*stmt)->Step().value()) {
      const int64_t row = (*stmt)->ColumnInt(0);
      if (allowed && !std::binary_search(allowed->begin(), allowed->end(), row)) continue;
      truth[row] = (*stmt)->ColumnDouble(1);
    }
    return truth;
  }

  // Runs `queries` random queries against the index and FTS5.
  void ExpectAgreesWithFts5(int queries) {
    auto view = index_.ViewAt(*conn_, Seq());
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    ASSERT_NE(*view, nullptr);
    auto tokenizer = FtsTokenizer::Open(*conn_);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
    std::vector<int64_t> all_rows;
    {
      auto stmt = conn_->PrepareOnce("SELECT rowid FROM nodes ORDER BY rowid");
      while ((*stmt)->Step().value()) all_rows.push_back((*stmt)->ColumnInt(0));
    }
    for (int q = 0; q < queries; ++q) {
      std::vector<std::string> words;
      const size_t n = 1 + rng_() % 4;
      for (size_t i = 0; i < n; ++i) {
        words.push_back(rng_() % 12 == 0 ? "missingword"
                                         : kVocabulary[rng_() % kVocabulary.size()]);
      }
      const TermMatch match = rng_() % 2 ? TermMatch::kAnyTerm : TermMatch::kAllTerms;
      const double title_weight = rng_() % 2 ? 3.0 : 1.0;
      const int max_lifecycle = rng_() % 2 ? 0 : 2;
      const size_t k = 1 + rng_() % 15;
      std::vector<int64_t> allowed;
      const bool limit_rows = rng_() % 4 == 0;
      if (limit_rows) {
        for (int64_t row : all_rows) {
          if (rng_() % 3 == 0) allowed.push_back(row);
        }
      }
      std::string fts;
      for (const std::string& w : words) {
        if (!fts.empty()) fts += match == TermMatch::kAnyTerm ? " OR " : " AND ";
        fts += "\"" + w + "\"";
      }
      SCOPED_TRACE(fts + " k=" + std::to_string(k) + " w=" + std::to_string(title_weight) +
                   " lifecycle<=" + std::to_string(max_lifecycle) +
                   (limit_rows ? " (allowed rows)" : ""));
      auto top = (*view)->TopK(*tokenizer, words, match, title_weight, max_lifecycle, k,
                               limit_rows ? &allowed : nullptr);
      ASSERT_TRUE(top.ok()) << top.status().ToString();
      ASSERT_TRUE(top->has_value());
      const std::map<int64_t, double> truth =
          Truth(fts, title_weight, max_lifecycle, limit_rows ? &allowed : nullptr);
      std::vector<double> best;
      for (const auto& [row, score] : truth) best.push_back(score);
      std::sort(best.rbegin(), best.rend());
      if (best.size() > k) best.resize(k);
      const std::vector<ScoredRow>& got = **top;
      ASSERT_EQ(got.size(), best.size());
      for (size_t i = 0; i < got.size(); ++i) {
        auto it = truth.find(got[i].row);
        ASSERT_NE(it, truth.end()) << "row " << got[i].row << " does not match";
        EXPECT_EQ(got[i].score, it->second) << "row " << got[i].row;
        EXPECT_EQ(got[i].score, best[i]) << "rank " << i;
        if (i > 0) EXPECT_GE(got[i - 1].score, got[i].score);
      }
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Connection> conn_;
  std::mt19937 rng_{11};
  std::vector<std::string> ids_;
  TextIndex index_;
};

TEST_F(TextIndexTest, RanksAsFts5DoesAfterBuildAndEveryKindOfChange) {
  for (int i = 0; i < 300; ++i) Create("n" + std::to_string(i));
  ExpectAgreesWithFts5(300);
  EXPECT_EQ(index_.rebuilds(), 1);
  int next = 300;
  for (int round = 0; round < 5; ++round) {
    for (int op = 0; op < 40; ++op) {
      const std::string pick = ids_[rng_() % ids_.size()];
      if (!db_->Get(pick).ok()) continue;
      switch (rng_() % 5) {
        case 0:
          Create("n" + std::to_string(next++));
          break;
        case 1: {
          NodePatch patch;
          patch.content = RandomContent();
          ASSERT_TRUE(db_->Update(pick, patch).ok());
          break;
        }
        case 2: {
          NodePatch patch;
          patch.node_type = rng_() % 2 ? "task" : "text";  // titles appear and go
          ASSERT_TRUE(db_->Update(pick, patch).ok());
          break;
        }
        case 3:
          ASSERT_TRUE(db_->Delete(pick).ok());
          break;
        case 4:
          ASSERT_TRUE(
              db_->SetLifecycle(pick, rng_() % 2 ? Lifecycle::kArchived : Lifecycle::kActive).ok());
          break;
      }
    }
    SCOPED_TRACE("after round " + std::to_string(round));
    ExpectAgreesWithFts5(120);
  }
  EXPECT_EQ(index_.rebuilds(), 1) << "small changes are caught up, not rebuilt";
  EXPECT_GT(index_.MemoryBytes(), 0u);
  index_.Clear();
  EXPECT_EQ(index_.MemoryBytes(), 0u);
  ExpectAgreesWithFts5(100);
  EXPECT_EQ(index_.rebuilds(), 2);
}

TEST_F(TextIndexTest, LeavesPhrasesAndOverflowingCountsToFts5) {
  NewNode n;
  n.id = "long";
  std::string many;
  for (int i = 0; i < 70000; ++i) many += "echo ";
  n.content = many + "tail";
  ASSERT_TRUE(db_->Create(n).ok());
  n.id = "short";
  n.content = "two words, tail end";
  ASSERT_TRUE(db_->Create(n).ok());
  auto view = index_.ViewAt(*conn_, Seq());
  ASSERT_TRUE(view.ok() && *view != nullptr);
  auto tokenizer = FtsTokenizer::Open(*conn_);
  ASSERT_TRUE(tokenizer.ok());
  auto ask = [&](std::vector<std::string> words) {
    auto top = (*view)->TopK(*tokenizer, words, TermMatch::kAnyTerm, 1.0, 0, 10, nullptr);
    EXPECT_TRUE(top.ok());
    return top.ok() ? *top : std::nullopt;
  };
  EXPECT_FALSE(ask({"two words"}).has_value()) << "a phrase to FTS5";
  EXPECT_FALSE(ask({"..."}).has_value()) << "no token at all";
  EXPECT_FALSE(ask({"echo"}).has_value()) << "70,000 occurrences overflow the counts";
  auto tail = ask({"TAIL"});
  ASSERT_TRUE(tail.has_value());
  EXPECT_EQ(tail->size(), 2u);
  auto none = ask({"absent"});
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
  // Planning estimates from the row counts alone: "tail" is in both rows,
  // "end" in one.
  auto estimate = [&](std::vector<std::string> words, TermMatch match) {
    auto e = (*view)->EstimateMatches(*tokenizer, words, match);
    EXPECT_TRUE(e.ok());
    return e.ok() ? *e : std::nullopt;
  };
  EXPECT_EQ(estimate({"tail"}, TermMatch::kAllTerms), 2);
  EXPECT_EQ(estimate({"tail", "end"}, TermMatch::kAnyTerm), 2);  // at most every row
  EXPECT_EQ(estimate({"tail", "end"}, TermMatch::kAllTerms), 1);
  EXPECT_EQ(estimate({"absent", "end"}, TermMatch::kAnyTerm), 1);
  EXPECT_EQ(estimate({"absent", "end"}, TermMatch::kAllTerms), 0);
  EXPECT_FALSE(estimate({"two words"}, TermMatch::kAnyTerm).has_value());
}

TEST_F(TextIndexTest, AnOlderSnapshotGetsNoView) {
  for (int i = 0; i < 5; ++i) Create("n" + std::to_string(i));
  const int64_t old_seq = Seq();
  Create("later");
  auto now = index_.ViewAt(*conn_, Seq());
  ASSERT_TRUE(now.ok() && *now != nullptr);
  now->reset();
  auto old = index_.ViewAt(*conn_, old_seq);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(*old, nullptr);
}

TEST_F(TextIndexTest, LargeBuildsRunInTheBackgroundWhileSearchesUseFts5) {
  for (int i = 0; i < 60; ++i) Create("n" + std::to_string(i));
  const std::string file = dir_.Sub("nodespace.db");
  // What runs once the index is in place (the database fits its memory).
  std::atomic<int> installed{0};
  std::atomic<bool> built_when_installed{false};
  index_.BuildInBackground([file] { return Connection::Open(file, true, false); }, 10,
                           [this, &installed, &built_when_installed] {
                             built_when_installed = index_.built();
                             ++installed;
                           });
  auto first = index_.ViewAt(*conn_, Seq());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, nullptr) << "the build runs on its own thread; FTS5 answers meanwhile";
  std::unique_ptr<TextIndex::View> view;
  for (int wait = 0; wait < 2000 && view == nullptr; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto v = index_.ViewAt(*conn_, Seq());
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    view = std::move(*v);
  }
  ASSERT_NE(view, nullptr) << "the background build never finished";
  view.reset();
  EXPECT_EQ(index_.rebuilds(), 1);
  for (int wait = 0; wait < 2000 && installed == 0; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(installed, 1);
  EXPECT_TRUE(built_when_installed) << "it runs after the install, not before";
  ExpectAgreesWithFts5(60);
  // A small change is caught up at once, in the query's own ViewAt.
  Create("one_more");
  auto caught_up = index_.ViewAt(*conn_, Seq());
  ASSERT_TRUE(caught_up.ok() && *caught_up != nullptr);
  caught_up->reset();
  EXPECT_EQ(index_.rebuilds(), 1);
  // Once stopped (shutdown), no build starts again.
  index_.StopBackgroundBuild();
  index_.Clear();
  auto stopped = index_.ViewAt(*conn_, Seq());
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(*stopped, nullptr);
  EXPECT_EQ(index_.rebuilds(), 1);
  EXPECT_EQ(installed, 1) << "a catch-up in the query's own ViewAt is no background install";
}

TEST_F(TextIndexTest, AFailedBackgroundBuildIsReportedAndNotRetried) {
  for (int i = 0; i < 20; ++i) Create("n" + std::to_string(i));
  int opens = 0;
  std::atomic<int> installed{0};
  index_.BuildInBackground(
      [&opens]() -> Result<std::unique_ptr<Connection>> {
        ++opens;
        return Status::IOError("disk went away");
      },
      1, [&installed] { ++installed; });
  for (int wait = 0; wait < 2000 && index_.background_error().ok(); ++wait) {
    auto v = index_.ViewAt(*conn_, Seq());
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, nullptr);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_NE(index_.background_error().ToString().find("disk went away"), std::string::npos);
  for (int i = 0; i < 3; ++i) {
    auto v = index_.ViewAt(*conn_, Seq());
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, nullptr);
  }
  index_.StopBackgroundBuild();
  EXPECT_EQ(opens, 1);
  EXPECT_EQ(installed, 0) << "nothing was installed";
}

// Database::SearchText with and without the index: the same hits and scores.
TEST(TextIndexSearchTest, SearchTextAnswersTheSameWithAndWithoutTheIndex) {
  testing::TempDir dir;
  std::mt19937 rng(3);
  std::vector<TextSearchResult> answers[2];
  for (bool use_index : {false, true}) {
    Options options;
    options.scaling.interval_ms = 0;
    options.text_index = use_index;
    auto db = Database::Open(dir.Sub(use_index ? "on" : "off"), options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    std::mt19937 words(7);
    for (int i = 0; i < 200; ++i) {
      NewNode n;
      n.id = "n" + std::to_string(i);
      for (int w = 0; w < 1 + static_cast<int>(words() % 20); ++w) {
        n.content +=
            kVocabulary[std::min(words() % kVocabulary.size(), words() % kVocabulary.size())] + " ";
      }
      ASSERT_TRUE((*db)->Create(n).ok());
      if (i % 17 == 0) ASSERT_TRUE((*db)->SetLifecycle(n.id, Lifecycle::kArchived).ok());
    }
    for (const char* query :
         {"tree", "garden plan", "garden OR plan", "zebra OR quartz OR river", "running AND stone",
          "café naive", "plan*", "\"the note\"", "river -stone", "alpha omega delta"}) {
      for (bool archived : {false, true}) {
        TextSearchOptions o;
        o.query = query;
        o.limit = 7;
        o.include_archived = archived;
        auto r = (*db)->SearchText(o);
        ASSERT_TRUE(r.ok()) << query << ": " << r.status().ToString();
        answers[use_index ? 1 : 0].push_back(std::move(*r));
      }
    }
  }
  ASSERT_EQ(answers[0].size(), answers[1].size());
  for (size_t i = 0; i < answers[0].size(); ++i) {
    const auto& off = answers[0][i].hits;
    const auto& on = answers[1][i].hits;
    ASSERT_EQ(off.size(), on.size()) << "query " << i / 2;
    for (size_t h = 0; h < off.size(); ++h) {
      EXPECT_EQ(off[h].score, on[h].score) << "query " << i / 2 << " hit " << h;
      EXPECT_EQ(off[h].match, on[h].match);
    }
  }
}

}  // namespace
}  // namespace nodespace::text
