#include "nodespace/database.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "model/ids.h"
#include "model/order_key.h"
#include "storage/schema.h"
#include "storage/sqlite.h"
#include "test_util.h"

namespace nodespace {
namespace {

NewNode Make(const std::string& id, const std::string& parent_id = "",
             const std::string& content = "") {
  NewNode n;
  n.id = id;
  n.parent_id = parent_id;
  n.content = content.empty() ? id : content;
  return n;
}

NewNode At(NewNode n, Position position) {
  n.position = std::move(position);
  return n;
}

std::vector<std::string> IdsOf(const std::vector<Node>& nodes) {
  std::vector<std::string> out;
  out.reserve(nodes.size());
  for (const Node& n : nodes) out.push_back(n.id);
  return out;
}

using Ids = std::vector<std::string>;

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open(const Options& options = {}) {
    db_.reset();
    auto r = Database::Open(dir_.path(), options);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    db_ = std::move(r).value();
  }

  // Creates a node; the test fails (and an empty Node comes back) on error.
  Node Create(const NewNode& n, const WriteOptions& w = {}) {
    auto r = db_->Create(n, w);
    EXPECT_TRUE(r.ok()) << "create '" << n.id << "': " << r.status().ToString();
    return r.ok() ? *r : Node{};
  }

  Node Get(const std::string& id) {
    auto r = db_->Get(id);
    EXPECT_TRUE(r.ok()) << "get '" << id << "': " << r.status().ToString();
    return r.ok() ? *r : Node{};
  }

  bool Exists(const std::string& id) { return db_->Get(id).ok(); }

