// Full-text search behaviour, through the public Database API.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nodespace/database.h"
#include "storage/sqlite.h"
#include "test_util.h"

namespace nodespace {
namespace {

class TextSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::Open(dir_.path());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
  }

  void Add(const std::string& id, const std::string& parent, const std::string& content) {
    NewNode n;
    n.id = id;
    n.parent_id = parent;
    n.content = content;
    auto r = db_->Create(n);
    ASSERT_TRUE(r.ok()) << id << ": " << r.status().ToString();
  }

  TextSearchResult Search(const std::string& query, TextSearchOptions options = {}) {
    options.query = query;
    auto r = db_->SearchText(options);
    EXPECT_TRUE(r.ok()) << query << ": " << r.status().ToString();
    return r.ok() ? *r : TextSearchResult{};
  }

  std::vector<std::string> Ids(const std::string& query, TextSearchOptions options = {}) {
    std::vector<std::string> out;
    for (const TextHit& h : Search(query, options).hits) out.push_back(h.node.id);
    return out;
  }

  static TextSearchOptions Strict() {
    TextSearchOptions o;
    o.match_subtrees = false;
    o.any_term_fallback = false;
    return o;
  }

  testing::TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(TextSearchTest, FoldsCaseAndDiacriticsAndStemsEnglish) {
  Add("r", "", "Résumés for the HIRING committee");
  Add("x", "", "unrelated note");
  EXPECT_EQ(Ids("resume"), std::vector<std::string>{"r"});
  EXPECT_EQ(Ids("RÉSUMÉ hired"), std::vector<std::string>{"r"});
  EXPECT_EQ(Ids("hire"), std::vector<std::string>{"r"});
}

TEST_F(TextSearchTest, PhrasesPrefixesAndBooleans) {
  Add("a", "", "the login flow uses authentication tokens");
  Add("b", "", "flow of login attempts");
  Add("c", "", "authorization rules");
  TextSearchOptions strict = Strict();
  EXPECT_EQ(Ids("\"login flow\"", strict), std::vector<std::string>{"a"});
  std::vector<std::string> auth = Ids("auth*", strict);
  std::sort(auth.begin(), auth.end());
  EXPECT_EQ(auth, (std::vector<std::string>{"a", "c"}));
  std::vector<std::string> either = Ids("tokens OR authorization", strict);
  std::sort(either.begin(), either.end());
  EXPECT_EQ(either, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(Ids("login -tokens", strict), std::vector<std::string>{"b"});
  EXPECT_EQ(Ids("login NOT tokens", strict), std::vector<std::string>{"b"});
}

TEST_F(TextSearchTest, SnippetsHighlightMatches) {
  Add("a", "", "first line\nthe deployment checklist is long and has many steps");
  TextSearchOptions o;
  o.highlight_open = "<b>";
  o.highlight_close = "</b>";
  TextSearchResult r = Search("checklist", o);
  ASSERT_EQ(r.hits.size(), 1u);
  EXPECT_NE(r.hits[0].snippet.find("<b>checklist</b>"), std::string::npos) << r.hits[0].snippet;
  EXPECT_GT(r.hits[0].score, 0);
  EXPECT_EQ(r.hits[0].match, TextMatch::kAllTerms);
}

TEST_F(TextSearchTest, TitleMatchesOutrankContentMatches) {
  // Both mention "roadmap" once in nodes of equal length; only the root has
  // it in its title.
  Add("page", "", "Roadmap\nplans for the year");
  Add("other", "", "Meetings\nplans roadmap year");
  EXPECT_EQ(Ids("roadmap").front(), "page");
  TextSearchOptions no_boost;
  no_boost.title_weight = 0;
  TextSearchResult r = Search("roadmap", no_boost);
  ASSERT_EQ(r.hits.size(), 2u);
}

TEST_F(TextSearchTest, LongDocumentsDoNotWinByLength) {
  std::string long_doc = "Meeting notes. ";
  for (int i = 0; i < 300; ++i) long_doc += "agenda item " + std::to_string(i) + " discussed. ";
  long_doc += "Someone mentioned the invoice template once. ";
  for (int i = 0; i < 300; ++i) long_doc += "follow up " + std::to_string(i) + ". ";
  Add("long", "", long_doc);
  Add("short", "", "invoice template");
  EXPECT_EQ(Ids("invoice template"), (std::vector<std::string>{"short", "long"}));
  // Repeating a word many times saturates; it does not beat a precise match.
  std::string spam = "invoice";
  for (int i = 0; i < 200; ++i) spam += " invoice filler text";
  Add("spam", "", spam);
  EXPECT_EQ(Ids("invoice template").front(), "short");
}

TEST_F(TextSearchTest, TermsSpreadOverAParentAndItsChildrenFindTheSubtree) {
  Add("design", "", "Authentication design");
  Add("child", "design", "we issue OAuth tokens with short expiry");
  Add("decoy", "", "OAuth for the mail client");
  TextSearchResult r = Search("authentication oauth");
  ASSERT_FALSE(r.hits.empty());
  EXPECT_EQ(r.hits[0].node.id, "design");
  EXPECT_EQ(r.hits[0].match, TextMatch::kSubtree);
  std::vector<std::string> via = r.hits[0].matched_ids;
  std::sort(via.begin(), via.end());
  EXPECT_EQ(via, (std::vector<std::string>{"child", "design"}));
  // Any-term matches come after the subtree.
  ASSERT_GE(r.hits.size(), 2u);
  EXPECT_EQ(r.hits.back().match, TextMatch::kAnyTerm);
  // Strict search asks for one node with both words: there is none.
  EXPECT_TRUE(Search("authentication oauth", Strict()).hits.empty());
}

TEST_F(TextSearchTest, SubtreeMatchesPreferTheLowestCoveringNode) {
  Add("root", "", "Project");
  Add("mid", "root", "Billing service");
  Add("leaf1", "mid", "retries use exponential backoff");
  Add("leaf2", "root", "billing dashboard");
  TextSearchResult r = Search("billing backoff");
  ASSERT_FALSE(r.hits.empty());
  EXPECT_EQ(r.hits[0].node.id, "mid");  // not "root", which also covers both
  EXPECT_EQ(r.hits[0].match, TextMatch::kSubtree);
  for (const TextHit& h : r.hits) EXPECT_NE(h.node.id, "root");
}

TEST_F(TextSearchTest, GroupsHitsByRoot) {
  Add("p1", "", "Page one");
  Add("p1a", "p1", "kafka consumer lag");
  Add("p1b", "p1", "kafka partitions");
  Add("p2", "", "Page two");
  Add("p2a", "p2", "kafka brokers");
  TextSearchOptions o;
  o.group_by_root = true;
  TextSearchResult r = Search("kafka", o);
  ASSERT_EQ(r.hits.size(), 2u);
  std::vector<std::string> roots = {r.hits[0].node.id, r.hits[1].node.id};
  std::sort(roots.begin(), roots.end());
  EXPECT_EQ(roots, (std::vector<std::string>{"p1", "p2"}));
  for (const TextHit& h : r.hits) {
    EXPECT_EQ(h.matched_ids.size(), h.node.id == "p1" ? 2u : 1u);
    EXPECT_NE(h.snippet.find("[kafka]"), std::string::npos) << h.snippet;
  }
}

TEST_F(TextSearchTest, ArchivedAndTrashedNodesAreLeftOutUnlessAskedFor) {
  Add("live", "", "quarterly report");
  Add("old", "", "quarterly report 2019");
  Add("gone", "", "quarterly report draft");
  ASSERT_TRUE(db_->SetLifecycle("old", Lifecycle::kArchived).ok());
  ASSERT_TRUE(db_->SetLifecycle("gone", Lifecycle::kDeleted).ok());
  EXPECT_EQ(Ids("quarterly"), std::vector<std::string>{"live"});
  TextSearchOptions all;
  all.include_archived = true;
  EXPECT_EQ(Ids("quarterly", all).size(), 3u);
}

TEST_F(TextSearchTest, IndexFollowsUpdatesMovesAndDeletes) {
  Add("n", "", "alpha beta");
  NodePatch patch;
  patch.content = "gamma delta";
  ASSERT_TRUE(db_->Update("n", patch).ok());
  EXPECT_TRUE(Ids("alpha").empty());
  EXPECT_EQ(Ids("gamma"), std::vector<std::string>{"n"});
  Add("p", "", "parent");
  ASSERT_TRUE(db_->Move("n", "p", Position::Last()).ok());
  EXPECT_EQ(Ids("gamma"), std::vector<std::string>{"n"});
  ASSERT_TRUE(db_->Delete("p").ok());
  EXPECT_TRUE(Ids("gamma").empty());
  // A write that fails validation leaves the index as it was.
  NodePatch bad;
  bad.properties = "not json";
  Add("q", "", "epsilon");
  EXPECT_FALSE(db_->Update("q", bad).ok());
  EXPECT_EQ(Ids("epsilon"), std::vector<std::string>{"q"});
  ASSERT_TRUE(db_->CheckIntegrity().ok());
}

TEST_F(TextSearchTest, IntegrityCheckCatchesAnIndexThatDisagreesWithTheNodes) {
  Add("n", "", "indexed words");
  EXPECT_TRUE(db_->CheckIntegrity().ok());
  db_.reset();
  {
    auto conn = storage::Connection::Open(dir_.Sub("nodespace.db"), false, false);
    ASSERT_TRUE(conn.ok());
    // A row in the index that no node has.
    ASSERT_TRUE((*conn)
                    ->Exec("INSERT INTO nodes_fts(rowid, title, content) VALUES (999, '', 'ghost')")
                    .ok());
  }
  auto db = Database::Open(dir_.path());
  ASSERT_TRUE(db.ok());
  db_ = std::move(*db);
  Status st = db_->CheckIntegrity();
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("full-text index"), std::string::npos) << st.message();
}

TEST_F(TextSearchTest, OptimizingTheIndexKeepsResults) {
  for (int i = 0; i < 50; ++i) Add("n" + std::to_string(i), "", "common word " + std::to_string(i));
  Add("odd", "", "common rare");
  std::vector<std::string> before = Ids("common rare");
  ASSERT_TRUE(db_->OptimizeTextIndex().ok());
  EXPECT_EQ(Ids("common rare"), before);
  EXPECT_EQ(Ids("common", Strict()).size(), 10u);
  EXPECT_TRUE(db_->CheckIntegrity().ok());
}

TEST_F(TextSearchTest, IndexSurvivesReopen) {
  Add("n", "", "persistent words");
  db_.reset();
  auto db = Database::Open(dir_.path());
  ASSERT_TRUE(db.ok());
  db_ = std::move(*db);
  EXPECT_EQ(Ids("persistent"), std::vector<std::string>{"n"});
}

TEST_F(TextSearchTest, BadQueriesGetClearErrorsNotSqlErrors) {
  Add("n", "", "some text");
  for (const char* q : {"", "AND", "NOT text", "()", "\"\"", "***"}) {
    TextSearchOptions o;
    o.query = q;
    auto r = db_->SearchText(o);
    ASSERT_FALSE(r.ok()) << q;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << q;
    EXPECT_EQ(r.status().message().find("fts5"), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().find("SQL"), std::string::npos) << r.status().message();
  }
  // Unbalanced quotes, stray operators and syntax FTS5 would reject all get
  // a safe reading and simply run.
  for (const char* q : {"\"some", "some OR", "some)", "text*)", "NEAR(some", "some:text",
                        "\"some\"\"text\"", "→ some", "some AND OR NOT text x"}) {
    TextSearchOptions o;
    o.query = q;
    auto r = db_->SearchText(o);
    EXPECT_TRUE(r.ok()) << q << ": " << r.status().ToString();
  }
  std::string huge;
  for (int i = 0; i < 10000; ++i) huge += "term ";
  TextSearchOptions o;
  o.query = huge;
  auto r = db_->SearchText(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  o.query = "text";
  o.limit = 0;
  EXPECT_EQ(db_->SearchText(o).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nodespace
