// The query engine end to end through Database::RunQuery: filters, sorts,
// cursors, ranking and fusion, facets and aggregations, the planner's
// strategies (which must all return the same hits) and the query cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "nodespace/database.h"
#include "test_util.h"

namespace nodespace {
namespace {

constexpr int kDims = 16;
constexpr int kNodes = 240;
const char* const kWords[] = {"apple", "banana", "cherry",  "delta",
                              "echo",  "falcon", "granite", "harbor"};
const char* const kStatus[] = {"todo", "doing", "done"};
constexpr int64_t kDayMs = 86400000;
constexpr int64_t kJan1_2024 = 1704067200000;  // 2024-01-01T00:00:00Z, a Monday

std::vector<std::string> Ids(const QueryResult& r) {
  std::vector<std::string> ids;
  for (const QueryHit& h : r.hits) ids.push_back(h.node.id);
  return ids;
}

class QueryTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open(Options options = {}) {
    db_.reset();
    auto db = Database::Open(dir_.path(), options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
  }

  // Four roots r0..r3 (type "page"), kNodes children "n<i>" spread over them
  // (every fifth one level deeper, under n<i-1>), types text/task, properties
  // n (an integer), status, tags (an array), due (a date string, for some).
  void Fill() {
    std::mt19937 rng(11);
    std::normal_distribution<float> g;
    WriteBatch batch;
    for (int r = 0; r < 4; ++r) {
      NewNode root;
      root.id = "r" + std::to_string(r);
      root.node_type = "page";
      root.content = "# Root " + std::to_string(r) + " " + kWords[r];
      root.created_at = kJan1_2024;
      root.modified_at = kJan1_2024;
      batch.Create(std::move(root));
    }
    for (int i = 0; i < kNodes; ++i) {
      NewNode node;
      node.id = "n" + std::to_string(i);
      node.parent_id = (i % 5 == 4) ? "n" + std::to_string(i - 1) : "r" + std::to_string(i % 4);
      node.node_type = i % 3 == 0 ? "task" : "text";
      std::string content = kWords[i % 8];
      content += std::string(" ") + kWords[(i * 7 + 3) % 8];
      if (i % 11 == 0) content += " see [[r" + std::to_string(i % 4) + "]]";
      node.content = content + " item " + std::to_string(i);
      std::string props = "{\"n\":" + std::to_string(i % 50) + ",\"status\":\"" + kStatus[i % 3] +
                          "\",\"tags\":[\"t" + std::to_string(i % 4) + "\",\"t" +
                          std::to_string(i % 6) + "\"]";
      if (i % 2 == 0) props += ",\"due\":\"2024-02-" + std::to_string(10 + i % 19) + "\"";
      node.properties = props + "}";
      node.created_at = kJan1_2024 + (i % 60) * kDayMs;
      node.modified_at = kJan1_2024 + ((i * 37) % 90) * kDayMs;
      std::vector<float> v(kDims);
      for (float& x : v) x = g(rng);
      node.embedding = v;
      batch.Create(std::move(node));
    }
    auto result = db_->Write(batch);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
  }

  std::vector<float> Vector(int seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g;
    std::vector<float> v(kDims);
    for (float& x : v) x = g(rng);
    return v;
  }

  // Every page of `q`, following the cursors.
  std::vector<std::string> AllPages(Query q, size_t max_pages = 1000) {
    std::vector<std::string> ids;
    for (size_t page = 0; page < max_pages; ++page) {
      auto r = db_->RunQuery(q);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok()) break;
      for (const QueryHit& h : r->hits) ids.push_back(h.node.id);
      if (r->next_cursor.empty()) break;
      q.cursor = r->next_cursor;
    }
    return ids;
  }

  testing::TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(QueryTest, FiltersOnFieldsPropertiesAndStructure) {
  Fill();
  auto count = [&](Filter f) {
    auto r = db_->RunQuery(QueryBuilder().Where(std::move(f)).Limit(1000).Build());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? static_cast<int>(r->hits.size()) : -1;
  };
  EXPECT_EQ(count(Filter::Eq("type", "task")), kNodes / 3);
  EXPECT_EQ(count(Filter::Eq("type", "page")), 4);
  EXPECT_EQ(count(Filter::Compare("properties.n", Filter::Op::kLt, int64_t{10})),
            kNodes / 50 * 10 + 10);  // 0..9 in each run of 50, 240 = 4*50 + 40
  EXPECT_EQ(count(Filter::In("properties.status", {std::string("todo"), std::string("done")})),
            kNodes / 3 * 2);
  EXPECT_EQ(count(Filter::Exists("properties.due")), kNodes / 2);
  EXPECT_EQ(count(Filter::Exists("properties.due", false)), kNodes / 2 + 4);  // + roots
  // != keeps nodes without the property (the roots).
  EXPECT_EQ(count(Filter::Compare("properties.status", Filter::Op::kNe, std::string("todo"))),
            kNodes / 3 * 2 + 4);
  // contains: an array element, or a substring (case-insensitive) of text.
  EXPECT_EQ(count(Filter::Compare("properties.tags", Filter::Op::kContains, std::string("t5"))),
            kNodes / 6);
  // "item 23" and "item 230" .. "item 239".
  EXPECT_EQ(count(Filter::Compare("content", Filter::Op::kContains, std::string("ITEM 23"))), 11);
  EXPECT_EQ(count(Filter::Compare("id", Filter::Op::kStartsWith, std::string("N23"))), 11);
}

TEST_F(QueryTest, StructuralFilters) {
  Fill();
  auto ids = [&](Filter f) {
    auto r = db_->RunQuery(QueryBuilder().Where(std::move(f)).Limit(1000).Build());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> out = r.ok() ? Ids(*r) : std::vector<std::string>{};
    std::sort(out.begin(), out.end());
    return out;
  };
  // r0's subtree: r0, its children (i % 4 == 0 and i % 5 != 4) and their
  // children (i % 5 == 4 whose i-1 is under r0).
  std::vector<std::string> expected{"r0"};
  for (int i = 0; i < kNodes; ++i) {
    const bool direct = i % 5 != 4 && i % 4 == 0;
    const bool nested = i % 5 == 4 && (i - 1) % 4 == 0;
    if (direct || nested) expected.push_back("n" + std::to_string(i));
  }
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ids(Filter::Under("r0")), expected);
  // depth 1: without the grandchildren.
  std::vector<std::string> depth1{"r0"};
  for (int i = 0; i < kNodes; ++i) {
    if (i % 5 != 4 && i % 4 == 0) depth1.push_back("n" + std::to_string(i));
  }
  std::sort(depth1.begin(), depth1.end());
  EXPECT_EQ(ids(Filter::Under("r0", 1)), depth1);
  EXPECT_EQ(ids(Filter::Under("r0", 0)), std::vector<std::string>{"r0"});