  Ids Children(const std::string& parent, bool include_archived = false) {
    ListOptions o;
    o.include_archived = include_archived;
    auto r = db_->Children(parent, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? IdsOf(*r) : Ids{};
  }

  Ids Roots(bool include_archived = false) {
    ListOptions o;
    o.include_archived = include_archived;
    auto r = db_->Roots(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? IdsOf(*r) : Ids{};
  }

  std::vector<Change> AllChanges(int64_t after = 0) {
    std::vector<Change> all;
    while (true) {
      auto page = db_->ChangesSince(after, 1000);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok() || page->empty()) break;
      after = page->back().seq;
      all.insert(all.end(), page->begin(), page->end());
    }
    return all;
  }

  // (id, depth) pairs of a subtree walk.
  std::vector<std::pair<std::string, int>> Walk(const std::string& id, SubtreeOptions o = {},
                                                size_t stop_after = 0) {
    std::vector<std::pair<std::string, int>> out;
    Status st = db_->VisitSubtree(id, o, [&](const Node& n, int depth) {
      out.emplace_back(n.id, depth);
      return stop_after == 0 || out.size() < stop_after;
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  nodespace::testing::TempDir dir_;
  std::unique_ptr<Database> db_;
};

// ---- Create / Get -----------------------------------------------------------

TEST_F(DatabaseTest, CreateAndGetKeepEveryField) {
  NewNode in = Make("n1", "", "# Hello\nbody text");
  in.node_type = "text";
  in.properties = R"({"ui":{"color":"red"}})";
  in.created_at = 1000;
  in.modified_at = 2000;
  in.embedding = {0.5F, -1.0F, 2.25F, 0.0F};
  const Node created = Create(in);
  EXPECT_EQ(created.id, "n1");

  const Node n = Get("n1");
  EXPECT_EQ(n.id, "n1");
  EXPECT_EQ(n.parent_id, "");
  EXPECT_TRUE(n.is_root());
  EXPECT_EQ(n.node_type, "text");
  EXPECT_EQ(n.content, "# Hello\nbody text");
  EXPECT_EQ(n.title, "Hello");  // roots derive a title
  EXPECT_EQ(n.properties, R"({"ui":{"color":"red"}})");
  EXPECT_EQ(n.lifecycle, Lifecycle::kActive);
  EXPECT_EQ(n.version, 1);
  EXPECT_EQ(n.created_at, 1000);
  EXPECT_EQ(n.modified_at, 2000);
  EXPECT_EQ(n.embedding, (std::vector<float>{0.5F, -1.0F, 2.25F, 0.0F}));
  EXPECT_EQ(n.order_key, "a0");
  EXPECT_TRUE(order_key::IsValid(n.order_key));

  // What Create returns is what Get reads.
  EXPECT_EQ(created.content, n.content);
  EXPECT_EQ(created.version, n.version);
  EXPECT_EQ(created.order_key, n.order_key);
  EXPECT_EQ(created.embedding, n.embedding);
}

TEST_F(DatabaseTest, TitlesAreDerivedForRootsAndTasksOnly) {
  Create(Make("root", "", "# Root title\nmore"));
  Create(Make("child", "root", "# Child heading"));
  NewNode task = Make("task", "root", "- [ ] call Ana");
  task.node_type = "task";
  Create(task);
  EXPECT_EQ(Get("root").title, "Root title");
  EXPECT_EQ(Get("child").title, "");
  EXPECT_EQ(Get("task").title, "call Ana");
}

TEST_F(DatabaseTest, DefaultsAreUuidV7IdsTextTypeAndNow) {
  const TimestampMs before = ids::NowMs();
  NewNode blank;
  blank.content = "no id given";
  const Node a = Create(blank);
  const Node b = Create(blank);
  const TimestampMs after = ids::NowMs();

  for (const Node& n : {a, b}) {
    ASSERT_EQ(n.id.size(), 36u) << n.id;
    EXPECT_EQ(n.id[14], '7') << n.id;
    EXPECT_NE(std::string("89ab").find(n.id[19]), std::string::npos) << n.id;
    EXPECT_EQ(n.node_type, "text");
    EXPECT_EQ(n.properties, "{}");
    EXPECT_EQ(n.version, 1);
    EXPECT_GE(n.created_at, before);
    EXPECT_LE(n.created_at, after);
    EXPECT_EQ(n.modified_at, n.created_at);
    EXPECT_TRUE(n.embedding.empty());
    EXPECT_TRUE(Exists(n.id));
  }
  EXPECT_LT(a.id, b.id);  // ids from one process increase
  EXPECT_EQ(Roots(), (Ids{a.id, b.id}));

  // An empty properties string means "{}".
  NewNode empty_props = Make("ep");
  empty_props.properties = "";
  EXPECT_EQ(Create(empty_props).properties, "{}");
}

TEST_F(DatabaseTest, DateParentIsCreatedOnDemand) {
  Create(Make("note", "2024-05-01", "a note filed under a day"));
  const Node day = Get("2024-05-01");
  EXPECT_EQ(day.node_type, "date");
  EXPECT_TRUE(day.is_root());
  EXPECT_EQ(day.content, "2024-05-01");
  EXPECT_EQ(day.title, "2024-05-01");
  EXPECT_EQ(Get("note").parent_id, "2024-05-01");

  // A second note reuses the day.
  Create(Make("note2", "2024-05-01"));
  EXPECT_EQ(Children("2024-05-01"), (Ids{"note", "note2"}));
  EXPECT_EQ(Roots(), (Ids{"2024-05-01"}));

  // Moving under a new day creates it too.
  ASSERT_TRUE(db_->Move("note2", "2024-02-29", Position::Last()).ok());
  EXPECT_EQ(Get("2024-02-29").node_type, "date");
  EXPECT_EQ(Children("2024-02-29"), (Ids{"note2"}));

  // Only real dates: anything else must exist already.
  auto bad = db_->Create(Make("x", "2023-02-29"));
  EXPECT_TRUE(bad.status().IsNotFound()) << bad.status().ToString();
  EXPECT_FALSE(Exists("2023-02-29"));

  // A date node's id must be a date.
  NewNode fake = Make("not-a-date");
  fake.node_type = "date";
  EXPECT_TRUE(db_->Create(fake).status().IsInvalidArgument());
  EXPECT_OK(db_->CheckIntegrity());
}

// ---- Positions --------------------------------------------------------------

TEST_F(DatabaseTest, PositionsFirstLastBeforeAfter) {
  Create(Make("p"));
  Create(At(Make("a", "p"), Position::Last()));
  Create(At(Make("b", "p"), Position::Last()));
  Create(At(Make("c", "p"), Position::First()));
  Create(At(Make("d", "p"), Position::Before("b")));
  Create(At(Make("e", "p"), Position::After("a")));
  Create(At(Make("f", "p"), Position::After("b")));
  Create(At(Make("g", "p"), Position::Before("c")));
  EXPECT_EQ(Children("p"), (Ids{"g", "c", "a", "e", "d", "b", "f"}));

  // Roots take positions too.
  Create(At(Make("r0"), Position::First()));
  Create(At(Make("r1"), Position::After("r0")));
  EXPECT_EQ(Roots(), (Ids{"r0", "r1", "p"}));

  // Bad siblings.
  EXPECT_TRUE(db_->Create(At(Make("x", "p"), Position::Before("nope"))).status().IsNotFound());
  auto other = db_->Create(At(Make("y", "p"), Position::After("r0")));
  EXPECT_TRUE(other.status().IsInvalidArgument()) << other.status().ToString();
  EXPECT_FALSE(Exists("x"));
  EXPECT_FALSE(Exists("y"));

  // Keys are valid and strictly increasing in sibling order.
  auto kids = db_->Children("p");
  ASSERT_TRUE(kids.ok());
  for (size_t i = 0; i < kids->size(); ++i) {
    EXPECT_TRUE(order_key::IsValid((*kids)[i].order_key));
    if (i > 0) EXPECT_LT((*kids)[i - 1].order_key, (*kids)[i].order_key);
  }
}

TEST_F(DatabaseTest, SiblingsPageAfterAnIdAndCount) {
  Create(Make("p"));
  for (const char* id : {"a", "b", "c", "d", "e"}) Create(Make(id, "p"));
  Create(Make("x", "b"));
  ListOptions o;
  o.limit = 2;
  Ids seen;
  for (int page = 0; page < 4; ++page) {
    auto r = db_->Children("p", o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    for (const Node& n : *r) seen.push_back(n.id);
    if (r->size() < o.limit) break;
    o.after_id = r->back().id;
  }
  EXPECT_EQ(seen, (Ids{"a", "b", "c", "d", "e"}));
  o.after_id = "x";  // not a child of p
  EXPECT_TRUE(db_->Children("p", o).status().IsInvalidArgument());
  o.after_id = "p";
  o.limit = 0;
  ASSERT_OK_AND_ASSIGN(std::vector<Node> roots_after, db_->Roots(o));
  EXPECT_TRUE(roots_after.empty());

  EXPECT_EQ(db_->CountChildren("p").value(), 5);
  EXPECT_EQ(db_->CountChildren("b").value(), 1);
  EXPECT_EQ(db_->CountChildren("a").value(), 0);
  EXPECT_EQ(db_->CountChildren("").value(), 1);  // roots
  ASSERT_TRUE(db_->SetLifecycle("c", Lifecycle::kArchived).ok());
  EXPECT_EQ(db_->CountChildren("p").value(), 4);
  EXPECT_EQ(db_->CountChildren("p", /*include_archived=*/true).value(), 5);
}

TEST_F(DatabaseTest, MoveToPositions) {
  Create(Make("p"));
  for (const char* id : {"a", "b", "c", "d"}) Create(Make(id, "p"));
  Create(Make("q"));
  Create(Make("q1", "q"));

  ASSERT_TRUE(db_->Move("d", "p", Position::First()).ok());
  EXPECT_EQ(Children("p"), (Ids{"d", "a", "b", "c"}));
  ASSERT_TRUE(db_->Move("d", "p", Position::Last()).ok());
  EXPECT_EQ(Children("p"), (Ids{"a", "b", "c", "d"}));
  ASSERT_TRUE(db_->Move("a", "p", Position::After("c")).ok());
  EXPECT_EQ(Children("p"), (Ids{"b", "c", "a", "d"}));
  ASSERT_TRUE(db_->Move("d", "p", Position::Before("b")).ok());
  EXPECT_EQ(Children("p"), (Ids{"d", "b", "c", "a"}));
  // Across parents.
  ASSERT_TRUE(db_->Move("b", "q", Position::Before("q1")).ok());
  EXPECT_EQ(Children("p"), (Ids{"d", "c", "a"}));
  EXPECT_EQ(Children("q"), (Ids{"b", "q1"}));
  // To the roots and back; the title follows the root-ness.
  ASSERT_OK_AND_ASSIGN(Node moved, db_->Move("c", "", Position::First()));
  EXPECT_EQ(moved.parent_id, "");
  EXPECT_EQ(moved.title, "c");
  EXPECT_EQ(moved.version, 2);
  EXPECT_EQ(Roots(), (Ids{"c", "p", "q"}));
  ASSERT_OK_AND_ASSIGN(moved, db_->Move("c", "q", Position::Last()));
  EXPECT_EQ(moved.title, "");
  EXPECT_EQ(Get("c").title, "");
  EXPECT_EQ(Get("c").version, 3);

  // Relative to itself or to a node elsewhere.
  EXPECT_TRUE(db_->Move("a", "p", Position::After("a")).status().IsInvalidArgument());
  EXPECT_TRUE(db_->Move("a", "p", Position::After("q1")).status().IsInvalidArgument());
  EXPECT_TRUE(db_->Move("a", "nowhere", Position::Last()).status().IsNotFound());
  EXPECT_TRUE(db_->Move("nobody", "p", Position::Last()).status().IsNotFound());
  EXPECT_OK(db_->CheckIntegrity());
}

// Inserting again and again at one spot grows the keys until the siblings are
// renumbered; the order must stay exactly what a plain vector says.
TEST_F(DatabaseTest, OrderingSurvivesThousandsOfInsertsAtOneSpot) {
  Options options;
  options.durability = Durability::kNormal;  // thousands of commits
  Open(options);
  const size_t max_len = db_->options().max_order_key_length;

  Create(Make("p"));
  Create(Make("first", "p"));
  Create(Make("last", "p"));
  std::vector<std::string> model = {"first", "last"};
  const int64_t seq_before = db_->LastChangeSeq();

  auto check_key = [&](const Node& n) { ASSERT_LE(n.order_key.size(), max_len) << n.id; };
  constexpr int kInserts = 5000;
  // Always right after the same sibling: each new node lands before the
  // previous one.
  for (int i = 0; i < kInserts; ++i) {
    const std::string id = "after-" + std::to_string(i);
    ASSERT_OK_AND_ASSIGN(Node n, db_->Create(At(Make(id, "p"), Position::After("first"))));
    ASSERT_NO_FATAL_FAILURE(check_key(n));
    model.insert(model.begin() + 1, id);
  }
  ASSERT_EQ(Children("p"), model);
  // Always right before the same sibling.
  for (int i = 0; i < kInserts; ++i) {
    const std::string id = "before-" + std::to_string(i);
    ASSERT_OK_AND_ASSIGN(Node n, db_->Create(At(Make(id, "p"), Position::Before("last"))));
    ASSERT_NO_FATAL_FAILURE(check_key(n));
    model.insert(model.end() - 1, id);
  }

  ASSERT_OK_AND_ASSIGN(std::vector<Node> kids, db_->Children("p"));
  ASSERT_EQ(IdsOf(kids), model);
  for (size_t i = 0; i < kids.size(); ++i) {
    ASSERT_LE(kids[i].order_key.size(), max_len) << kids[i].id;
    ASSERT_TRUE(order_key::IsValid(kids[i].order_key)) << kids[i].order_key;
    if (i > 0) ASSERT_LT(kids[i - 1].order_key, kids[i].order_key);
  }
  EXPECT_OK(db_->CheckIntegrity());

  // The keys were renumbered along the way, and each renumbering is logged.
  int renumbered = 0;
  for (const Change& c : AllChanges(seq_before)) {
    if (c.op == ChangeOp::kMove && c.payload.find("\"renumber\":true") != std::string::npos) {
      ++renumbered;
    }
  }
  EXPECT_GT(renumbered, 0);

  // And the order survives a reopen.
  Open(options);
  EXPECT_EQ(Children("p"), model);
}

TEST_F(DatabaseTest, ShortKeyLimitRenumbersOftenAndKeepsOrder) {
  Options options;
  options.durability = Durability::kNormal;
  options.max_order_key_length = 4;
  Open(options);
  Create(Make("p"));
  std::vector<std::string> model;
  for (int i = 0; i < 10; ++i) {
    Create(Make("k" + std::to_string(i), "p"));
    model.push_back("k" + std::to_string(i));
  }
  // A mix of inserts and moves, always squeezing into the same gaps.
  for (int i = 0; i < 300; ++i) {
    const std::string id = "n" + std::to_string(i);
    const std::string& anchor = model[i % 2 == 0 ? 4 : 5];
    const Position pos = i % 2 == 0 ? Position::After(anchor) : Position::Before(anchor);
    ASSERT_OK_AND_ASSIGN(Node n, db_->Create(At(Make(id, "p"), pos)));
    ASSERT_LE(n.order_key.size(), 4u);
    auto at = std::find(model.begin(), model.end(), anchor);
    model.insert(i % 2 == 0 ? at + 1 : at, id);
    if (i % 10 == 9) {
      // Move the last child right behind model[3].
      const std::string mover = model.back();
      ASSERT_TRUE(db_->Move(mover, "p", Position::After(model[3])).ok());
      model.pop_back();
      model.insert(model.begin() + 4, mover);
    }
  }
  ASSERT_OK_AND_ASSIGN(std::vector<Node> kids, db_->Children("p"));
  EXPECT_EQ(IdsOf(kids), model);
  for (const Node& k : kids) EXPECT_LE(k.order_key.size(), 4u) << k.id;
  EXPECT_OK(db_->CheckIntegrity());
}

// ---- Optimistic concurrency -------------------------------------------------

TEST_F(DatabaseTest, StaleVersionsConflictAndCarryTheCurrentNode) {
  Create(Make("p"));
  Create(Make("q"));
  Create(Make("n", "p", "v1"));
  NodePatch patch;
  patch.content = "v2";
  ASSERT_OK_AND_ASSIGN(Node n, db_->Update("n", patch, 1));
  EXPECT_EQ(n.version, 2);
  const int64_t seq = db_->LastChangeSeq();

  auto expect_conflict = [&](const Status& st, const char* what) {
    EXPECT_TRUE(st.IsConflict()) << what << ": " << st.ToString();
    ASSERT_NE(st.current_node(), nullptr) << what;
    EXPECT_EQ(st.current_node()->id, "n") << what;
    EXPECT_EQ(st.current_node()->version, 2) << what;
    EXPECT_EQ(st.current_node()->content, "v2") << what;
  };
  patch.content = "stale write";
  expect_conflict(db_->Update("n", patch, 1).status(), "update");
  expect_conflict(db_->Move("n", "q", Position::Last(), 1).status(), "move");
  expect_conflict(db_->Delete("n", 1).status(), "delete");
  expect_conflict(db_->SetLifecycle("n", Lifecycle::kArchived, 1).status(), "set lifecycle");
  expect_conflict(db_->Update("n", patch, 3).status(), "future version");
  WriteBatch batch;
  batch.Update("n", patch, 1);
  expect_conflict(db_->Write(batch).status(), "batch");

  // Nothing changed.
  EXPECT_EQ(db_->LastChangeSeq(), seq);
  EXPECT_EQ(Get("n").content, "v2");
  EXPECT_EQ(Get("n").parent_id, "p");
  EXPECT_EQ(Get("n").lifecycle, Lifecycle::kActive);

  // The right version, or none, succeeds.
  ASSERT_OK_AND_ASSIGN(n, db_->Move("n", "q", Position::Last(), 2));
  EXPECT_EQ(n.version, 3);
  ASSERT_OK_AND_ASSIGN(int64_t changed, db_->SetLifecycle("n", Lifecycle::kArchived, 3));
  EXPECT_EQ(changed, 1);
  EXPECT_EQ(Get("n").version, 4);
  patch.content = "any version";
  ASSERT_OK_AND_ASSIGN(n, db_->Update("n", patch, kAnyVersion));
  EXPECT_EQ(n.version, 5);
  ASSERT_OK_AND_ASSIGN(int64_t removed, db_->Delete("n", 5));
  EXPECT_EQ(removed, 1);
  EXPECT_FALSE(Exists("n"));
}

TEST_F(DatabaseTest, UpdateSemantics) {
  Create(Make("r", "", "# Old title"));
  NodePatch nothing;
  ASSERT_OK_AND_ASSIGN(Node n, db_->Update("r", nothing));
  EXPECT_EQ(n.version, 1);  // an empty patch is not a change
  NodePatch same;
  same.content = "# Old title";
  ASSERT_OK_AND_ASSIGN(n, db_->Update("r", same));
  EXPECT_EQ(n.version, 1);  // nor is writing what is there
  const int64_t seq = db_->LastChangeSeq();

  NodePatch p;
  p.content = "# New title";
  p.properties = R"({"k":1})";
  ASSERT_OK_AND_ASSIGN(n, db_->Update("r", p));
  EXPECT_EQ(n.version, 2);
  EXPECT_EQ(n.title, "New title");
  EXPECT_EQ(n.properties, R"({"k":1})");
  EXPECT_GE(n.modified_at, n.created_at);
  auto changes = AllChanges(seq);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].op, ChangeOp::kUpdate);
  EXPECT_EQ(changes[0].version, 2);
  auto payload = nlohmann::json::parse(changes[0].payload);
  EXPECT_EQ(payload["fields"], nlohmann::json({"content", "properties"}));

  NodePatch to_task;
  to_task.node_type = "task";
  to_task.properties = R"({"task":{"status":"done"}})";
  ASSERT_OK_AND_ASSIGN(n, db_->Update("r", to_task));
  EXPECT_EQ(n.node_type, "task");

  NodePatch bad_task;
  bad_task.properties = R"({"task":{"status":"maybe"}})";
  auto bad = db_->Update("r", bad_task);
  EXPECT_TRUE(bad.status().IsInvalidArgument());
  EXPECT_NE(bad.status().message().find("task.status"), std::string::npos);

  NodePatch to_date;
  to_date.node_type = "date";
  EXPECT_TRUE(db_->Update("r", to_date).status().IsInvalidArgument());
  EXPECT_TRUE(db_->Update("missing", p).status().IsNotFound());
  EXPECT_EQ(Get("r").version, 3);
}

// ---- Moves that would form a cycle --------------------------------------------

TEST_F(DatabaseTest, MoveRejectsCycles) {
  Create(Make("a"));
  Create(Make("b", "a"));
  Create(Make("c", "b"));
  Create(Make("d", "c"));
  const int64_t seq = db_->LastChangeSeq();

  auto self = db_->Move("a", "a", Position::Last());
  EXPECT_TRUE(self.status().IsInvalidArgument()) << self.status().ToString();
  for (const char* below : {"b", "c", "d"}) {
    auto st = db_->Move("a", below, Position::Last()).status();
    EXPECT_TRUE(st.IsInvalidArgument()) << below << ": " << st.ToString();
    EXPECT_NE(st.message().find("descendant"), std::string::npos) << st.message();
  }
  EXPECT_TRUE(db_->Move("b", "d", Position::Last()).status().IsInvalidArgument());
  EXPECT_EQ(db_->LastChangeSeq(), seq);
  EXPECT_EQ(Get("b").parent_id, "a");

  // Moving down a branch that is not below it is fine.
  ASSERT_TRUE(db_->Move("d", "a", Position::First()).ok());
  ASSERT_TRUE(db_->Move("b", "d", Position::Last()).ok());
  ASSERT_OK_AND_ASSIGN(std::vector<Node> up, db_->Ancestors("c"));
  EXPECT_EQ(IdsOf(up), (Ids{"a", "d", "b"}));
  EXPECT_OK(db_->CheckIntegrity());
}

// ---- Delete -------------------------------------------------------------------

TEST_F(DatabaseTest, DeleteRemovesTheSubtreeWithOneChangePerNode) {
  Create(Make("keep"));
  Create(Make("a"));
  Create(Make("b", "a"));
  Create(Make("c", "a"));
  Create(Make("d", "c"));
  Create(Make("e", "d"));
  Create(Make("other"));
  Create(Make("x", "keep", "mentions [[c]] and [[keep]]"));
  ASSERT_OK(db_->AddEdge({"b", "other", "related", "{}"}));
  ASSERT_OK(db_->AddEdge({"other", "d", "related", "{}"}));
  ASSERT_OK(db_->AddToCollection("e", "col"));
  const int64_t seq = db_->LastChangeSeq();

  ASSERT_OK_AND_ASSIGN(int64_t removed, db_->Delete("a"));
  EXPECT_EQ(removed, 5);
  for (const char* id : {"a", "b", "c", "d", "e"}) {
    EXPECT_TRUE(db_->Get(id).status().IsNotFound()) << id;
  }
  EXPECT_TRUE(Exists("keep"));
  EXPECT_TRUE(Exists("other"));

  const std::vector<Change> changes = AllChanges(seq);
  ASSERT_EQ(changes.size(), 5u);
  std::set<std::string> deleted;
  for (size_t i = 0; i < changes.size(); ++i) {
    EXPECT_EQ(changes[i].op, ChangeOp::kDelete);
    EXPECT_EQ(changes[i].version, 0);
    EXPECT_EQ(changes[i].seq, seq + 1 + static_cast<int64_t>(i));
    deleted.insert(changes[i].node_id);
  }
  EXPECT_EQ(deleted, (std::set<std::string>{"a", "b", "c", "d", "e"}));

  // Edges out of the subtree and structural edges into it are gone...
  ASSERT_OK_AND_ASSIGN(auto out_of_other, db_->Edges("other", true));
  EXPECT_TRUE(out_of_other.empty());
  ASSERT_OK_AND_ASSIGN(auto into_other, db_->Edges("other", false));
  EXPECT_TRUE(into_other.empty());
  EXPECT_TRUE(db_->CollectionMembers("col")->empty());
  // ...but mentions of a deleted node stay, to resolve if it comes back.
  ASSERT_OK_AND_ASSIGN(auto backlinks, db_->Backlinks("c"));
  EXPECT_EQ(IdsOf(backlinks), (Ids{"x"}));
  EXPECT_OK(db_->CheckIntegrity());

  EXPECT_TRUE(db_->Delete("a").status().IsNotFound());
}

TEST_F(DatabaseTest, DeleteInAFailedBatchRemovesNothing) {
  Create(Make("a"));
  Create(Make("b", "a"));
  WriteBatch batch;
  batch.Delete("a");
  batch.Create(Make("z", "missing-parent"));
  EXPECT_TRUE(db_->Write(batch).status().IsNotFound());
  EXPECT_TRUE(Exists("a"));
  EXPECT_TRUE(Exists("b"));
  EXPECT_EQ(Children("a"), (Ids{"b"}));
}

// ---- Change log -----------------------------------------------------------------

TEST_F(DatabaseTest, ChangeLogIsGaplessAndPageable) {
  EXPECT_EQ(db_->LastChangeSeq(), 0);
  WriteOptions editor;
  editor.origin = "editor-1";
  Create(Make("a"), editor);
  Create(Make("b", "a"));
  NodePatch p;
  p.content = "changed";
  ASSERT_TRUE(db_->Update("b", p).ok());
  ASSERT_TRUE(db_->Move("b", "", Position::Last()).ok());
  ASSERT_OK(db_->AddEdge({"a", "b", "related", "{}"}));
  ASSERT_OK(db_->RemoveEdge("a", "b", "related"));
  // Failed writes use no sequence numbers.
  EXPECT_FALSE(db_->Create(Make("a")).ok());
  EXPECT_FALSE(db_->Update("b", p, 99).ok());
  ASSERT_TRUE(db_->Delete("b").ok());

  const std::vector<Change> all = AllChanges();
  ASSERT_EQ(all.size(), 7u);
  const std::vector<ChangeOp> ops = {ChangeOp::kCreate, ChangeOp::kCreate,  ChangeOp::kUpdate,
                                     ChangeOp::kMove,   ChangeOp::kEdgeAdd, ChangeOp::kEdgeRemove,
                                     ChangeOp::kDelete};
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].seq, static_cast<int64_t>(i + 1));
    EXPECT_EQ(all[i].op, ops[i]) << i << ": " << ChangeOpName(all[i].op);
    EXPECT_GT(all[i].timestamp, 0);
    EXPECT_FALSE(nlohmann::json::parse(all[i].payload, nullptr, false).is_discarded());
  }
  EXPECT_EQ(all[0].node_id, "a");
  EXPECT_EQ(all[0].origin, "editor-1");
  EXPECT_EQ(all[1].origin, "");
  EXPECT_EQ(all[2].node_id, "b");
  EXPECT_EQ(all[2].version, 2);
  EXPECT_EQ(all[3].version, 3);
  EXPECT_EQ(nlohmann::json::parse(all[3].payload)["from_parent_id"], "a");
  EXPECT_EQ(all[6].version, 0);
  EXPECT_EQ(db_->LastChangeSeq(), 7);

