#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "io/jsonl_export.h"
#include "io/jsonl_import.h"
#include "nodespace/database.h"
#include "test_util.h"

namespace nodespace::io {
namespace {

struct Commit {
  uint64_t first_line, last_line, nodes;
  int64_t seq;
  bool operator==(const Commit& o) const {
    return std::tie(first_line, last_line, nodes, seq) ==
           std::tie(o.first_line, o.last_line, o.nodes, o.seq);
  }
};
std::ostream& operator<<(std::ostream& os, const Commit& c) {
  return os << "{" << c.first_line << "-" << c.last_line << ", nodes " << c.nodes << ", seq "
            << c.seq << "}";
}

// What one import reported.
struct Imported {
  ImportSummary summary;
  std::vector<std::string> errors;
  std::vector<Commit> commits;
};

class JsonlTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = OpenDb(dir_.path()); }

  static std::unique_ptr<Database> OpenDb(const std::string& path) {
    Options o;
    o.durability = Durability::kNormal;
    auto r = Database::Open(path, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  static Imported Import(Database& db, const std::string& text, ImportOptions options = {}) {
    if (options.source_name == "-") options.source_name = "in.jsonl";
    Imported out;
    ImportCallbacks cb;
    cb.on_error = [&](const std::string& msg) { out.errors.push_back(msg); };
    cb.on_commit = [&](uint64_t first, uint64_t last, uint64_t nodes, int64_t seq) {
      out.commits.push_back({first, last, nodes, seq});
    };
    std::istringstream in(text);
    auto r = ImportJsonl(db, in, options, cb);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) out.summary = *r;
    return out;
  }
  Imported Import(const std::string& text, ImportOptions options = {}) {
    return Import(*db_, text, std::move(options));
  }

  static std::string Export(const Database& db, ExportOptions options = {}) {
    std::ostringstream out;
    auto r = ExportJsonl(db, out, options);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return out.str();
  }

  bool Exists(const std::string& id) { return db_->Get(id).ok(); }

  nodespace::testing::TempDir dir_;
  std::unique_ptr<Database> db_;
};

std::string Lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

TEST_F(JsonlTest, ImportsGoodLines) {
  const Imported r = Import(Lines({
      R"({"id":"root","content":"# Root","properties":{"ui":{"pinned":true}},"version":4,)"
      R"("created_at":"2024-05-01T12:00:00.250Z","modified_at":"2024-05-02T00:00:00Z"})",
      R"({"id":"kid","parent_id":"root","content":"child","lifecycle":"archived"})",
      "",
      R"({"id":"task","parent_id":"root","node_type":"task","content":"- [ ] call Ana",)"
      R"("properties":{"task":{"status":"open","due":"2024-05-03"}},"embedding":[0.5,-1,2]})",
      "   ",
      R"({"id":7,"parent_id":null,"created_at":1714564800000,"title":"ignored","order_key":"x"})",
  }));
  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
  EXPECT_EQ(r.summary.lines, 6u);
  EXPECT_EQ(r.summary.nodes, 4u);
  EXPECT_EQ(r.summary.errors, 0u);
  EXPECT_EQ(r.summary.batches, 1u);
  EXPECT_FALSE(r.summary.aborted);

  auto root = db_->Get("root");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->title, "Root");
  EXPECT_EQ(root->version, 4);
  EXPECT_EQ(root->properties, R"({"ui":{"pinned":true}})");
  EXPECT_EQ(root->created_at, 1714564800250);
  EXPECT_EQ(root->modified_at, 1714608000000);
  auto kid = db_->Get("kid");
  ASSERT_TRUE(kid.ok());
  EXPECT_EQ(kid->lifecycle, Lifecycle::kArchived);
  EXPECT_EQ(kid->version, 1);
  EXPECT_EQ(kid->modified_at, kid->created_at);
  auto task = db_->Get("task");
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->title, "call Ana");
  EXPECT_EQ(task->embedding, (std::vector<float>{0.5F, -1.0F, 2.0F}));
  auto seven = db_->Get("7");
  ASSERT_TRUE(seven.ok());
  EXPECT_TRUE(seven->is_root());
  EXPECT_EQ(seven->node_type, "text");
  EXPECT_EQ(seven->title, "");  // derived, never taken from the line
  EXPECT_EQ(seven->created_at, 1714564800000);
  EXPECT_EQ(db_->Children("root")->size(), 1u);  // kid is archived
  EXPECT_TRUE(db_->CheckIntegrity().ok());
}