  // mentions r1: content links [[r1]] for i % 11 == 0 and i % 4 == 1.
  std::vector<std::string> mentioning;
  for (int i = 0; i < kNodes; ++i) {
    if (i % 11 == 0 && i % 4 == 1) mentioning.push_back("n" + std::to_string(i));
  }
  std::sort(mentioning.begin(), mentioning.end());
  EXPECT_EQ(ids(Filter::Mentions("r1")), mentioning);
  EXPECT_EQ(ids(Filter::MentionedBy("n0")), std::vector<std::string>{"r0"});

  ASSERT_OK(db_->AddToCollection("n5", "projects:alpha"));
  ASSERT_OK(db_->AddToCollection("n6", "projects:alpha"));
  ASSERT_OK(db_->AddToCollection("n7", "projects"));
  EXPECT_EQ(ids(Filter::InCollection("projects:alpha")), (std::vector<std::string>{"n5", "n6"}));

  // Nested boolean logic: (task AND NOT under r0) OR n == 49.
  Filter f =
      Filter::Or({Filter::And({Filter::Eq("type", "task"), Filter::Not(Filter::Under("r0"))}),
                  Filter::Eq("properties.n", int64_t{49})});
  std::set<std::string> under_r0(expected.begin(), expected.end());
  std::vector<std::string> want;
  for (int i = 0; i < kNodes; ++i) {
    const std::string id = "n" + std::to_string(i);
    if ((i % 3 == 0 && !under_r0.count(id)) || i % 50 == 49) want.push_back(id);
  }
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ids(f), want);

  // A subtree of a node that does not exist is an error, not an empty result.
  auto missing = db_->RunQuery(QueryBuilder().Where(Filter::Under("nope")).Build());
  EXPECT_TRUE(missing.status().IsNotFound()) << missing.status().ToString();
  auto no_collection = db_->RunQuery(QueryBuilder().Where(Filter::InCollection("zzz")).Build());
  EXPECT_TRUE(no_collection.status().IsNotFound()) << no_collection.status().ToString();
}

TEST_F(QueryTest, LifecycleDefaultsToActive) {
  Fill();
  ASSERT_OK(db_->SetLifecycle("n0", Lifecycle::kArchived).status());
  auto q = QueryBuilder().Where(Filter::Eq("type", "task")).Limit(1000);
  ASSERT_OK_AND_ASSIGN(QueryResult active, db_->RunQuery(q.Build()));
  EXPECT_EQ(active.hits.size(), static_cast<size_t>(kNodes / 3 - 1));
  ASSERT_OK_AND_ASSIGN(QueryResult all, db_->RunQuery(q.IncludeArchived().Build()));
  EXPECT_EQ(all.hits.size(), static_cast<size_t>(kNodes / 3));
  // Naming lifecycle in the filter replaces the default.
  ASSERT_OK_AND_ASSIGN(
      QueryResult archived,
      db_->RunQuery(QueryBuilder().Where(Filter::Eq("lifecycle", "archived")).Build()));
  EXPECT_EQ(Ids(archived), std::vector<std::string>{"n0"});
}

TEST_F(QueryTest, DatesAcceptStringsAndMilliseconds) {
  Fill();
  // created_at in [Jan 11, Jan 21): offsets 10..19 of each run of 60.
  auto from_strings = db_->RunQueryJson(
      R"({"filters":[{"field":"created_at","op":">=","value":"2024-01-11"},
                      {"field":"created_at","op":"<","value":"2024-01-21T00:00:00Z"}],
          "limit":1000})");
  ASSERT_OK(from_strings.status());
  EXPECT_EQ(from_strings->hits.size(), static_cast<size_t>(kNodes / 60 * 10));
  auto from_ms = db_->RunQuery(
      QueryBuilder()
          .Where(Filter::Compare("created_at", Filter::Op::kGe, kJan1_2024 + 10 * kDayMs))
          .Where(Filter::Compare("created_at", Filter::Op::kLt, std::string("2024-01-21")))
          .Limit(1000)
          .Build());
  ASSERT_OK(from_ms.status());
  EXPECT_EQ(Ids(*from_ms).size(), from_strings->hits.size());
}

TEST_F(QueryTest, SortAndKeysetPagination) {
  Fill();
  Query q = QueryBuilder()
                .Where(Filter::Eq("type", "text"))
                .SortBy("properties.due", /*descending=*/false)
                .SortBy("created_at", true)
                .Limit(7)
                .Build();
  const std::vector<std::string> paged = AllPages(q);
  q.limit = 1000;
  ASSERT_OK_AND_ASSIGN(QueryResult whole, db_->RunQuery(q));
  EXPECT_EQ(paged, Ids(whole));
  EXPECT_EQ(paged.size(), static_cast<size_t>(kNodes - kNodes / 3));
  // Nodes without `due` sort first ascending (as SQL orders NULL).
  ASSERT_OK_AND_ASSIGN(Node first, db_->Get(paged.front()));
  EXPECT_EQ(first.properties.find("due"), std::string::npos);
  // Order holds: due ascending, then created_at descending.
  std::string last_due;
  for (const QueryHit& h : whole.hits) {
    const size_t at = h.node.properties.find("\"due\":\"");
    const std::string due = at == std::string::npos ? "" : h.node.properties.substr(at + 7, 10);
    EXPECT_LE(last_due, due);
    last_due = due;
  }
}