  // Paging.
  ASSERT_OK_AND_ASSIGN(auto page, db_->ChangesSince(2, 3));
  ASSERT_EQ(page.size(), 3u);
  EXPECT_EQ(page[0].seq, 3);
  EXPECT_EQ(page[2].seq, 5);
  ASSERT_OK_AND_ASSIGN(auto tail, db_->ChangesSince(7));
  EXPECT_TRUE(tail.empty());
  EXPECT_EQ(std::string(ChangeOpName(ChangeOp::kEdgeRemove)), "edge_remove");
  EXPECT_OK(db_->CheckIntegrity());
}

// ---- Lifecycle ------------------------------------------------------------------

TEST_F(DatabaseTest, ArchivingHidesASubtree) {
  Create(Make("p"));
  Create(Make("a", "p"));
  Create(Make("a1", "a"));
  Create(Make("a2", "a"));
  Create(Make("b", "p"));
  const int64_t seq = db_->LastChangeSeq();

  ASSERT_OK_AND_ASSIGN(int64_t changed, db_->SetLifecycle("a", Lifecycle::kArchived));
  EXPECT_EQ(changed, 3);
  EXPECT_EQ(AllChanges(seq).size(), 3u);
  for (const char* id : {"a", "a1", "a2"}) {
    EXPECT_EQ(Get(id).lifecycle, Lifecycle::kArchived) << id;
    EXPECT_EQ(Get(id).version, 2) << id;
  }
  EXPECT_EQ(Get("b").lifecycle, Lifecycle::kActive);
  EXPECT_EQ(Children("p"), (Ids{"b"}));
  EXPECT_EQ(Children("p", true), (Ids{"a", "b"}));
  EXPECT_EQ(Children("a"), Ids{});
  EXPECT_EQ(Children("a", true), (Ids{"a1", "a2"}));
  EXPECT_EQ(Walk("p"), (std::vector<std::pair<std::string, int>>{{"p", 0}, {"b", 1}}));
  SubtreeOptions all;
  all.include_archived = true;
  EXPECT_EQ(Walk("p", all).size(), 5u);

  // Archiving again changes nothing.
  ASSERT_OK_AND_ASSIGN(changed, db_->SetLifecycle("a", Lifecycle::kArchived));
  EXPECT_EQ(changed, 0);
  // Restore one leaf, then the whole subtree.
  ASSERT_OK_AND_ASSIGN(changed, db_->SetLifecycle("a2", Lifecycle::kActive));
  EXPECT_EQ(changed, 1);
  ASSERT_OK_AND_ASSIGN(changed, db_->SetLifecycle("a", Lifecycle::kActive));
  EXPECT_EQ(changed, 2);
  EXPECT_EQ(Children("p"), (Ids{"a", "b"}));
  EXPECT_EQ(Children("a"), (Ids{"a1", "a2"}));

  // Trashed (deleted-lifecycle) roots are hidden from Roots() as well.
  ASSERT_TRUE(db_->SetLifecycle("p", Lifecycle::kDeleted).ok());
  EXPECT_EQ(Roots(), Ids{});
  EXPECT_EQ(Roots(true), (Ids{"p"}));
  EXPECT_TRUE(db_->SetLifecycle("nope", Lifecycle::kArchived).status().IsNotFound());
  EXPECT_OK(db_->CheckIntegrity());
}

TEST_F(DatabaseTest, ListLimit) {
  Create(Make("p"));
  for (int i = 0; i < 5; ++i) Create(Make("c" + std::to_string(i), "p"));
  ListOptions o;
  o.limit = 2;
  ASSERT_OK_AND_ASSIGN(auto two, db_->Children("p", o));
  EXPECT_EQ(IdsOf(two), (Ids{"c0", "c1"}));
  ASSERT_OK_AND_ASSIGN(auto roots, db_->Roots(o));
  EXPECT_EQ(roots.size(), 1u);
  EXPECT_TRUE(db_->Children("nope").status().IsNotFound());
}

TEST(LifecycleNames, RoundTrip) {
  for (Lifecycle l : {Lifecycle::kActive, Lifecycle::kArchived, Lifecycle::kDeleted}) {
    EXPECT_EQ(ParseLifecycle(LifecycleName(l)), l);
  }
  EXPECT_EQ(ParseLifecycle("trash"), std::nullopt);
}

// ---- Subtrees and ancestors ---------------------------------------------------------

class TreeTest : public DatabaseTest {
 protected:
  // r
  // ├── a
  // │   ├── a1
  // │   │   └── a1x
  // │   └── a2
  // ├── b
  // └── c
  //     └── c1
  void SetUp() override {
    DatabaseTest::SetUp();
    Create(Make("r"));
    Create(Make("b", "r"));
    Create(At(Make("a", "r"), Position::First()));
    Create(Make("c", "r"));
    Create(Make("a2", "a"));
    Create(At(Make("a1", "a"), Position::Before("a2")));
    Create(Make("a1x", "a1"));
    Create(Make("c1", "c"));
  }
  using Visits = std::vector<std::pair<std::string, int>>;
};

TEST_F(TreeTest, VisitSubtreeIsDepthFirstPreOrder) {
  EXPECT_EQ(
      Walk("r"),
      (Visits{
          {"r", 0}, {"a", 1}, {"a1", 2}, {"a1x", 3}, {"a2", 2}, {"b", 1}, {"c", 1}, {"c1", 2}}));
  EXPECT_EQ(Walk("a"), (Visits{{"a", 0}, {"a1", 1}, {"a1x", 2}, {"a2", 1}}));
  EXPECT_EQ(Walk("c1"), (Visits{{"c1", 0}}));
}

TEST_F(TreeTest, VisitSubtreeRespectsMaxDepth) {
  SubtreeOptions o;
  o.max_depth = 0;
  EXPECT_EQ(Walk("r", o), (Visits{{"r", 0}}));
  o.max_depth = 1;
  EXPECT_EQ(Walk("r", o), (Visits{{"r", 0}, {"a", 1}, {"b", 1}, {"c", 1}}));
  o.max_depth = 2;
  EXPECT_EQ(Walk("r", o),
            (Visits{{"r", 0}, {"a", 1}, {"a1", 2}, {"a2", 2}, {"b", 1}, {"c", 1}, {"c1", 2}}));
  o.max_depth = 3;
  EXPECT_EQ(Walk("r", o).size(), 8u);
}

TEST_F(TreeTest, VisitSubtreeStopsEarly) {
  EXPECT_EQ(Walk("r", {}, 1), (Visits{{"r", 0}}));
  EXPECT_EQ(Walk("r", {}, 4), (Visits{{"r", 0}, {"a", 1}, {"a1", 2}, {"a1x", 3}}));
  EXPECT_TRUE(db_->VisitSubtree("nope", {}, [](const Node&, int) { return true; }).IsNotFound());
  // The reader is released: later reads still work.
  EXPECT_EQ(Children("r"), (Ids{"a", "b", "c"}));
}

TEST_F(TreeTest, VisitSubtreeSeesMovesInSiblingOrder) {
  ASSERT_TRUE(db_->Move("c", "r", Position::First()).ok());
  ASSERT_TRUE(db_->Move("a1x", "c1", Position::Last()).ok());
  EXPECT_EQ(
      Walk("r"),
      (Visits{
          {"r", 0}, {"c", 1}, {"c1", 2}, {"a1x", 3}, {"a", 1}, {"a1", 2}, {"a2", 2}, {"b", 1}}));
}

TEST_F(TreeTest, AncestorsAreRootFirst) {
  ASSERT_OK_AND_ASSIGN(auto up, db_->Ancestors("a1x"));
  EXPECT_EQ(IdsOf(up), (Ids{"r", "a", "a1"}));
  ASSERT_OK_AND_ASSIGN(up, db_->Ancestors("c"));
  EXPECT_EQ(IdsOf(up), (Ids{"r"}));
  ASSERT_OK_AND_ASSIGN(up, db_->Ancestors("r"));
  EXPECT_TRUE(up.empty());
  EXPECT_TRUE(db_->Ancestors("nope").status().IsNotFound());
}

// ---- Mentions and edges -------------------------------------------------------------

TEST_F(DatabaseTest, BacklinksFollowContent) {
  Create(Make("target"));
  Create(Make("u"));
  Create(Make("x1", "", "see [[target]] and @u"));
  Create(Make("x2", "u", "also nodespace://target, [[target|again]]"));
  Create(Make("x3", "", "`[[target]]` in code does not count"));
  Create(Make("x4", "", "self [[x4]] does not count"));

  ASSERT_OK_AND_ASSIGN(auto links, db_->Backlinks("target"));
  EXPECT_EQ(IdsOf(links), (Ids{"x1", "x2"}));
  ASSERT_OK_AND_ASSIGN(links, db_->Backlinks("u"));
  EXPECT_EQ(IdsOf(links), (Ids{"x1"}));
  ASSERT_OK_AND_ASSIGN(links, db_->Backlinks("x4"));
  EXPECT_TRUE(links.empty());
  ASSERT_OK_AND_ASSIGN(auto out, db_->Edges("x1", true, kEdgeMentions));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].to_id, "target");
  EXPECT_EQ(out[1].to_id, "u");

  // Editing the content re-derives the mentions.
  NodePatch p;
  p.content = "now only @u";
  ASSERT_TRUE(db_->Update("x1", p).ok());
  ASSERT_OK_AND_ASSIGN(links, db_->Backlinks("target"));
  EXPECT_EQ(IdsOf(links), (Ids{"x2"}));
  p.content = "nothing at all";
  ASSERT_TRUE(db_->Update("x2", p).ok());
  ASSERT_OK_AND_ASSIGN(links, db_->Backlinks("target"));
  EXPECT_TRUE(links.empty());
  p.content = "[[target]] again";
  ASSERT_TRUE(db_->Update("x3", p).ok());
  ASSERT_OK_AND_ASSIGN(links, db_->Backlinks("target"));
  EXPECT_EQ(IdsOf(links), (Ids{"x3"}));

  // A mention of a node that does not exist yet resolves once it does.
  Create(Make("early", "", "waiting for [[later]]"));
  Create(Make("later"));
  ASSERT_OK_AND_ASSIGN(links, db_->Backlinks("later"));
  EXPECT_EQ(IdsOf(links), (Ids{"early"}));

  // Trashed nodes do not link.
  ASSERT_TRUE(db_->SetLifecycle("early", Lifecycle::kDeleted).ok());
  ASSERT_OK_AND_ASSIGN(links, db_->Backlinks("later"));
  EXPECT_TRUE(links.empty());
}