TEST_F(JsonlTest, WindowsLineEndingsAndNoFinalNewline) {
  const Imported r = Import("{\"id\":\"a\"}\r\n{\"id\":\"b\",\"parent_id\":\"a\"}");
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.summary.nodes, 2u);
  EXPECT_EQ(r.summary.lines, 2u);
  EXPECT_TRUE(Exists("b"));
}

TEST_F(JsonlTest, BadLinesAreReportedWithTheirLineNumbers) {
  const Imported r = Import(Lines({
      R"({"id":"a","content":"good"})",                // 1
      R"({"id":"b",)",                                 // 2 malformed
      R"({"content":"no id"})",                        // 3
      R"({"id":"c","parent_id":"nowhere"})",           // 4 unknown parent
      R"({"id":"a","content":"again"})",               // 5 duplicate
      "{\"id\":\"d\",\"content\":\"bad \xFF byte\"}",  // 6 invalid UTF-8
      R"({"id":"e","parent_id":"a"})",                 // 7
      R"([1,2,3])",                                    // 8
      R"({"id":""})",                                  // 9
      "",                                              // 10
      R"({"id":"f","node_type":"task","properties":{"task":{"status":"later"}}})",  // 11
      R"({"id":"g","lifecycle":"gone"})",                                           // 12
      R"({"id":"h","version":0})",                                                  // 13
      R"({"id":"i","created_at":"yesterday"})",                                     // 14
      R"({"id":"j","properties":[1]})",                                             // 15
      R"({"id":"k","content":5})",                                                  // 16
      R"({"id":"l","embedding":["x"]})",                                            // 17
      R"({"id":"has space"})",                                                      // 18
      R"({"id":"m","parent_id":"e"})",                                              // 19
  }));
  ASSERT_EQ(r.errors.size(), 15u);
  const std::vector<std::string> want = {
      "in.jsonl:2: ",
      "in.jsonl:3: id: required",
      "in.jsonl:4: parent 'nowhere' not found",
      "in.jsonl:5: node 'a' already exists",
      "in.jsonl:6: ",
      "in.jsonl:8: expected a JSON object",
      "in.jsonl:9: id: must not be empty",
      "in.jsonl:11: task.status: expected one of [open, in_progress, done, cancelled], got "
      "\"later\"",
      "in.jsonl:12: lifecycle: expected active, archived or deleted, got 'gone'",
      "in.jsonl:13: version: expected a positive integer",
      "in.jsonl:14: created_at: 'yesterday' is not an ISO 8601 date-time",
      "in.jsonl:15: properties: expected a JSON object",
      "in.jsonl:16: content: expected a string",
      "in.jsonl:17: embedding: expected an array of numbers",
      "in.jsonl:18: invalid node id 'has space'",
  };
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(r.errors[i].rfind(want[i], 0), 0u)
        << "got: " << r.errors[i] << "\nwant prefix: " << want[i];
  }
  EXPECT_EQ(r.errors[0], "in.jsonl:2: malformed JSON");
  EXPECT_EQ(r.summary.errors, 15u);
  EXPECT_EQ(r.summary.nodes, 3u);  // a, e, m
  EXPECT_EQ(r.summary.lines, 19u);
  EXPECT_FALSE(r.summary.aborted);
  for (const char* id : {"a", "e", "m"}) EXPECT_TRUE(Exists(id)) << id;
  for (const char* id : {"b", "c", "d", "f", "g", "h", "i", "j", "k", "l"}) {
    EXPECT_FALSE(Exists(id)) << id;
  }
  EXPECT_EQ(db_->Get("a")->content, "good");
  auto roots = db_->Roots();
  ASSERT_TRUE(roots.ok());
  EXPECT_EQ(roots->size(), 1u);  // nothing made up an id for line 3 or 9
}