// Filter-first lists the allowed rows through an index (created_at here)
// and, with the hierarchy index, tests the lifecycle and the vector in
// memory: archived nodes and nodes without a vector stay out exactly as
// when SQL tests them, in every plan, and archived ones come back when
// asked for.
TEST_F(QueryTest, FilteredQueriesLeaveOutArchivedAndVectorlessNodes) {
  Fill();
  std::set<std::string> archived;
  for (int i = 0; i < kNodes; i += 4) {
    const std::string id = "n" + std::to_string(i);
    ASSERT_OK(db_->SetLifecycle(id, Lifecycle::kArchived).status());
    archived.insert(id);
  }
  WriteBatch batch;
  for (int i = 0; i < 40; ++i) {
    NewNode node;
    node.id = "plain" + std::to_string(i);
    node.parent_id = "r0";
    node.content = "plain item without a vector " + std::to_string(i);
    node.created_at = kJan1_2024 + (20 + i % 20) * kDayMs;
    batch.Create(std::move(node));
  }
  ASSERT_OK(db_->Write(batch).status());
  const int64_t since = kJan1_2024 + 20 * kDayMs;
  for (bool text : {false, true}) {
    for (bool include_archived : {false, true}) {
      // What the filters alone match (one SQL statement, no ranking).
      QueryBuilder only;
      only.Where(Filter::Compare("created_at", Filter::Op::kGe, since)).Limit(1000);
      if (include_archived) only.IncludeArchived();
      ASSERT_OK_AND_ASSIGN(QueryResult all, db_->RunQuery(only.Build()));
      const std::vector<std::string> matching = Ids(all);
      const int64_t with_vector = std::count_if(matching.begin(), matching.end(),
                                                [](const std::string& id) { return id[0] == 'n'; });
      std::vector<std::vector<std::string>> results;
      for (QueryStrategy s :
           {QueryStrategy::kFilterFirst, QueryStrategy::kVectorFirst, QueryStrategy::kHybrid}) {
        QueryBuilder b;
        if (text) {
          b.Text("item");
        } else {
          b.Vector(Vector(5));
        }
        b.Where(Filter::Compare("created_at", Filter::Op::kGe, since)).Limit(500);
        if (include_archived) b.IncludeArchived();
        Query q = b.Build();
        q.strategy = s;
        q.use_cache = false;
        q.explain = true;
        ASSERT_OK_AND_ASSIGN(QueryResult r, db_->RunQuery(q));
        // Allowed rows for words are exactly the matching nodes; for the
        // vector index they may include archived and vectorless ones, which
        // it does not hold.
        for (const QueryExplain::Stage& stage : r.explain.stages) {
          if (stage.name != "filter") continue;
          if (text) {
            EXPECT_EQ(stage.rows, static_cast<int64_t>(matching.size())) << stage.detail;
          } else {
            EXPECT_GE(stage.rows, with_vector) << stage.detail;
          }
        }
        size_t archived_hits = 0, plain_hits = 0;
        for (const QueryHit& h : r.hits) {
          EXPECT_GE(h.node.created_at, since);
          archived_hits += archived.count(h.node.id);
          plain_hits += h.node.id.rfind("plain", 0) == 0;
        }
        // Archived nodes are out unless asked for (and a vector ranking
        // never holds them: the vector index keeps active nodes only).
        if (include_archived && text) {
          EXPECT_GT(archived_hits, 0u);
        } else {
          EXPECT_EQ(archived_hits, 0u);
        }
        // Every plain node matches the words; none has a vector.
        EXPECT_EQ(plain_hits, text ? 40u : 0u);
        results.push_back(Ids(r));
      }
      EXPECT_EQ(results[0], results[1]) << "text " << text << ", archived " << include_archived;
      EXPECT_EQ(results[0], results[2]) << "text " << text << ", archived " << include_archived;
    }
  }
}

TEST_F(QueryTest, CursorPagesStayStableUnderInserts) {
  Fill();
  for (const char* sort : {"created_at", "score"}) {
    SCOPED_TRACE(sort);
    Query q = QueryBuilder().Where(Filter::Eq("type", "task")).Limit(9).Build();
    if (std::string(sort) == "score") {
      q.text = "apple";  // one term: inserts cannot reorder existing matches
    } else {
      q.sort = {{"created_at", false}};
    }
    Query full = q;
    full.limit = 1000;
    ASSERT_OK_AND_ASSIGN(QueryResult before, db_->RunQuery(full));
    std::vector<std::string> seen;
    int inserted = 0;
    for (int page = 0; page < 100; ++page) {
      ASSERT_OK_AND_ASSIGN(QueryResult r, db_->RunQuery(q));
      for (const QueryHit& h : r.hits) seen.push_back(h.node.id);
      // Between pages, new matching nodes arrive that sort everywhere.
      for (int j = 0; j < 3; ++j) {
        NewNode n;
        n.node_type = "task";
        n.content = "apple apple apple inserted";
        n.created_at = kJan1_2024 + (inserted++ % 60) * kDayMs;
        ASSERT_OK(db_->Create(n).status());
      }
      if (r.next_cursor.empty()) break;
      q.cursor = r.next_cursor;
    }
    EXPECT_EQ(seen, Ids(before));  // no duplicates, nothing skipped, no newcomers
  }
}

TEST_F(QueryTest, CursorErrors) {
  Fill();
  Query q = QueryBuilder().Where(Filter::Eq("type", "task")).Limit(5).Build();
  ASSERT_OK_AND_ASSIGN(QueryResult first, db_->RunQuery(q));
  ASSERT_FALSE(first.next_cursor.empty());
  Query other = QueryBuilder().Where(Filter::Eq("type", "text")).Limit(5).Build();
  other.cursor = first.next_cursor;
  auto r = db_->RunQuery(other);
  ASSERT_TRUE(r.status().IsInvalidArgument());
  EXPECT_NE(r.status().message().find("cursor"), std::string::npos);
  other.cursor = "not*a*cursor";
  EXPECT_TRUE(db_->RunQuery(other).status().IsInvalidArgument());
  other.cursor = "eyJ4IjoxfQ";  // valid base64 of {"x":1}
  EXPECT_TRUE(db_->RunQuery(other).status().IsInvalidArgument());
}

TEST_F(QueryTest, HighlightMarksTheMatchedTermsInEachHit) {
  Fill();
  Query q = QueryBuilder().Text("falcon").Build();
  q.highlight_open = "[";
  q.highlight_close = "]";
  ASSERT_OK_AND_ASSIGN(QueryResult r, db_->RunQuery(q));
  ASSERT_FALSE(r.hits.empty());
  for (const QueryHit& h : r.hits) EXPECT_NE(h.snippet.find("[falcon]"), std::string::npos);
  // Without markers, no snippets; a query without text has none to mark.
  ASSERT_OK_AND_ASSIGN(QueryResult plain, db_->RunQuery(QueryBuilder().Text("falcon").Build()));
  EXPECT_TRUE(plain.hits.front().snippet.empty());
  q.text.clear();
  ASSERT_OK_AND_ASSIGN(QueryResult none, db_->RunQuery(q));
  ASSERT_FALSE(none.hits.empty());
  EXPECT_TRUE(none.hits.front().snippet.empty());
}