TEST_F(DatabaseTest, EdgesAreValidated) {
  Create(Make("a"));
  Create(Make("b"));
  const int64_t seq = db_->LastChangeSeq();
  auto code = [&](const Edge& e) { return db_->AddEdge(e).code(); };
  EXPECT_EQ(code({"a", "b", kEdgeHasChild, "{}"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({"a", "b", kEdgeMentions, "{}"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({"a", "a", "related", "{}"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({"a", "b", "", "{}"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({"a", "b", "related", "[1]"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({"a", "b", "related", "{oops"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({"a", "ghost", "related", "{}"}), StatusCode::kNotFound);
  EXPECT_EQ(code({"ghost", "a", "related", "{}"}), StatusCode::kNotFound);
  EXPECT_EQ(code({"", "a", "related", "{}"}), StatusCode::kNotFound);
  EXPECT_EQ(code({"a", "b", kEdgeMemberOf, "{}"}),
            StatusCode::kInvalidArgument);  // not a collection
  EXPECT_EQ(db_->LastChangeSeq(), seq);

  ASSERT_OK(db_->AddEdge({"a", "b", "related", R"({"weight": 2})"}));
  ASSERT_OK_AND_ASSIGN(auto out, db_->Edges("a", true));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to_id, "b");
  EXPECT_EQ(out[0].type, "related");
  EXPECT_EQ(out[0].properties, R"({"weight":2})");
  ASSERT_OK_AND_ASSIGN(auto in, db_->Edges("b", false, "related"));
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].from_id, "a");
  ASSERT_OK_AND_ASSIGN(auto none, db_->Edges("b", false, "other-type"));
  EXPECT_TRUE(none.empty());
  // Adding again replaces the properties; an empty string means {}.
  ASSERT_OK(db_->AddEdge({"a", "b", "related", ""}));
  ASSERT_OK_AND_ASSIGN(out, db_->Edges("a", true));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].properties, "{}");

  EXPECT_TRUE(db_->RemoveEdge("a", "b", kEdgeMentions).IsInvalidArgument());
  EXPECT_TRUE(db_->RemoveEdge("a", "b", "other-type").IsNotFound());
  ASSERT_OK(db_->RemoveEdge("a", "b", "related"));
  EXPECT_TRUE(db_->RemoveEdge("a", "b", "related").IsNotFound());
  ASSERT_OK_AND_ASSIGN(out, db_->Edges("a", true));
  EXPECT_TRUE(out.empty());
}

// ---- Collections ----------------------------------------------------------------------

TEST_F(DatabaseTest, CollectionsAreCreatedAlongTheirPath) {
  Create(Make("n"));
  Create(Make("m"));
  ASSERT_OK(db_->AddToCollection("n", "a:b:c"));

  ASSERT_OK_AND_ASSIGN(auto paths, db_->CollectionsOf("n"));
  EXPECT_EQ(paths, (std::vector<std::string>{"a:b:c"}));
  ASSERT_OK_AND_ASSIGN(auto members, db_->CollectionMembers("a:b:c"));
  EXPECT_EQ(IdsOf(members), (Ids{"n"}));
  ASSERT_OK_AND_ASSIGN(auto in_b, db_->CollectionMembers("a:b"));
  ASSERT_EQ(in_b.size(), 1u);
  EXPECT_EQ(in_b[0].node_type, "collection");
  EXPECT_EQ(in_b[0].content, "c");
  ASSERT_OK_AND_ASSIGN(auto in_a, db_->CollectionMembers("a"));
  ASSERT_EQ(in_a.size(), 1u);
  EXPECT_EQ(in_a[0].content, "b");
  ASSERT_OK_AND_ASSIGN(auto c_paths, db_->CollectionsOf(in_b[0].id));
  EXPECT_EQ(c_paths, (std::vector<std::string>{"a:b"}));

  auto count_collections = [&] {
    ListOptions all;
    all.include_archived = true;
    auto roots = db_->Roots(all);
    return std::count_if(roots->begin(), roots->end(),
                         [](const Node& r) { return r.node_type == "collection"; });
  };
  EXPECT_EQ(count_collections(), 3);

  // Existing collections are reused.
  ASSERT_OK(db_->AddToCollection("m", "a:b"));
  ASSERT_OK(db_->AddToCollection("m", "a:b:c"));
  ASSERT_OK(db_->AddToCollection("n", "a:x"));
  EXPECT_EQ(count_collections(), 4);
  ASSERT_OK_AND_ASSIGN(paths, db_->CollectionsOf("n"));
  EXPECT_EQ(paths, (std::vector<std::string>{"a:b:c", "a:x"}));
  ASSERT_OK_AND_ASSIGN(paths, db_->CollectionsOf("m"));
  EXPECT_EQ(paths, (std::vector<std::string>{"a:b", "a:b:c"}));
  ASSERT_OK_AND_ASSIGN(members, db_->CollectionMembers("a:b:c"));
  EXPECT_EQ(IdsOf(members), (Ids{"m", "n"}));
  // Adding twice is harmless.
  ASSERT_OK(db_->AddToCollection("n", "a:b:c"));
  ASSERT_OK_AND_ASSIGN(members, db_->CollectionMembers("a:b:c"));
  EXPECT_EQ(members.size(), 2u);

  ASSERT_OK(db_->RemoveFromCollection("n", "a:b:c"));
  ASSERT_OK_AND_ASSIGN(paths, db_->CollectionsOf("n"));
  EXPECT_EQ(paths, (std::vector<std::string>{"a:x"}));
  EXPECT_TRUE(db_->RemoveFromCollection("n", "a:b:c").IsNotFound());
  EXPECT_TRUE(db_->RemoveFromCollection("n", "zzz").IsNotFound());

  ASSERT_OK_AND_ASSIGN(auto none, db_->CollectionsOf("nobody"));
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(db_->CollectionMembers("nope").status().IsNotFound());
  EXPECT_TRUE(db_->CollectionMembers("a:nope").status().IsNotFound());
  EXPECT_OK(db_->CheckIntegrity());
}

TEST_F(DatabaseTest, BadCollectionRequestsCreateNothing) {
  Create(Make("n"));
  const int64_t seq = db_->LastChangeSeq();
  EXPECT_TRUE(db_->AddToCollection("n", "").IsInvalidArgument());
  EXPECT_TRUE(db_->AddToCollection("n", "a::b").IsInvalidArgument());
  EXPECT_TRUE(db_->AddToCollection("n", "a:").IsInvalidArgument());
  // An unknown member fails after the path was resolved: all rolled back.
  EXPECT_TRUE(db_->AddToCollection("ghost", "x:y").IsNotFound());
  EXPECT_EQ(db_->LastChangeSeq(), seq);
  EXPECT_EQ(Roots(true), (Ids{"n"}));
}

// ---- Bad input ------------------------------------------------------------------------

TEST_F(DatabaseTest, RejectsBadProperties) {
  auto with_props = [&](const std::string& type, const std::string& props) {
    NewNode n = Make("n");
    n.node_type = type;
    n.properties = props;
    return db_->Create(n).status();
  };
  Status st = with_props("text", "{bad");
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_EQ(st.message(), "properties are not valid JSON");
  st = with_props("text", "[1,2]");
  EXPECT_EQ(st.message(), "properties must be a JSON object");
  st = with_props("text", "\"str\"");
  EXPECT_EQ(st.message(), "properties must be a JSON object");
  st = with_props("task", R"({"task":{"status":"later"}})");
  EXPECT_EQ(st.message(),
            "task.status: expected one of [open, in_progress, done, cancelled], got \"later\"");
  st = with_props("task", R"({"task":{"due":"May 3"}})");
  EXPECT_EQ(st.message(), "task.due: expected a date YYYY-MM-DD, got \"May 3\"");
  st = with_props("task", R"({"task":{"priority":"high"}})");
  EXPECT_EQ(st.message(), "task.priority: expected an integer, got \"high\"");
  st = with_props("task", R"({"task":"open"})");
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_FALSE(Exists("n"));
  EXPECT_EQ(db_->LastChangeSeq(), 0);
  EXPECT_OK(with_props("task", R"({"task":{"status":"open","due":"2024-05-03","priority":1}})"));
}

TEST_F(DatabaseTest, UserSchemasValidateTheirType) {
  NewNode schema = Make("book-schema");
  schema.node_type = "schema";
  schema.properties =
      R"({"schema":{"for":"book","fields":{"pages":{"type":"integer","required":true}}}})";
  Create(schema);
  NewNode book = Make("dune");
  book.node_type = "book";
  book.properties = R"({"book":{"pages":"many"}})";
  EXPECT_EQ(db_->Create(book).status().message(), "book.pages: expected an integer, got \"many\"");
  book.properties = "{}";
  EXPECT_EQ(db_->Create(book).status().message(), "book.pages: required property missing");
  book.properties = R"({"book":{"pages":412}})";
  Create(book);

  NewNode bad_schema = Make("bad-schema");
  bad_schema.node_type = "schema";
  bad_schema.properties = R"({"schema":{"for":"x","fields":{"f":{"type":"float"}}}})";
  EXPECT_EQ(db_->Create(bad_schema).status().message(),
            "schema.fields.f.type: unknown field type 'float'");

  // An archived schema no longer applies.
  ASSERT_TRUE(db_->SetLifecycle("book-schema", Lifecycle::kArchived).ok());
  book.id = "no-pages";
  book.properties = "{}";
  Create(book);
}

TEST_F(DatabaseTest, RejectsBadContentAndLimits) {
  Options options;
  options.max_content_bytes = 10;
  options.max_properties_bytes = 20;
  Open(options);
  Create(Make("ok", "", std::string(10, 'x')));
  Status st = db_->Create(Make("big", "", std::string(11, 'x'))).status();
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_EQ(st.message(), "content is 11 bytes, the limit is 10");
  NodePatch grow;
  grow.content = std::string(11, 'y');
  EXPECT_TRUE(db_->Update("ok", grow).status().IsInvalidArgument());

  st = db_->Create(Make("utf", "", std::string("ab\xC3\x28", 4))).status();
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_EQ(st.message(), "content is not valid UTF-8 (byte 2)");
  NodePatch bad_utf8;
  bad_utf8.content = "\xED\xA0\x80";
  EXPECT_TRUE(db_->Update("ok", bad_utf8).status().IsInvalidArgument());

  NewNode props = Make("props");
  props.properties = R"({"k":"0123456789abcdef"})";
  st = db_->Create(props).status();
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
  NewNode bad_utf8_props = Make("props2");
  bad_utf8_props.properties = "{\"k\":\"\xFF\"}";
  EXPECT_TRUE(db_->Create(bad_utf8_props).status().IsInvalidArgument());

  EXPECT_EQ(Get("ok").content, std::string(10, 'x'));
  EXPECT_EQ(Get("ok").version, 1);
  EXPECT_EQ(Roots(), (Ids{"ok"}));
}

TEST_F(DatabaseTest, RejectsBadIds) {
  for (const std::string& bad :
       {std::string("has space"), std::string("tab\there"), std::string("new\nline"),
        std::string("ctl\x01"), std::string(" lead"), std::string(257, 'x'),
        std::string("bad\xFFutf8")}) {
    Status st = db_->Create(Make(bad, "", "x")).status();
    EXPECT_TRUE(st.IsInvalidArgument()) << "'" << bad << "': " << st.ToString();
  }
  EXPECT_TRUE(Exists(Create(Make(std::string(256, 'x'), "", "x")).id));  // the limit itself
  // Empty ids name nothing.
  EXPECT_TRUE(db_->Get("").status().IsNotFound());
  EXPECT_TRUE(db_->Update("", NodePatch{}).status().IsNotFound());
  EXPECT_TRUE(db_->Delete("").status().IsNotFound());
  EXPECT_TRUE(db_->Move("", "", Position::Last()).status().IsNotFound());
  // Bad node types.
  NewNode t = Make("typed");
  t.node_type = "";
  EXPECT_TRUE(db_->Create(t).status().IsInvalidArgument());
  t.node_type = "two words";
  EXPECT_TRUE(db_->Create(t).status().IsInvalidArgument());
  t.node_type = std::string(65, 't');
  EXPECT_TRUE(db_->Create(t).status().IsInvalidArgument());
  // Bad parents, versions.
  EXPECT_TRUE(db_->Create(Make("selfish", "selfish")).status().IsInvalidArgument());
  EXPECT_TRUE(db_->Create(Make("orphan", "no such parent")).status().IsInvalidArgument());
  EXPECT_TRUE(db_->Create(Make("orphan", "nobody")).status().IsNotFound());
  NewNode v0 = Make("v0");
  v0.version = 0;
  EXPECT_TRUE(db_->Create(v0).status().IsInvalidArgument());
  v0.version = 7;
  EXPECT_EQ(Create(v0).version, 7);
}

TEST_F(DatabaseTest, DuplicateIdsAreRejected) {
  Create(Make("dup", "", "first"));
  Status st = db_->Create(Make("dup", "", "second")).status();
  EXPECT_TRUE(st.IsAlreadyExists()) << st.ToString();
  EXPECT_EQ(st.message(), "node 'dup' already exists");
  EXPECT_EQ(Get("dup").content, "first");
  // Also within one batch.
  WriteBatch batch;
  batch.Create(Make("twice"));
  batch.Create(Make("twice"));
  EXPECT_TRUE(db_->Write(batch).status().IsAlreadyExists());
  EXPECT_FALSE(Exists("twice"));
}

// ---- Embeddings -------------------------------------------------------------------------

TEST_F(DatabaseTest, EmbeddingsAreValidated) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  auto with_embedding = [&](const std::string& id, std::vector<float> v) {
    NewNode n = Make(id);
    n.embedding = std::move(v);
    return db_->Create(n).status();
  };
  Status st = with_embedding("nan", {1.0F, nan, 0.0F});
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_EQ(st.message(), "embedding[1] is not finite");
  EXPECT_TRUE(with_embedding("inf", {inf, 1.0F}).IsInvalidArgument());
  EXPECT_TRUE(with_embedding("-inf", {1.0F, -inf}).IsInvalidArgument());
  st = with_embedding("zero", {0.0F, 0.0F, 0.0F});
  EXPECT_EQ(st.message(), "embedding is a zero vector");

  // None of those fixed the dimension; the first good one does.
  EXPECT_OK(with_embedding("four", {1.0F, 2.0F, 3.0F, 4.0F}));
  st = with_embedding("three", {1.0F, 2.0F, 3.0F});
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_EQ(st.message(), "vector has 3 dims, database uses 4");
  EXPECT_OK(with_embedding("four-b", {0.0F, 0.0F, 0.0F, -1.0F}));
  EXPECT_OK(with_embedding("none", {}));

  NodePatch p;
  p.embedding = std::vector<float>{1.0F, 2.0F};
  EXPECT_EQ(db_->Update("none", p).status().message(), "vector has 2 dims, database uses 4");
  p.embedding = std::vector<float>{1.0F, 2.0F, 3.0F, 5.0F};
  ASSERT_OK_AND_ASSIGN(Node n, db_->Update("none", p));
  EXPECT_EQ(n.embedding.size(), 4u);
  p.embedding = std::vector<float>{};  // removes it
  ASSERT_OK_AND_ASSIGN(n, db_->Update("four", p));
  EXPECT_TRUE(Get("four").embedding.empty());
  ASSERT_OK_AND_ASSIGN(DatabaseStats stats, db_->Stats());
  EXPECT_EQ(stats.embedding_count, 2);

  // The dimension is stored with the database.
  Open();
  EXPECT_EQ(with_embedding("three-again", {1.0F, 2.0F, 3.0F}).message(),
            "vector has 3 dims, database uses 4");
  EXPECT_EQ(Get("four-b").embedding, (std::vector<float>{0.0F, 0.0F, 0.0F, -1.0F}));
}

TEST_F(DatabaseTest, RolledBackEmbeddingDoesNotFixTheDimension) {
  // Atomic batch: the whole batch rolls back.
  WriteBatch atomic;
  NewNode three = Make("three");
  three.embedding = {1.0F, 2.0F, 3.0F};
  atomic.Create(three);
  atomic.Create(Make("orphan", "missing"));
  EXPECT_FALSE(db_->Write(atomic).ok());

  // Non-atomic batch: the failing operation rolls back alone.
  WriteBatch batch;
  NewNode failing = Make("failing", "missing");
  failing.embedding = {1.0F, 2.0F, 3.0F};
  batch.Create(failing);  // validates its embedding, then fails on the parent
  NewNode four = Make("four");
  four.embedding = {1.0F, 2.0F, 3.0F, 4.0F};
  batch.Create(four);
  NewNode three_again = Make("three-again");
  three_again.embedding = {1.0F, 2.0F, 3.0F};
  batch.Create(three_again);
  WriteOptions w;
  w.atomic = false;
  ASSERT_OK_AND_ASSIGN(BatchResult r, db_->Write(batch, w));
  ASSERT_EQ(r.results.size(), 3u);
  EXPECT_TRUE(r.results[0].status.IsNotFound()) << r.results[0].status.ToString();
  EXPECT_TRUE(r.results[1].status.ok()) << r.results[1].status.ToString();
  EXPECT_EQ(r.results[2].status.message(), "vector has 3 dims, database uses 4");
  EXPECT_EQ(r.failed, 2u);

  // The committed dimension is four, in this session and the next.
  EXPECT_EQ(db_->Create(three_again).status().message(), "vector has 3 dims, database uses 4");
  Open();
  EXPECT_EQ(db_->Create(three_again).status().message(), "vector has 3 dims, database uses 4");
}

TEST_F(DatabaseTest, RolledBackSchemaDoesNotApplyLaterInTheBatch) {
  Create(Make("taken"));
  WriteBatch batch;
  NewNode schema = Make("taken");  // duplicate id: fails after its schema was parsed
  schema.node_type = "schema";
  schema.properties =
      R"({"schema":{"for":"book","fields":{"pages":{"type":"integer","required":true}}}})";
  batch.Create(schema);
  NewNode book = Make("book");
  book.node_type = "book";
  batch.Create(book);
  WriteOptions w;
  w.atomic = false;
  ASSERT_OK_AND_ASSIGN(BatchResult r, db_->Write(batch, w));
  ASSERT_EQ(r.results.size(), 2u);
  EXPECT_TRUE(r.results[0].status.IsAlreadyExists());
  EXPECT_TRUE(r.results[1].status.ok()) << r.results[1].status.ToString();
  EXPECT_TRUE(Exists("book"));
}

// ---- Batches ------------------------------------------------------------------------------

TEST_F(DatabaseTest, AtomicBatchCommitsAllOrNothing) {
  Create(Make("p"));
  const int64_t seq = db_->LastChangeSeq();
  WriteBatch batch;
  batch.Create(Make("a", "p"));
  batch.Create(Make("b", "missing"));
  batch.Create(Make("c", "p"));
  auto r = db_->Write(batch);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound());
  EXPECT_EQ(r.status().message(), "operation 2: parent 'missing' not found");
  EXPECT_FALSE(Exists("a"));
  EXPECT_FALSE(Exists("c"));
  EXPECT_EQ(db_->LastChangeSeq(), seq);

  // A good batch: later operations see the earlier ones.
  WriteBatch good;
  good.Create(Make("a", "p"));
  good.Create(Make("a1", "a"));
  NodePatch patch;
  patch.content = "edited";
  good.Update("a1", patch, 1);
  good.Move("a1", "p", Position::First());
  good.AddEdge({"a", "a1", "related", "{}"});
  good.RemoveEdge("a", "a1", "related");
  good.Create(Make("gone", "a"));
  good.Delete("a");
  ASSERT_OK_AND_ASSIGN(BatchResult ok, db_->Write(good));
  ASSERT_EQ(ok.results.size(), 8u);
  EXPECT_EQ(ok.failed, 0u);
  for (const auto& res : ok.results) EXPECT_TRUE(res.status.ok()) << res.status.ToString();
  EXPECT_EQ(ok.results[1].node_id, "a1");
  EXPECT_EQ(ok.results[1].version, 1);
  EXPECT_EQ(ok.results[2].version, 2);
  EXPECT_EQ(ok.results[3].version, 3);
  EXPECT_EQ(ok.results[7].affected, 2);  // a and gone
  EXPECT_EQ(ok.last_change_seq, db_->LastChangeSeq());
  EXPECT_EQ(Children("p"), (Ids{"a1"}));
  EXPECT_EQ(Get("a1").content, "edited");
  EXPECT_OK(db_->CheckIntegrity());

  // An empty batch is fine.
  ASSERT_OK_AND_ASSIGN(BatchResult empty, db_->Write(WriteBatch{}));
  EXPECT_TRUE(empty.results.empty());
}

TEST_F(DatabaseTest, NonAtomicBatchSkipsFailures) {
  Create(Make("p"));
  WriteBatch batch;
  batch.Create(Make("a", "p"));
  batch.Create(Make("b", "missing"));
  batch.Create(Make("a", "p"));  // duplicate
  batch.Create(Make("c", "p"));
  batch.AddEdge({"a", "a", "self", "{}"});
  batch.Create(Make("d", "c"));
  WriteOptions w;
  w.atomic = false;
  ASSERT_OK_AND_ASSIGN(BatchResult r, db_->Write(batch, w));
  ASSERT_EQ(r.results.size(), 6u);
  EXPECT_EQ(r.failed, 3u);
  EXPECT_TRUE(r.results[0].status.ok());
  EXPECT_EQ(r.results[0].node_id, "a");
  EXPECT_EQ(r.results[0].version, 1);
  EXPECT_TRUE(r.results[1].status.IsNotFound());
  EXPECT_TRUE(r.results[2].status.IsAlreadyExists());
  EXPECT_TRUE(r.results[3].status.ok());
  EXPECT_TRUE(r.results[4].status.IsInvalidArgument());
  EXPECT_TRUE(r.results[5].status.ok());
  EXPECT_EQ(Children("p"), (Ids{"a", "c"}));
  EXPECT_EQ(Children("c"), (Ids{"d"}));
  EXPECT_FALSE(Exists("b"));
  EXPECT_EQ(r.last_change_seq, db_->LastChangeSeq());
  EXPECT_EQ(db_->LastChangeSeq(), 4);  // p, a, c, d: skipped ops leave no trace
  EXPECT_OK(db_->CheckIntegrity());
}

TEST_F(DatabaseTest, NonAtomicBatchCanStopAtTheFirstError) {
  WriteBatch batch;
  batch.Create(Make("a"));
  batch.Create(Make("b", "missing"));
  batch.Create(Make("c"));
  batch.Create(Make("d"));
  WriteOptions w;
  w.atomic = false;
  w.stop_at_first_error = true;
  ASSERT_OK_AND_ASSIGN(BatchResult r, db_->Write(batch, w));
  ASSERT_EQ(r.results.size(), 2u);
  EXPECT_TRUE(r.results[0].status.ok());
  EXPECT_TRUE(r.results[1].status.IsNotFound());
  EXPECT_EQ(r.failed, 1u);
  EXPECT_TRUE(Exists("a"));
  EXPECT_FALSE(Exists("c"));
  EXPECT_FALSE(Exists("d"));
  EXPECT_EQ(db_->LastChangeSeq(), 1);
}

// ---- Opening: schema versions, read-only, options ---------------------------------------

TEST(DatabaseOpen, MigratesAnOlderSchemaKeepingTheRows) {
  nodespace::testing::TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(auto conn, storage::Connection::Open(dir.Sub("nodespace.db"),
                                                              /*read_only=*/false,
                                                              /*create=*/true));
    ASSERT_OK(storage::CreateSchemaAtVersion(*conn, 1));
    ASSERT_OK(conn->Exec(
        "INSERT INTO nodes(id, parent_id, order_key, node_type, content, title, properties, "
        "lifecycle, version, created_at, modified_at) VALUES('old', '', 'a0', 'text', "
        "'# From v1', 'From v1', '{}', 0, 3, 1000, 2000);"
        "INSERT INTO changes(ts, op, node_id, version, payload) VALUES(2000, 1, 'old', 3, '{}');"));
    ASSERT_OK_AND_ASSIGN(int v, storage::StoredSchemaVersion(*conn));
    EXPECT_EQ(v, 1);
  }
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(dir.path()));
  ASSERT_OK_AND_ASSIGN(DatabaseStats stats, db->Stats());
  EXPECT_EQ(stats.schema_version, CurrentSchemaVersion());
  EXPECT_EQ(stats.node_count, 1);
  ASSERT_OK_AND_ASSIGN(Node old, db->Get("old"));
  EXPECT_EQ(old.content, "# From v1");
  // The full-text index added by a later version covers rows written before it.
  TextSearchOptions q;
  q.query = "from";
  ASSERT_OK_AND_ASSIGN(TextSearchResult found, db->SearchText(q));
  ASSERT_EQ(found.hits.size(), 1u);
  EXPECT_EQ(found.hits[0].node.id, "old");
  EXPECT_EQ(old.version, 3);
  EXPECT_EQ(old.created_at, 1000);
  ASSERT_OK_AND_ASSIGN(auto changes, db->ChangesSince(0));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].origin, "");  // the column added by the migration

  // The migrated database takes new writes.
  WriteOptions w;
  w.origin = "after-migration";
  NewNode n;
  n.id = "new";
  n.parent_id = "old";
  ASSERT_TRUE(db->Create(n, w).ok());
  ASSERT_OK_AND_ASSIGN(changes, db->ChangesSince(1));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].seq, 2);
  EXPECT_EQ(changes[0].origin, "after-migration");
  EXPECT_OK(db->CheckIntegrity());

  // Reopening does not migrate again.
  db.reset();
  ASSERT_OK_AND_ASSIGN(db, Database::Open(dir.path()));
  EXPECT_EQ(db->Stats()->node_count, 2);
}