// Long enough that the importer reads and parses ahead on its second thread
// (after 2,048 lines): errors, ranges and rows must be the same as without.
TEST_F(JsonlTest, SkipKeepsEveryGoodLineAcrossBatches) {
  constexpr int kLines = 10000;
  std::vector<std::string> lines;
  for (int i = 0; i < kLines; ++i) {
    if (i % 7 == 3) {
      lines.push_back(R"({"id":"bad-)" + std::to_string(i) + R"(","parent_id":"missing"})");
    } else if (i % 11 == 5) {
      lines.push_back("{not json");
    } else {
      lines.push_back(R"({"id":"n)" + std::to_string(i) + R"("})");
    }
  }
  ImportOptions o;
  o.batch_size = 97;  // batch edges fall on good and bad lines alike
  const Imported r = Import(Lines(lines), o);
  uint64_t good = 0;
  for (int i = 0; i < kLines; ++i) {
    const bool bad = i % 7 == 3 || i % 11 == 5;
    if (!bad) ++good;
    EXPECT_EQ(Exists("n" + std::to_string(i)), !bad) << i;
  }
  EXPECT_EQ(r.summary.nodes, good);
  EXPECT_EQ(r.summary.errors, kLines - good);
  EXPECT_EQ(r.errors.size(), kLines - good);
  // Errors come in line order.
  for (size_t i = 1; i < r.errors.size(); ++i) {
    const auto line_of = [](const std::string& e) { return std::stoul(e.substr(e.find(':') + 1)); };
    EXPECT_LT(line_of(r.errors[i - 1]), line_of(r.errors[i]));
  }
  // The committed ranges tile the input.
  ASSERT_FALSE(r.commits.empty());
  EXPECT_EQ(r.commits.front().first_line, 1u);
  EXPECT_EQ(r.commits.back().last_line, static_cast<uint64_t>(kLines));
  for (size_t i = 1; i < r.commits.size(); ++i) {
    EXPECT_EQ(r.commits[i].first_line, r.commits[i - 1].last_line + 1) << r.commits[i];
    EXPECT_GT(r.commits[i].seq, r.commits[i - 1].seq);
  }
  EXPECT_EQ(r.commits.back().seq, db_->LastChangeSeq());
  EXPECT_TRUE(db_->CheckIntegrity().ok());
}

TEST_F(JsonlTest, AbortPastTheReadAheadThresholdKeepsOnlyEarlierLines) {
  constexpr int kLines = 6000, kBadLine = 4321;  // 1-based
  std::vector<std::string> lines;
  for (int i = 1; i <= kLines; ++i) {
    lines.push_back(i == kBadLine ? std::string("{broken")
                                  : R"({"id":"n)" + std::to_string(i) + R"("})");
  }
  ImportOptions o;
  o.batch_size = 1000;
  o.on_error = OnError::kAbort;
  const Imported r = Import(Lines(lines), o);
  EXPECT_TRUE(r.summary.aborted);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "in.jsonl:4321: malformed JSON");
  EXPECT_EQ(r.summary.nodes, static_cast<uint64_t>(kBadLine - 1));
  for (int i = 1; i <= kLines; ++i) EXPECT_EQ(Exists("n" + std::to_string(i)), i < kBadLine) << i;
  ASSERT_FALSE(r.commits.empty());
  EXPECT_EQ(r.commits.back().last_line, static_cast<uint64_t>(kBadLine - 1));
  EXPECT_TRUE(db_->CheckIntegrity().ok());
}