TEST_F(QueryTest, TextVectorAndHybridRanking) {
  Fill();
  // Text only: BM25 order, scores descending, every hit contains the word.
  ASSERT_OK_AND_ASSIGN(QueryResult text, db_->RunQuery(QueryBuilder().Text("falcon").Build()));
  ASSERT_FALSE(text.hits.empty());
  for (size_t i = 0; i < text.hits.size(); ++i) {
    EXPECT_NE(text.hits[i].node.content.find("falcon"), std::string::npos);
    ASSERT_TRUE(text.hits[i].text_score.has_value());
    EXPECT_EQ(*text.hits[i].text_rank, i + 1);
    if (i) EXPECT_GE(text.hits[i - 1].score, text.hits[i].score);
  }
  // Vector only: exact nearest first.
  const std::vector<float> v = Vector(99);
  ASSERT_OK_AND_ASSIGN(QueryResult vec, db_->RunQuery(QueryBuilder().Vector(v).Limit(5).Build()));
  ASSERT_EQ(vec.hits.size(), 5u);
  EXPECT_TRUE(vec.hits[0].node.embedding.empty());  // hits leave vectors to Get
  EXPECT_EQ(vec.hits[0].node.content.empty(), false);
  for (size_t i = 1; i < vec.hits.size(); ++i) {
    EXPECT_LE(*vec.hits[i - 1].vector_distance, *vec.hits[i].vector_distance);
  }
  // Both: RRF over the two rankings, by default with the vector list
  // weighing 0.3; every hit explains its parts.
  ASSERT_OK_AND_ASSIGN(QueryResult hybrid,
                       db_->RunQuery(QueryBuilder().Text("falcon").Vector(v).Build()));
  ASSERT_FALSE(hybrid.hits.empty());
  for (const QueryHit& h : hybrid.hits) {
    double expected = 0;
    if (h.text_rank) expected += 1.0 / (60 + static_cast<double>(*h.text_rank));
    if (h.vector_rank) expected += 0.3 / (60 + static_cast<double>(*h.vector_rank));
    EXPECT_DOUBLE_EQ(h.score, expected);
    EXPECT_TRUE(h.text_rank || h.vector_rank);
  }
  // Equal weights, as asked for.
  FusionOptions equal;
  equal.vector_weight = 1;
  ASSERT_OK_AND_ASSIGN(
      QueryResult equal_hybrid,
      db_->RunQuery(QueryBuilder().Text("falcon").Vector(v).Fusion(equal).Build()));
  for (const QueryHit& h : equal_hybrid.hits) {
    double expected = 0;
    if (h.text_rank) expected += 1.0 / (60 + static_cast<double>(*h.text_rank));
    if (h.vector_rank) expected += 1.0 / (60 + static_cast<double>(*h.vector_rank));
    EXPECT_DOUBLE_EQ(h.score, expected);
  }
  // A node first in both lists is first in the fusion.
  FusionOptions weighted;
  weighted.method = FusionOptions::Method::kWeighted;
  weighted.vector_weight = 0;
  ASSERT_OK_AND_ASSIGN(
      QueryResult text_weighted,
      db_->RunQuery(QueryBuilder().Text("falcon").Vector(v).Fusion(weighted).Limit(3).Build()));
  EXPECT_EQ(text_weighted.hits.front().node.id, text.hits.front().node.id);
  EXPECT_DOUBLE_EQ(text_weighted.hits.front().score, 1.0);
}

TEST_F(QueryTest, EveryStrategyReturnsTheSameHits) {
  Fill();
  std::mt19937 rng(2024);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto random_condition = [&]() -> Filter {
    switch (pick(7)) {
      case 0:
        return Filter::Eq("type", pick(2) ? "task" : "text");
      case 1:
        return Filter::Compare("properties.n", pick(2) ? Filter::Op::kLt : Filter::Op::kGe,
                               int64_t{pick(50)});
      case 2:
        return Filter::Under("r" + std::to_string(pick(4)), pick(3) - 1);
      case 3:
        return Filter::Compare("properties.tags", Filter::Op::kContains,
                               "t" + std::to_string(pick(6)));
      case 4:
        return Filter::Compare("created_at", Filter::Op::kGe, kJan1_2024 + pick(60) * kDayMs);
      case 5:
        return Filter::Not(Filter::Eq("properties.status", kStatus[pick(3)]));
      default:
        return Filter::Or({Filter::Eq("properties.status", kStatus[pick(3)]),
                           Filter::Exists("properties.due", pick(2) == 0)});
    }
  };
  int compared = 0;
  for (int round = 0; round < 60; ++round) {
    QueryBuilder b;
    const int shape = round % 3;  // text, vector, both
    if (shape != 1) b.Text(std::string(kWords[pick(8)]) + (pick(2) ? "" : " OR item"));
    if (shape != 0) b.Vector(Vector(1000 + round));
    for (int c = pick(3); c >= 0; --c) b.Where(random_condition());
    b.Limit(1 + pick(15)).Window(20 + pick(40)).GroupByRoot(pick(5) == 0);
    if (pick(4) == 0) b.SortBy("created_at", pick(2) == 0);
    std::vector<std::vector<std::string>> results;
    std::vector<std::vector<double>> scores;
    for (QueryStrategy s :
         {QueryStrategy::kFilterFirst, QueryStrategy::kVectorFirst, QueryStrategy::kHybrid}) {
      Query q = b.Build();
      q.strategy = s;
      q.use_cache = false;
      auto r = db_->RunQuery(q);
      ASSERT_TRUE(r.ok()) << r.status().ToString() << " in round " << round;
      results.push_back(Ids(*r));
      std::vector<double> sc;
      for (const QueryHit& h : r->hits) sc.push_back(h.score);
      scores.push_back(sc);
    }
    EXPECT_EQ(results[0], results[1]) << "round " << round << ": " << QueryToJson(b.Build());
    EXPECT_EQ(results[0], results[2]) << "round " << round << ": " << QueryToJson(b.Build());
    EXPECT_EQ(scores[0], scores[1]) << "round " << round;
    EXPECT_EQ(scores[0], scores[2]) << "round " << round;
    if (!results[0].empty()) ++compared;
  }
  EXPECT_GT(compared, 30);  // most random queries found something to compare
}