TEST(DatabaseOpen, RefusesANewerSchema) {
  nodespace::testing::TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(auto conn,
                         storage::Connection::Open(dir.Sub("nodespace.db"), false, true));
    ASSERT_OK(conn->Exec("PRAGMA user_version = 99"));
  }
  auto db = Database::Open(dir.path());
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kNotSupported) << db.status().ToString();
  EXPECT_NE(db.status().message().find("newer"), std::string::npos) << db.status().message();
  EXPECT_NE(db.status().message().find("99"), std::string::npos) << db.status().message();

  Options ro;
  ro.read_only = true;
  auto read_only = Database::Open(dir.path(), ro);
  ASSERT_FALSE(read_only.ok());
  EXPECT_EQ(read_only.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(read_only.status().message().find("newer"), std::string::npos)
      << read_only.status().message();
}

TEST(DatabaseOpen, RefusesAForeignSqliteFile) {
  nodespace::testing::TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(auto conn,
                         storage::Connection::Open(dir.Sub("nodespace.db"), false, true));
    ASSERT_OK(conn->Exec("CREATE TABLE other(x)"));
  }
  auto db = Database::Open(dir.path());
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kCorruption) << db.status().ToString();
}

TEST(DatabaseOpen, OpenOptions) {
  nodespace::testing::TempDir dir;
  Options no_create;
  no_create.create_if_missing = false;
  EXPECT_TRUE(Database::Open(dir.Sub("db"), no_create).status().IsNotFound());
  Options ro;
  ro.read_only = true;
  EXPECT_TRUE(Database::Open(dir.Sub("db"), ro).status().IsNotFound());
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("db")));

  ASSERT_TRUE(Database::Open(dir.Sub("nested/deeper/db")).ok());  // creates the directories
  Options exclusive;
  exclusive.error_if_exists = true;
  EXPECT_TRUE(Database::Open(dir.Sub("nested/deeper/db"), exclusive).status().IsAlreadyExists());

  std::ofstream(dir.Sub("plain-file")) << "hello";
  EXPECT_TRUE(Database::Open(dir.Sub("plain-file")).status().IsInvalidArgument());

  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(dir.Sub("db2")));
  EXPECT_EQ(db->path(), dir.Sub("db2"));
  EXPECT_EQ(db->options().max_order_key_length, Options{}.max_order_key_length);
}