TEST_F(JsonlTest, AbortStopsAtAMalformedLine) {
  ImportOptions o;
  o.on_error = OnError::kAbort;
  const Imported r = Import(Lines({
                                R"({"id":"a"})",
                                R"({"id":"b","parent_id":"a"})",
                                R"({"id":"c",)",
                                R"({"id":"d"})",
                            }),
                            o);
  EXPECT_TRUE(r.summary.aborted);
  EXPECT_EQ(r.summary.errors, 1u);
  EXPECT_EQ(r.summary.nodes, 2u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "in.jsonl:3: malformed JSON");
  EXPECT_TRUE(Exists("a"));
  EXPECT_TRUE(Exists("b"));
  EXPECT_FALSE(Exists("c"));
  EXPECT_FALSE(Exists("d"));
  // The committed range ends right before the bad line.
  EXPECT_EQ(r.commits, (std::vector<Commit>{{1, 2, 2, 2}}));
}

TEST_F(JsonlTest, AbortStopsAtALineTheDatabaseRejects) {
  ImportOptions o;
  o.on_error = OnError::kAbort;
  const Imported r = Import(Lines({
                                R"({"id":"a"})",
                                R"({"id":"b"})",
                                R"({"id":"c","parent_id":"missing"})",
                                R"({"id":"d"})",
                                R"({"id":"e"})",
                            }),
                            o);
  EXPECT_TRUE(r.summary.aborted);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "in.jsonl:3: parent 'missing' not found");
  EXPECT_TRUE(Exists("a"));
  EXPECT_TRUE(Exists("b"));
  EXPECT_FALSE(Exists("d"));
  EXPECT_FALSE(Exists("e"));
  EXPECT_EQ(r.summary.nodes, 2u);
  EXPECT_EQ(r.commits, (std::vector<Commit>{{1, 2, 2, 2}}));
}

TEST_F(JsonlTest, AbortInALaterBatchKeepsTheEarlierBatches) {
  ImportOptions o;
  o.on_error = OnError::kAbort;
  o.batch_size = 2;
  const Imported r = Import(Lines({
                                R"({"id":"a"})",
                                R"({"id":"b"})",
                                R"({"id":"c"})",
                                R"({"id":"a"})",  // duplicate
                                R"({"id":"e"})",
                                R"({"id":"f"})",
                            }),
                            o);
  EXPECT_TRUE(r.summary.aborted);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "in.jsonl:4: node 'a' already exists");
  EXPECT_EQ(r.commits, (std::vector<Commit>{{1, 2, 2, 2}, {3, 3, 1, 3}}));
  EXPECT_TRUE(Exists("c"));
  EXPECT_FALSE(Exists("e"));
  EXPECT_FALSE(Exists("f"));
  EXPECT_EQ(r.summary.nodes, 3u);
}

TEST_F(JsonlTest, OnCommitReportsEachBatch) {
  std::vector<std::string> lines;
  for (int i = 1; i <= 7; ++i) lines.push_back(R"({"id":"n)" + std::to_string(i) + R"("})");
  ImportOptions o;
  o.batch_size = 3;
  const Imported r = Import(Lines(lines), o);
  EXPECT_EQ(r.commits, (std::vector<Commit>{{1, 3, 3, 3}, {4, 6, 3, 6}, {7, 7, 1, 7}}));
  EXPECT_EQ(r.summary.batches, 3u);
  EXPECT_EQ(r.summary.nodes, 7u);

  // Blank and bad lines belong to the batch they are read in.
  const Imported r2 = Import(Lines({
                                 R"({"id":"x1"})",
                                 "",
                                 "{oops",
                                 R"({"id":"x2"})",
                                 R"({"id":"x3"})",
                             }),
                             o);
  ASSERT_EQ(r2.commits.size(), 1u);
  EXPECT_EQ(r2.commits[0].first_line, 1u);
  EXPECT_EQ(r2.commits[0].last_line, 5u);
  EXPECT_EQ(r2.commits[0].nodes, 3u);
  EXPECT_EQ(r2.errors, (std::vector<std::string>{"in.jsonl:3: malformed JSON"}));
}