// Text stages ranked from the text index (Options::text_index, the default)
// give the hits and scores FTS5's ranking gives, in every plan that uses it.
TEST_F(QueryTest, TheTextIndexRanksAsFts5DoesInEveryPlan) {
  Fill();
  std::vector<Query> queries;
  const std::vector<float> v = Vector(7);
  for (const char* text : {"falcon", "apple OR harbor", "cherry delta", "item", "echo granite"}) {
    queries.push_back(QueryBuilder().Text(text).Limit(12).Build());
    Query any = QueryBuilder().Text(std::string(text) + " the").Limit(12).Build();
    any.text_any = true;
    queries.push_back(any);
    for (QueryStrategy s :
         {QueryStrategy::kVectorFirst, QueryStrategy::kHybrid, QueryStrategy::kFilterFirst}) {
      queries.push_back(QueryBuilder()
                            .Text(text)
                            .Vector(v)
                            .Where(Filter::Under("r1"))
                            .Where(Filter::Eq("type", "text"))
                            .Strategy(s)
                            .Limit(8)
                            .Build());
      queries.push_back(QueryBuilder()
                            .Text(text)
                            .Where(Filter::Compare("properties.n", Filter::Op::kLt, int64_t{20}))
                            .Strategy(s)
                            .Limit(8)
                            .Build());
    }
  }
  struct Answer {
    std::vector<std::string> ids;
    std::vector<double> scores;
    std::string text_stage;
  };
  auto run_all = [&] {
    std::vector<Answer> answers;
    for (Query q : queries) {
      q.use_cache = false;
      q.explain = true;
      auto r = db_->RunQuery(q);
      EXPECT_TRUE(r.ok()) << r.status().ToString() << ": " << QueryToJson(q);
      if (!r.ok()) return answers;
      Answer a{Ids(*r), {}, ""};
      for (const QueryHit& h : r->hits) a.scores.push_back(h.score);
      for (const auto& stage : r->explain.stages) {
        if (stage.name == "text") a.text_stage = stage.detail;
      }
      answers.push_back(std::move(a));
    }
    return answers;
  };
  const std::vector<Answer> indexed = run_all();
  Options off;
  off.text_index = false;
  Open(off);
  const std::vector<Answer> ranked_by_fts5 = run_all();
  ASSERT_EQ(indexed.size(), queries.size());
  ASSERT_EQ(ranked_by_fts5.size(), queries.size());
  int from_index = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    SCOPED_TRACE(QueryToJson(queries[i]) + " / " + indexed[i].text_stage);
    EXPECT_EQ(indexed[i].ids, ranked_by_fts5[i].ids);
    EXPECT_EQ(indexed[i].scores, ranked_by_fts5[i].scores);
    EXPECT_EQ(ranked_by_fts5[i].text_stage.find("text index"), std::string::npos);
    from_index += indexed[i].text_stage.find("text index") != std::string::npos ? 1 : 0;
  }
  // Every plan ranks from the index, filter-first plans within their allowed
  // rows, except hybrid plans whose filters need SQL (FTS5 joined with them:
  // 5) and "apple OR harbor the" in any-term mode (an OR inside an implicit
  // OR is not one flat list of words).
  EXPECT_EQ(from_index, static_cast<int>(queries.size()) - 6) << "of " << queries.size();
}

TEST_F(QueryTest, ASmallSubtreeIsListedFirstAndAgreesWithAncestorChecks) {
  Fill();
  // n3 has one child (n4); r1 holds a quarter of the nodes. Filter-first and
  // hybrid list allowed rows (from the subtree when it is the narrowest way
  // in); vector-first checks candidates by walking their ancestors instead.
  struct Case {
    std::string under;
    int depth;
    std::string type;
  };
  const Case cases[] = {
      {"n3", -1, "text"}, {"n3", 0, "task"}, {"n8", -1, ""}, {"r1", 1, "task"}, {"r2", -1, "text"}};
  bool listed_from_subtree = false;
  for (const Case& c : cases) {
    QueryBuilder b;
    b.Text("item").Vector(Vector(7)).Where(Filter::Under(c.under, c.depth)).Limit(50).Window(100);
    if (!c.type.empty()) b.Where(Filter::Eq("type", c.type));
    std::vector<std::vector<std::string>> results;
    for (QueryStrategy s :
         {QueryStrategy::kVectorFirst, QueryStrategy::kFilterFirst, QueryStrategy::kHybrid}) {
      Query q = b.Explain().Build();
      q.strategy = s;
      q.use_cache = false;
      ASSERT_OK_AND_ASSIGN(QueryResult r, db_->RunQuery(q));
      results.push_back(Ids(r));
      for (const QueryExplain::Stage& stage : r.explain.stages) {
        if (stage.detail.find("listed from the") != std::string::npos) {
          listed_from_subtree = true;
        }
      }
    }
    EXPECT_FALSE(results[0].empty()) << c.under;
    EXPECT_EQ(results[0], results[1]) << c.under << " depth " << c.depth;
    EXPECT_EQ(results[0], results[2]) << c.under << " depth " << c.depth;
  }
  EXPECT_TRUE(listed_from_subtree);

  // Two subtrees: a listing of one must still test the other. n3 and its
  // child n4 lie inside r3; r2 and r3 share no node (either may be listed).
  const struct {
    const char* first;
    const char* second;
    std::vector<std::string> ids;
  } pairs[] = {{"r3", "n3", {"n3", "n4"}}, {"n3", "r3", {"n3", "n4"}}, {"r3", "r2", {}}};
  bool listed_one_of_two = false;
  for (const auto& pair : pairs) {
    for (QueryStrategy s :
         {QueryStrategy::kVectorFirst, QueryStrategy::kFilterFirst, QueryStrategy::kHybrid}) {
      Query q = QueryBuilder()
                    .Text("item")
                    .Vector(Vector(7))
                    .Where(Filter::Under(pair.first))
                    .Where(Filter::Under(pair.second))
                    .Limit(50)
                    .Explain()
                    .Build();
      q.strategy = s;
      q.use_cache = false;
      ASSERT_OK_AND_ASSIGN(QueryResult r, db_->RunQuery(q));
      std::vector<std::string> ids = Ids(r);
      std::sort(ids.begin(), ids.end());
      EXPECT_EQ(ids, pair.ids) << pair.first << " and " << pair.second << ", "
                               << QueryStrategyName(s);
      for (const QueryExplain::Stage& stage : r.explain.stages) {
        if (stage.detail.find("listed from the hierarchy index") != std::string::npos &&
            pair.ids.empty()) {
          listed_one_of_two = true;
        }
      }
    }
  }
  EXPECT_TRUE(listed_one_of_two);
}