TEST(DatabaseOpen, ReadOnlyReadsButNeverWrites) {
  nodespace::testing::TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open(dir.path()));
    NewNode n;
    n.id = "a";
    n.content = "hello";
    ASSERT_TRUE(db->Create(n).ok());
    n.id = "b";
    n.parent_id = "a";
    ASSERT_TRUE(db->Create(n).ok());
  }
  Options ro;
  ro.read_only = true;
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(dir.path(), ro));
  ASSERT_OK_AND_ASSIGN(Node a, db->Get("a"));
  EXPECT_EQ(a.content, "hello");
  ASSERT_OK_AND_ASSIGN(auto kids, db->Children("a"));
  EXPECT_EQ(IdsOf(kids), (Ids{"b"}));
  EXPECT_EQ(db->LastChangeSeq(), 2);
  EXPECT_OK(db->CheckIntegrity());
  ASSERT_OK_AND_ASSIGN(DatabaseStats stats, db->Stats());
  EXPECT_EQ(stats.node_count, 2);

  auto not_supported = [](const Status& st) { return st.code() == StatusCode::kNotSupported; };
  NewNode c;
  c.id = "c";
  EXPECT_TRUE(not_supported(db->Create(c).status()));
  NodePatch p;
  p.content = "changed";
  EXPECT_TRUE(not_supported(db->Update("a", p).status()));
  EXPECT_TRUE(not_supported(db->Move("b", "", Position::Last()).status()));
  EXPECT_TRUE(not_supported(db->Delete("b").status()));
  EXPECT_TRUE(not_supported(db->SetLifecycle("a", Lifecycle::kArchived).status()));
  EXPECT_TRUE(not_supported(db->AddEdge({"a", "b", "related", "{}"})));
  EXPECT_TRUE(not_supported(db->AddToCollection("a", "x")));
  WriteBatch batch;
  batch.Create(c);
  EXPECT_TRUE(not_supported(db->Write(batch).status()));
  EXPECT_EQ(db->Get("a")->content, "hello");
  EXPECT_FALSE(db->Get("c").ok());

  // A writer may work alongside the reader; the reader sees its commits.
  ASSERT_OK_AND_ASSIGN(auto writer, Database::Open(dir.path()));
  ASSERT_TRUE(writer->Create(c).ok());
  EXPECT_TRUE(db->Get("c").ok());
}