TEST_F(JsonlTest, EdgeLines) {
  const Imported r = Import(Lines({
      R"({"id":"a"})", R"({"id":"b"})", R"({"id":"col","node_type":"collection","content":"col"})",
      R"({"edge":{"from":"a","to":"b","type":"blocks","properties":{"why":"order"}}})",
      R"({"edge":{"from":"a","to":"col","type":"member_of"}})",
      R"({"edge":{"from":"a","to":"b"}})",                            // 6 no type
      R"({"edge":{"from":"a","to":"zz","type":"blocks"}})",           // 7 unknown node
      R"({"edge":{"from":"a","to":"b","type":"mentions"}})",          // 8 derived type
      R"({"edge":{"from":"a","to":"b","type":"t","weight":"2"}})",    // 9 unknown field
      R"({"edge":{"from":"a","to":"a","type":"t"}})",                 // 10 self
      R"({"edge":[1]})",                                              // 11
      R"({"edge":{"from":"a","to":"b","type":"x","properties":3}})",  // 12
  }));
  EXPECT_EQ(r.summary.edges, 2u);
  EXPECT_EQ(r.summary.nodes, 3u);
  ASSERT_EQ(r.errors.size(), 7u);
  EXPECT_EQ(r.errors[0], "in.jsonl:6: edge: from, to and type are required");
  EXPECT_EQ(r.errors[1], "in.jsonl:7: node 'zz' not found");
  EXPECT_EQ(r.errors[2], "in.jsonl:8: mentions edges are derived from content links");
  EXPECT_EQ(r.errors[3], "in.jsonl:9: edge: unknown field 'weight'");
  EXPECT_EQ(r.errors[4], "in.jsonl:10: an edge cannot join a node to itself");
  EXPECT_EQ(r.errors[5].rfind("in.jsonl:11: edge: expected an object", 0), 0u) << r.errors[5];
  EXPECT_EQ(r.errors[6], "in.jsonl:12: edge.properties: expected a JSON object");

  auto edges = db_->Edges("a", true);
  ASSERT_TRUE(edges.ok());
  ASSERT_EQ(edges->size(), 2u);
  EXPECT_EQ((*edges)[0].type, "blocks");
  EXPECT_EQ((*edges)[0].to_id, "b");
  EXPECT_EQ((*edges)[0].properties, R"({"why":"order"})");
  EXPECT_EQ((*edges)[1].type, "member_of");
  auto paths = db_->CollectionsOf("a");
  ASSERT_TRUE(paths.ok());
  EXPECT_EQ(*paths, (std::vector<std::string>{"col"}));
}

TEST_F(JsonlTest, LineLimitAndEmbeddingSwitch) {
  ImportOptions o;
  o.max_line_bytes = 40;
  o.with_embeddings = false;
  const Imported r = Import(Lines({
                                R"({"id":"a","embedding":[1,2,3]})",
                                R"({"id":"b","content":"this line is far too long for the limit"})",
                            }),
                            o);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].rfind("in.jsonl:2: line is ", 0), 0u) << r.errors[0];
  auto a = db_->Get("a");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->embedding.empty());
  EXPECT_FALSE(Exists("b"));
}

TEST_F(JsonlTest, RejectedEmbeddingDoesNotFixTheDimension) {
  // Line 1 records a 3-dim embedding, then fails on its parent; the
  // dimension must come from the first embedding that lands (line 2).
  const Imported r = Import(Lines({
      R"({"id":"a","parent_id":"missing","embedding":[1,2,3]})",
      R"({"id":"b","embedding":[1,2,3,4]})",
      R"({"id":"c","embedding":[1,2,3]})",
  }));
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0], "in.jsonl:1: parent 'missing' not found");
  EXPECT_EQ(r.errors[1], "in.jsonl:3: vector has 3 dims, database uses 4");
  EXPECT_TRUE(Exists("b"));
}

// ---- Export / import round trip -------------------------------------------------------