// 1,500 nodes: 1,200 with vectors close to the query vector e0 ("v0".."v1199",
// children of "near", type text) and 300 far from it ("v1200".., children of
// "far", type task). A filter that allows only the far ones leaves a
// vector-first walk with too few candidates passing: instead of widening it
// must list the allowed rows and search within them ("too few" in explain),
// and find what filter-first finds.
void ExpectVectorFirstPushesDown(Database& db, const Filter& far_only) {
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0, 0.1f);
  WriteBatch batch;
  for (const char* root : {"near", "far"}) {
    NewNode n;
    n.id = root;
    n.content = root;
    batch.Create(std::move(n));
  }
  for (int i = 0; i < 1500; ++i) {
    const bool near = i < 1200;
    NewNode n;
    n.id = "v" + std::to_string(i);
    n.parent_id = near ? "near" : "far";
    n.node_type = near ? "text" : "task";
    n.content = n.id;
    n.embedding.resize(kDims);
    for (float& x : n.embedding) x = noise(rng);
    n.embedding[0] += near ? 1.0f : -1.0f;
    batch.Create(std::move(n));
  }
  ASSERT_OK(db.Write(batch).status());
  std::vector<float> query(kDims, 0.0f);
  query[0] = 1;
  std::vector<std::vector<std::string>> results;
  for (QueryStrategy s : {QueryStrategy::kVectorFirst, QueryStrategy::kFilterFirst}) {
    Query q = QueryBuilder().Vector(query).Where(far_only).Limit(50).Explain().Build();
    q.strategy = s;
    q.use_cache = false;
    ASSERT_OK_AND_ASSIGN(QueryResult r, db.RunQuery(q));
    ASSERT_EQ(r.hits.size(), 50u);
    results.push_back(Ids(r));
    if (s == QueryStrategy::kVectorFirst) {
      EXPECT_NE(r.explain.ToString().find("too few"), std::string::npos) << r.explain.ToString();
    }
  }
  EXPECT_EQ(results[0], results[1]);
}

// The subtree's rows come from the hierarchy index.
TEST_F(QueryTest, VectorFirstPushesTheSubtreeDownWhenTooFewCandidatesPass) {
  ExpectVectorFirstPushesDown(*db_, Filter::Under("far"));
}

// SQL lists the rows of one type through an index: 300 rows cost less than
// walking every vector.
TEST_F(QueryTest, VectorFirstPushesIndexedFiltersDownWhenTooFewCandidatesPass) {
  ExpectVectorFirstPushesDown(*db_, Filter::Eq("type", "task"));
}