TEST(DatabaseOpen, ReopenKeepsEverything) {
  nodespace::testing::TempDir dir;
  std::string uuid;
  int64_t seq = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open(dir.path()));
    NewNode n;
    n.content = "# Generated id";
    n.embedding = {1.0F, 2.0F};
    ASSERT_OK_AND_ASSIGN(Node made, db->Create(n));
    uuid = made.id;
    NewNode child;
    child.id = "child";
    child.parent_id = uuid;
    child.node_type = "task";
    child.content = "- [x] done";
    child.properties = R"({"task":{"status":"done"}})";
    ASSERT_TRUE(db->Create(child).ok());
    NewNode dated;
    dated.id = "dated";
    dated.parent_id = "2024-05-01";
    ASSERT_TRUE(db->Create(dated).ok());
    ASSERT_TRUE(db->AddEdge({"child", "dated", "blocks", R"({"why":"order"})"}).ok());
    ASSERT_TRUE(db->AddToCollection("dated", "projects:alpha").ok());
    ASSERT_TRUE(db->SetLifecycle("dated", Lifecycle::kArchived).ok());
    seq = db->LastChangeSeq();
  }
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(dir.path()));
  ASSERT_OK_AND_ASSIGN(Node made, db->Get(uuid));
  EXPECT_EQ(made.title, "Generated id");
  EXPECT_EQ(made.embedding, (std::vector<float>{1.0F, 2.0F}));
  ASSERT_OK_AND_ASSIGN(Node child, db->Get("child"));
  EXPECT_EQ(child.title, "done");
  EXPECT_EQ(child.properties, R"({"task":{"status":"done"}})");
  ASSERT_OK_AND_ASSIGN(Node dated, db->Get("dated"));
  EXPECT_EQ(dated.lifecycle, Lifecycle::kArchived);
  EXPECT_EQ(dated.parent_id, "2024-05-01");
  ASSERT_OK_AND_ASSIGN(auto edges, db->Edges("child", true, "blocks"));
  ASSERT_EQ(edges.size(), 1u);
  EXPECT_EQ(edges[0].properties, R"({"why":"order"})");
  ASSERT_OK_AND_ASSIGN(auto paths, db->CollectionsOf("dated"));
  EXPECT_EQ(paths, (std::vector<std::string>{"projects:alpha"}));
  EXPECT_EQ(db->LastChangeSeq(), seq);
  NewNode next;
  next.id = "next";
  ASSERT_TRUE(db->Create(next).ok());
  EXPECT_EQ(db->LastChangeSeq(), seq + 1);
  EXPECT_OK(db->CheckIntegrity());
}