NewNode Make(const std::string& id, const std::string& parent_id, const std::string& content) {
  NewNode n;
  n.id = id;
  n.parent_id = parent_id;
  n.content = content;
  return n;
}

// A database with every kind of thing an export must carry.
void Populate(Database& db) {
  auto must = [](const Status& st) { ASSERT_TRUE(st.ok()) << st.ToString(); };
  auto create = [&](NewNode n) { must(db.Create(n).status()); };

  create(Make("inbox", "", "# Inbox\nthings to sort"));
  create(Make("projects", "", "# Projects"));
  for (const char* id : {"p1", "p2", "p3"}) create(Make(id, "projects", id));
  NewNode p4 = Make("p4", "projects", "fourth, \"quoted\", unicode: caf\xC3\xA9 \xF0\x9F\x98\x80");
  p4.position = Position::After("p1");
  create(p4);
  // Insert repeatedly at one spot so keys get long fractions.
  for (int i = 0; i < 30; ++i) {
    NewNode n = Make("squeeze-" + std::to_string(i), "projects", "s" + std::to_string(i));
    n.position = Position::After("p1");
    create(n);
  }
  must(db.Move("p3", "projects", Position::First()).status());
  must(db.Move("p2", "inbox", Position::Last()).status());
  create(Make("p4-child", "p4", "under p4"));
  create(Make("p4-grandchild", "p4-child", "deeper\n\nwith [[p1]] and @task-1"));

  NewNode task = Make("task-1", "p1", "- [ ] write the report");
  task.node_type = "task";
  task.properties = R"({"task": {"status": "open", "due": "2024-05-03", "priority": 2},
                        "ui": {"z": 1, "a": [1.5, "x", null, true]}})";
  task.embedding = {0.1F, -2.5e-8F, 1e10F};
  create(task);
  NewNode task2 = Make("task-2", "p1", "- [x] done");
  task2.node_type = "task";
  task2.properties = R"({"task":{"status":"done","completed_at":"2024-05-02T10:00:00Z"}})";
  task2.embedding = {1.0F, 2.0F, 3.0F};
  create(task2);

  create(Make("day-note", "2024-05-01", "filed under a day"));
  create(Make("day-note-2", "2024-05-02", "[link](nodespace://day-note)"));

  NewNode schema = Make("book-schema", "", "Books");
  schema.node_type = "schema";
  schema.properties =
      R"({"schema":{"for":"book","fields":{"pages":{"type":"integer","required":true}}}})";
  create(schema);
  NewNode book = Make("dune", "inbox", "Dune");
  book.node_type = "book";
  book.properties = R"({"book":{"pages":412}})";
  create(book);

  NodePatch edit;
  edit.content = "p1, edited twice";
  must(db.Update("p1", edit).status());
  edit.content = "p1, edited three times";
  must(db.Update("p1", edit).status());

  must(db.SetLifecycle("p4", Lifecycle::kArchived).status());
  must(db.SetLifecycle("squeeze-3", Lifecycle::kDeleted).status());

  must(db.AddToCollection("p1", "work:alpha"));
  must(db.AddToCollection("task-1", "work"));
  must(db.AddToCollection("dune", "reading"));
  must(db.AddEdge({"p1", "task-1", "blocks", R"({"why": "order", "n": 3})"}));
  must(db.AddEdge({"task-2", "dune", "see-also", "{}"}));
}