// Ranked queries test subtrees in the hierarchy index; field-sorted ones in
// SQL. After moves, archiving, type changes and deletes both must find the
// same rows, under every strategy.
TEST_F(QueryTest, SubtreesFromTheHierarchyIndexFollowEveryChange) {
  Fill();
  auto sorted_ids = [](std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  auto check = [&](const std::string& step) {
    for (const char* under : {"r1", "r2", "n3", "n8"}) {
      for (const char* type : {"", "text"}) {
        QueryBuilder sql_side;
        // Sorted by a field, text is only a match condition: every node the
        // ranked query can return (roots have neither the word nor a vector).
        sql_side.Text("item").Where(Filter::Under(under)).Limit(1000).SortBy("id", false);
        if (*type) sql_side.Where(Filter::Eq("type", type));
        Query reference = sql_side.Build();
        reference.use_cache = false;
        ASSERT_OK_AND_ASSIGN(QueryResult expected, db_->RunQuery(reference));
        for (QueryStrategy s :
             {QueryStrategy::kVectorFirst, QueryStrategy::kFilterFirst, QueryStrategy::kHybrid}) {
          QueryBuilder b;
          b.Text("item").Vector(Vector(3)).Where(Filter::Under(under)).Limit(1000).Window(1000);
          if (*type) b.Where(Filter::Eq("type", type));
          Query q = b.Explain().Build();
          q.strategy = s;
          q.use_cache = false;
          ASSERT_OK_AND_ASSIGN(QueryResult r, db_->RunQuery(q));
          const std::vector<std::string> got = sorted_ids(Ids(r)), want = Ids(expected);
          std::vector<std::string> missing, extra;
          std::set_difference(want.begin(), want.end(), got.begin(), got.end(),
                              std::back_inserter(missing));
          std::set_difference(got.begin(), got.end(), want.begin(), want.end(),
                              std::back_inserter(extra));
          EXPECT_TRUE(missing.empty() && extra.empty())
              << step << ": under " << under << " type '" << type << "' " << QueryStrategyName(s)
              << ": " << missing.size() << " missing (first " << (missing.empty() ? "" : missing[0])
              << "), " << extra.size() << " extra (first " << (extra.empty() ? "" : extra[0])
              << ")";
          if (s != QueryStrategy::kVectorFirst) {
            EXPECT_NE(r.explain.ToString().find("hierarchy index"), std::string::npos)
                << r.explain.ToString();
          }
        }
      }
    }
  };
  check("as filled");
  ASSERT_OK(db_->Move("n8", "r1", Position::Last()).status());   // n9 comes along
  ASSERT_OK(db_->Move("r2", "n3", Position::First()).status());  // a whole root moves in
  check("after moves");
  ASSERT_OK_AND_ASSIGN(int64_t archived, db_->SetLifecycle("n5", Lifecycle::kArchived));
  EXPECT_GT(archived, 0);
  NodePatch retype;
  retype.node_type = "text";
  ASSERT_OK(db_->Update("n0", retype).status());
  check("after archiving and retyping");
  ASSERT_OK_AND_ASSIGN(int64_t deleted, db_->Delete("n13"));
  EXPECT_GT(deleted, 0);
  NewNode added;
  added.id = "late";
  added.parent_id = "n3";
  added.content = "item late";
  added.embedding = Vector(9);
  ASSERT_OK(db_->Create(added).status());
  check("after a delete and a create");
  // A subtree of hundreds of rows (listed and ordered through a bitmap).
  WriteBatch many;
  for (int i = 0; i < 400; ++i) {
    NewNode n;
    n.id = "m" + std::to_string(i);
    n.parent_id = i < 20 ? "n3" : "m" + std::to_string(i % 20);
    n.node_type = i % 2 ? "text" : "task";
    n.content = "item many " + std::to_string(i);
    n.embedding = Vector(100 + i);
    many.Create(std::move(n));
  }
  ASSERT_OK(db_->Write(many).status());
  check("after many children");
}

TEST_F(QueryTest, FacetsAndAggregationsCoverTheWholeMatchSet) {
  Fill();
  AggregationRequest avg{"avg_n", AggregationRequest::Kind::kAvg, "properties.n"};
  AggregationRequest max_created{"", AggregationRequest::Kind::kMax, "created_at"};
  AggregationRequest count{"count", AggregationRequest::Kind::kCount, ""};
  AggregationRequest by_month{"by_month", AggregationRequest::Kind::kDateHistogram, "created_at",
                              "month"};
  AggregationRequest by_week{"by_week", AggregationRequest::Kind::kDateHistogram, "properties.due",
                             "week"};
  ASSERT_OK_AND_ASSIGN(QueryResult r, db_->RunQuery(QueryBuilder()
                                                        .Where(Filter::Eq("type", "task"))
                                                        .Limit(2)
                                                        .Facet("properties.status")
                                                        .Facet("properties.tags", 2)
                                                        .Facet("type")
                                                        .Aggregate(avg)
                                                        .Aggregate(max_created)
                                                        .Aggregate(count)
                                                        .Aggregate(by_month)
                                                        .Aggregate(by_week)
                                                        .Build()));
  EXPECT_EQ(r.hits.size(), 2u);
  EXPECT_EQ(r.total_matches, kNodes / 3);
  ASSERT_EQ(r.facets.size(), 3u);
  // Tasks are i % 3 == 0: status kStatus[i % 3] is always "todo".
  ASSERT_EQ(r.facets[0].values.size(), 1u);
  EXPECT_EQ(r.facets[0].values[0].value, "todo");
  EXPECT_EQ(r.facets[0].values[0].count, kNodes / 3);
  // Two tags per node: top 2 plus the rest add up to twice the matches.
  int64_t tag_total = r.facets[1].other_count;
  for (const FacetCount& c : r.facets[1].values) tag_total += c.count;
  EXPECT_EQ(r.facets[1].values.size(), 2u);
  EXPECT_EQ(tag_total, 2 * (kNodes / 3));
  EXPECT_GE(r.facets[1].values[0].count, r.facets[1].values[1].count);
  EXPECT_EQ(r.facets[2].values[0].value, "task");

  double sum = 0;
  int64_t max_created_at = 0;
  for (int i = 0; i < kNodes; i += 3) {
    sum += i % 50;
    max_created_at = std::max(max_created_at, kJan1_2024 + (i % 60) * kDayMs);
  }
  ASSERT_EQ(r.aggregations.size(), 5u);
  EXPECT_EQ(r.aggregations[0].name, "avg_n");
  EXPECT_DOUBLE_EQ(*r.aggregations[0].value, sum / (kNodes / 3));
  EXPECT_EQ(r.aggregations[1].name, "max(created_at)");
  EXPECT_DOUBLE_EQ(*r.aggregations[1].value, static_cast<double>(max_created_at));
  EXPECT_DOUBLE_EQ(*r.aggregations[2].value, kNodes / 3);
  // created_at spans Jan 1 .. Feb 29 2024.
  std::vector<std::string> months;
  int64_t month_total = 0;
  for (const HistogramBucket& b : r.aggregations[3].buckets) {
    months.push_back(b.key);
    month_total += b.count;
  }
  EXPECT_EQ(months, (std::vector<std::string>{"2024-01", "2024-02"}));
  EXPECT_EQ(month_total, kNodes / 3);
  // Weeks start on Monday: 2024-02-10 (a Saturday) falls in the week of 02-05.
  ASSERT_FALSE(r.aggregations[4].buckets.empty());
  EXPECT_EQ(r.aggregations[4].buckets.front().key, "2024-02-05");
}

TEST_F(QueryTest, ExplainShowsPlanEstimatesAndStages) {
  Fill();
  Query q = QueryBuilder()
                .Text("apple")
                .Vector(Vector(5))
                .Where(Filter::Eq("type", "task"))
                .Where(Filter::Under("r1"))
                .Explain()
                .Build();
  ASSERT_OK_AND_ASSIGN(QueryResult r, db_->RunQuery(q));
  const QueryExplain& e = r.explain;
  EXPECT_TRUE(e.has_text && e.has_vector && e.has_filters);
  EXPECT_EQ(e.node_count, kNodes + 4);
  EXPECT_GT(e.filter_selectivity, 0);
  EXPECT_LT(e.filter_selectivity, 0.5);
  EXPECT_EQ(e.estimated_cost_us.size(), 3u);
  EXPECT_FALSE(e.strategy.empty());
  std::set<std::string> stages;
  for (const auto& s : e.stages) stages.insert(s.name);
  for (const char* name : {"plan", "text", "vector", "fuse", "page", "fetch"}) {
    EXPECT_TRUE(stages.count(name)) << name;
  }
  EXPECT_NE(e.ToString().find(e.strategy), std::string::npos);
  // Forcing a strategy is obeyed and said.
  q.strategy = QueryStrategy::kFilterFirst;
  ASSERT_OK_AND_ASSIGN(QueryResult forced, db_->RunQuery(q));
  EXPECT_EQ(forced.explain.strategy, "filter_first");
  EXPECT_TRUE(forced.explain.forced);
  // The same query again: frequency counts it.
  q.use_cache = false;
  ASSERT_OK_AND_ASSIGN(QueryResult again, db_->RunQuery(q));
  EXPECT_GE(again.explain.query_frequency, 2);
  // Field usage is recorded for the scaling manager.
  bool saw_type = false;
  for (const FieldUsage& u : db_->QueryFieldUsage()) saw_type |= u.field == "type";
  EXPECT_TRUE(saw_type);
}

TEST_F(QueryTest, GroupByRootCollapsesHits) {
  Fill();
  ASSERT_OK_AND_ASSIGN(QueryResult r,
                       db_->RunQuery(QueryBuilder().Text("apple OR banana").GroupByRoot().Build()));
  std::set<std::string> roots;
  for (const QueryHit& h : r.hits) {
    EXPECT_TRUE(h.node.is_root());
    EXPECT_TRUE(roots.insert(h.node.id).second) << "root twice: " << h.node.id;
    EXPECT_FALSE(h.matched_ids.empty());
  }
  EXPECT_EQ(roots.size(), 4u);
}

TEST_F(QueryTest, CacheHitsInvalidationAndRuntimeControl) {
  Fill();
  const std::string a = R"({"filters":[{"field":"type","op":"=","value":"task"}],"limit":3})";
  const std::string b =
      "{ \"limit\" : 3, \"filters\" : {\"value\":\"task\",\"op\":\"=\","
      "\"field\":\"type\"} }";
  ASSERT_OK_AND_ASSIGN(QueryResult first, db_->RunQueryJson(a));
  QueryCacheStats s0 = db_->QueryCacheStatistics();
  ASSERT_OK_AND_ASSIGN(QueryResult second, db_->RunQueryJson(b));  // same query, other spelling
  QueryCacheStats s1 = db_->QueryCacheStatistics();
  EXPECT_EQ(s1.hits, s0.hits + 1);
  EXPECT_EQ(Ids(first), Ids(second));
  EXPECT_GT(s1.bytes, 0u);
  EXPECT_GE(s1.entries, 1u);

  // A write between two reads: the second read sees it (never a stale hit).
  Query q = QueryBuilder().Where(Filter::Eq("type", "note")).Build();
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(QueryResult before, db_->RunQuery(q));
    EXPECT_EQ(before.hits.size(), static_cast<size_t>(i));
    NewNode n;
    n.node_type = "note";
    n.content = "note " + std::to_string(i);
    ASSERT_OK(db_->Create(n).status());
  }
  EXPECT_GT(db_->QueryCacheStatistics().invalidations, 0u);

  // Disabled: no hits; re-enabled small: entries bounded by bytes.
  db_->ConfigureQueryCache(false, 10 << 20, 60000);
  const uint64_t hits = db_->QueryCacheStatistics().hits;
  ASSERT_OK(db_->RunQuery(q).status());
  ASSERT_OK(db_->RunQuery(q).status());
  EXPECT_EQ(db_->QueryCacheStatistics().hits, hits);
  EXPECT_EQ(db_->QueryCacheStatistics().entries, 0u);
  db_->ConfigureQueryCache(true, 64 << 10, 60000);
  for (int i = 0; i < 50; ++i) {
    ASSERT_OK(db_->RunQuery(QueryBuilder().Text(kWords[i % 8]).Limit(20).Build()).status());
    ASSERT_OK(db_->RunQuery(QueryBuilder().Where(Filter::Eq("properties.n", int64_t{i})).Build())
                  .status());
  }
  QueryCacheStats bounded = db_->QueryCacheStatistics();
  EXPECT_LE(bounded.bytes, 64u << 10);
  EXPECT_GT(bounded.evictions, 0u);

  // TTL: an entry older than the TTL is not served.
  db_->ConfigureQueryCache(true, 10 << 20, 1);
  ASSERT_OK(db_->RunQuery(q).status());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const uint64_t hits_before = db_->QueryCacheStatistics().hits;
  ASSERT_OK(db_->RunQuery(q).status());
  EXPECT_EQ(db_->QueryCacheStatistics().hits, hits_before);
}