// ---- Statistics -----------------------------------------------------------------------------

// Two handles on one directory stand for two processes: SQLite's locking
// serialises their writers, and the change log stays gap-free.
TEST(DatabaseConcurrency, TwoHandlesWriteTheSameDirectory) {
  nodespace::testing::TempDir dir;
  auto first = Database::Open(dir.path());
  auto second = Database::Open(dir.path());
  ASSERT_TRUE(first.ok() && second.ok());
  constexpr int kPerWriter = 150;
  auto write = [&](Database& db, const std::string& prefix) {
    for (int i = 0; i < kPerWriter; ++i) {
      NewNode n;
      n.id = prefix + std::to_string(i);
      n.content = n.id;
      EXPECT_TRUE(db.Create(n).ok()) << n.id;
    }
  };
  std::thread a(write, std::ref(**first), "a");
  std::thread b(write, std::ref(**second), "b");
  a.join();
  b.join();
  for (Database* db : {first->get(), second->get()}) {
    auto stats = db->Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->node_count, 2 * kPerWriter);
    EXPECT_EQ(stats->change_seq, 2 * kPerWriter);
    EXPECT_TRUE(db->CheckIntegrity().ok());
  }
}

// One handle shared by threads: readers run while a writer commits, and every
// read sees a whole node.
TEST(DatabaseConcurrency, ReadersAndAWriterShareOneHandle) {
  nodespace::testing::TempDir dir;
  auto opened = Database::Open(dir.path());
  ASSERT_TRUE(opened.ok());
  Database& db = **opened;
  NewNode root;
  root.id = "root";
  ASSERT_TRUE(db.Create(root).ok());
  constexpr int kWrites = 200;
  std::thread writer([&] {
    for (int i = 0; i < kWrites; ++i) {
      NodePatch patch;
      patch.content = "v" + std::to_string(i + 2);
      EXPECT_TRUE(db.Update("root", patch).ok());
    }
  });
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      int64_t last_version = 0;
      for (int i = 0; i < kWrites; ++i) {
        auto node = db.Get("root");
        ASSERT_TRUE(node.ok());
        // Content and version come from one row: "v<version>" after updates.
        if (node->version > 1) EXPECT_EQ(node->content, "v" + std::to_string(node->version));
        EXPECT_GE(node->version, last_version);  // never goes back in time
        last_version = node->version;
      }
    });
  }
  writer.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(db.Get("root")->version, kWrites + 1);
}

TEST_F(DatabaseTest, StatsCount) {
  ASSERT_OK_AND_ASSIGN(DatabaseStats empty, db_->Stats());
  EXPECT_EQ(empty.node_count, 0);
  EXPECT_EQ(empty.root_count, 0);
  EXPECT_EQ(empty.edge_count, 0);
  EXPECT_EQ(empty.change_seq, 0);
  EXPECT_EQ(empty.schema_version, CurrentSchemaVersion());
  EXPECT_GT(empty.storage_bytes, 0);

  Create(Make("r1"));
  Create(Make("r2", "", "mentions [[r1]]"));
  Create(Make("c1", "r1"));
  Create(Make("c2", "c1"));
  NewNode e = Make("e", "r2");
  e.embedding = {1.0F, 0.0F};
  Create(e);
  ASSERT_OK(db_->AddEdge({"c1", "r2", "related", "{}"}));
  ASSERT_OK(db_->AddToCollection("c2", "col"));  // one more root, one more edge

  ASSERT_OK_AND_ASSIGN(DatabaseStats st, db_->Stats());
  EXPECT_EQ(st.node_count, 6);
  EXPECT_EQ(st.root_count, 3);
  EXPECT_EQ(st.stored_edge_count, 3);     // mentions, related, member_of
  EXPECT_EQ(st.edge_count, 3 + (6 - 3));  // plus one has_child per non-root
  EXPECT_EQ(st.embedding_count, 1);
  EXPECT_EQ(st.change_seq, db_->LastChangeSeq());
  EXPECT_EQ(st.schema_version, CurrentSchemaVersion());
  EXPECT_GT(st.storage_bytes, 0);
}

}  // namespace
}  // namespace nodespace