TEST_F(JsonlTest, ExportImportExportIsByteIdentical) {
  ASSERT_NO_FATAL_FAILURE(Populate(*db_));
  ASSERT_TRUE(db_->CheckIntegrity().ok());
  const std::string first = Export(*db_);
  ASSERT_FALSE(first.empty());

  nodespace::testing::TempDir copy_dir;
  auto copy = OpenDb(copy_dir.path());
  ASSERT_NE(copy, nullptr);
  ImportOptions o;
  o.batch_size = 7;  // several batches
  const Imported r = Import(*copy, first, o);
  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
  EXPECT_FALSE(r.summary.aborted);
  const std::string second = Export(*copy);
  EXPECT_EQ(first, second);
  EXPECT_TRUE(copy->CheckIntegrity().ok());

  // The copy is equivalent, not just its export.
  auto s1 = db_->Stats();
  auto s2 = copy->Stats();
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_EQ(s1->node_count, s2->node_count);
  EXPECT_EQ(s1->root_count, s2->root_count);
  EXPECT_EQ(s1->stored_edge_count, s2->stored_edge_count);  // mentions re-derived
  EXPECT_EQ(s1->embedding_count, s2->embedding_count);
  EXPECT_EQ(r.summary.nodes, static_cast<uint64_t>(s1->node_count));
  auto backlinks = copy->Backlinks("p1");
  ASSERT_TRUE(backlinks.ok());
  ASSERT_EQ(backlinks->size(), 1u);
  EXPECT_EQ((*backlinks)[0].id, "p4-grandchild");
  auto paths = copy->CollectionsOf("p1");
  ASSERT_TRUE(paths.ok());
  EXPECT_EQ(*paths, (std::vector<std::string>{"work:alpha"}));
  auto task = copy->Get("task-1");
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->embedding, (std::vector<float>{0.1F, -2.5e-8F, 1e10F}));
  EXPECT_EQ(copy->Get("p1")->version, 3);
  EXPECT_EQ(copy->Get("p4-child")->lifecycle, Lifecycle::kArchived);
  EXPECT_EQ(copy->Get("2024-05-01")->node_type, "date");

  // And once more, from the copy.
  nodespace::testing::TempDir third_dir;
  auto third = OpenDb(third_dir.path());
  ASSERT_NE(third, nullptr);
  const Imported r3 = Import(*third, second);
  EXPECT_TRUE(r3.errors.empty());
  EXPECT_EQ(Export(*third), first);
}

TEST_F(JsonlTest, ExportShape) {
  ASSERT_NO_FATAL_FAILURE(Populate(*db_));
  const std::string text = Export(*db_);
  std::istringstream in(text);
  std::string line;
  std::vector<nlohmann::json> nodes, edges;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    (j.contains("edge") ? edges : nodes).push_back(std::move(j));
  }
  auto stats = db_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(nodes.size(), static_cast<size_t>(stats->node_count));  // every lifecycle
  // Edges come last and never include derived mentions.
  // 2 user edges; member_of: p1 -> alpha -> work, task-1 -> work, dune -> reading.
  EXPECT_EQ(edges.size(), 6u);
  for (const auto& e : edges) EXPECT_NE(e["edge"]["type"], "mentions");
  EXPECT_TRUE(
      nlohmann::json::parse(text.substr(text.rfind('\n', text.size() - 2) + 1)).contains("edge"));
  // Parents come before their children.
  std::set<std::string> seen;
  for (const auto& n : nodes) {
    if (!n["parent_id"].is_null()) {
      EXPECT_TRUE(seen.count(n["parent_id"].get<std::string>())) << n.dump();
    }
    seen.insert(n["id"].get<std::string>());
  }

  // Without embeddings.
  ExportOptions no_vectors;
  no_vectors.with_embeddings = false;
  EXPECT_EQ(Export(*db_, no_vectors).find("\"embedding\""), std::string::npos);
  EXPECT_NE(text.find("\"embedding\""), std::string::npos);

  // One subtree.
  ExportOptions sub;
  sub.root_id = "p4";
  std::istringstream sub_in(Export(*db_, sub));
  std::vector<std::string> ids;
  while (std::getline(sub_in, line)) {
    ids.push_back(nlohmann::json::parse(line)["id"].get<std::string>());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"p4", "p4-child", "p4-grandchild"}));
  ExportOptions missing;
  missing.root_id = "nope";
  std::ostringstream sink;
  EXPECT_TRUE(ExportJsonl(*db_, sink, missing).status().IsNotFound());
}

}  // namespace
}  // namespace nodespace::io