TEST_F(QueryTest, ReadersInterleavedWithWritersNeverSeeStaleResults) {
  Fill();
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; i < 40; ++i) {
      NewNode n;
      n.node_type = "burst";
      n.content = "burst " + std::to_string(i);
      ASSERT_OK(db_->Create(n).status());
      written.store(i + 1);
    }
  });
  Query q = QueryBuilder().Where(Filter::Eq("type", "burst")).Limit(1000).Build();
  int last = 0;
  while (last < 40) {
    const int acknowledged = written.load();
    ASSERT_OK_AND_ASSIGN(QueryResult r, db_->RunQuery(q));
    // Every write acknowledged before the read started is in its result.
    EXPECT_GE(static_cast<int>(r.hits.size()), acknowledged);
    last = static_cast<int>(r.hits.size());
  }
  writer.join();
}

TEST_F(QueryTest, InvalidQueriesNameTheProblem) {
  Fill();
  auto bad = [&](const std::string& json, const std::string& expected) {
    auto r = db_->RunQueryJson(json);
    ASSERT_TRUE(r.status().IsInvalidArgument()) << json << " -> " << r.status().ToString();
    EXPECT_NE(r.status().message().find(expected), std::string::npos)
        << json << " -> " << r.status().message();
  };
  bad(R"({"filters":[{"field":"type","op":"=","value":"x"},{"field":"type","op":"=","value":"y"},
                      {"field":"created_at","op":"lt=","value":1}]})",
      "filters[2].op");
  bad(R"({"limit":1000000000})", "limit");
  bad(R"({"filters":[{"field":"colour","op":"=","value":1}]})", "filters[0].field");
  bad(R"({"text":"apple","sort":[{"field":"created_at","order":"sideways"}]})", "sort[0].order");
  bad(R"({"filters":)", "JSON");
  std::string deep = R"({"filters":[)";
  for (int i = 0; i < 1000; ++i) deep += R"({"not":)";
  deep += R"({"field":"type","op":"=","value":"x"})";
  for (int i = 0; i < 1000; ++i) deep += "}";
  deep += "]}";
  auto r = db_->RunQueryJson(deep);
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  // The same checks apply to a query built in C++.
  Query q;
  q.limit = 0;
  EXPECT_TRUE(db_->RunQuery(q).status().IsInvalidArgument());
  auto text = db_->RunQuery(QueryBuilder().Text("AND OR").Build());
  EXPECT_TRUE(text.status().IsInvalidArgument()) << text.status().ToString();
}

}  // namespace
}  // namespace nodespace
