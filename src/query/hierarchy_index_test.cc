// The hierarchy index against the store it mirrors: after a full build and
// after catching up through creates, moves, deletes, lifecycle and type
// changes (across a compaction of its child lists), every subtree it lists
// and every membership it answers equals what SQL finds in the nodes table.
#include "query/hierarchy_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "nodespace/database.h"
#include "test_util.h"

namespace nodespace::query {
namespace {

using storage::Connection;

class HierarchyIndexTest : public ::testing::Test {
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

  int64_t RowOf(const std::string& id) {
    auto stmt = conn_->PrepareOnce("SELECT rowid FROM nodes WHERE id = ?1");
    (*stmt)->Bind(1, id);
    return (*stmt)->Step().value() ? (*stmt)->ColumnInt(0) : 0;
  }

  // rowid -> parent rowid, type, lifecycle, straight from the table.
  struct Truth {
    int64_t parent;
    std::string type;
    int64_t lifecycle;
  };
  std::map<int64_t, Truth> ReadTruth() {
    std::map<int64_t, Truth> truth;
    auto stmt = conn_->PrepareOnce(
        "SELECT n.rowid, ifnull(p.rowid, 0), n.node_type, n.lifecycle FROM nodes n LEFT JOIN "
        "nodes p ON p.id = n.parent_id");
    while ((*stmt)->Step().value()) {
      truth[(*stmt)->ColumnInt(0)] = {(*stmt)->ColumnInt(1), std::string((*stmt)->ColumnText(2)),
                                      (*stmt)->ColumnInt(3)};
    }
    return truth;
  }

  // Compares every row's fields and every subtree (whole, and two levels
  // deep) with the table.
  void ExpectMatchesTable(const HierarchyIndex::View& view) {
    const std::map<int64_t, Truth> truth = ReadTruth();
    std::map<int64_t, std::vector<int64_t>> children;
    for (const auto& [row, t] : truth) children[t.parent].push_back(row);
    for (const auto& [row, t] : truth) {
      const HierarchyIndex::Row* r = view.Find(row);
      ASSERT_NE(r, nullptr) << "row " << row;
      EXPECT_EQ(r->parent, t.parent) << "row " << row;
      EXPECT_EQ(r->type, view.TypeCode(t.type)) << "row " << row;
      EXPECT_EQ(r->lifecycle, t.lifecycle) << "row " << row;
    }
    for (int depth : {-1, 2}) {
      for (const auto& [root, unused] : truth) {
        std::set<int64_t> expected;
        std::vector<std::pair<int64_t, int>> pending{{root, 0}};
        while (!pending.empty()) {
          auto [row, level] = pending.back();
          pending.pop_back();
          expected.insert(row);
          if (depth >= 0 && level >= depth) continue;
          for (int64_t c : children[row]) pending.push_back({c, level + 1});
        }
        std::vector<int64_t> listed;
        view.ForEachInSubtree(root, depth, [&](int64_t row, const auto& facts) {
          listed.push_back(row);
          // The facts a listing hands out are current (the preorder keeps
          // a copy of them).
          const Truth& t = truth.at(row);
          EXPECT_EQ(facts.type, view.TypeCode(t.type)) << "row " << row;
          EXPECT_EQ(facts.lifecycle, t.lifecycle) << "row " << row;
        });
        std::sort(listed.begin(), listed.end());
        EXPECT_EQ(listed, std::vector<int64_t>(expected.begin(), expected.end()))
            << "subtree of row " << root << " depth " << depth;
        EXPECT_EQ(view.CountSubtree(root, depth, 1 << 30), static_cast<int64_t>(expected.size()));
        for (int64_t row : expected) ASSERT_GE(view.LevelsBelow(row, root, depth), 0);
      }
    }
    // Deleted rows are gone.
    for (int64_t row = 1; row < 1 + static_cast<int64_t>(truth.size()) * 2; ++row) {
      if (!truth.count(row)) EXPECT_EQ(view.Find(row), nullptr) << "row " << row;
    }
  }

  std::unique_ptr<HierarchyIndex::View> ViewNow() { return ViewNow(index_); }
  std::unique_ptr<HierarchyIndex::View> ViewNow(HierarchyIndex& index) {
    auto view = index.ViewAt(*conn_, Seq());
    EXPECT_TRUE(view.ok()) << view.status().ToString();
    return view.ok() ? std::move(*view) : nullptr;
  }

  void Create(const std::string& id, const std::string& parent, const std::string& type = "text") {
    NewNode n;
    n.id = id;
    n.parent_id = parent;
    n.node_type = type;
    n.content = id;
    auto r = db_->Create(n);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  testing::TempDir dir_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Connection> conn_;
  HierarchyIndex index_;    // small database: the preorder is recomputed after every change
  HierarchyIndex lazy_{0};  // keeps its preorder invalid until many changes: walks the lists
};

TEST_F(HierarchyIndexTest, LevelsBelowFollowsParentsAndDepth) {
  Create("a", "");
  Create("b", "a");
  Create("c", "b", "task");
  Create("d", "");
  auto view = ViewNow();
  ASSERT_NE(view, nullptr);
  const int64_t a = RowOf("a"), b = RowOf("b"), c = RowOf("c"), d = RowOf("d");
  EXPECT_EQ(view->LevelsBelow(c, a, -1), 2);
  EXPECT_EQ(view->LevelsBelow(c, c, 0), 0);
  EXPECT_EQ(view->LevelsBelow(c, a, 1), -1);  // deeper than allowed
  EXPECT_EQ(view->LevelsBelow(b, a, 1), 1);
  EXPECT_EQ(view->LevelsBelow(d, a, -1), -1);
  EXPECT_EQ(view->LevelsBelow(a, c, -1), -1);  // an ancestor is not inside
  EXPECT_EQ(view->LevelsBelow(999, a, -1), -1);
  EXPECT_EQ(view->Find(c)->type, view->TypeCode("task"));
  EXPECT_EQ(view->TypeCode("nothing"), -1);
  ExpectMatchesTable(*view);
  view.reset();
  EXPECT_GT(index_.MemoryBytes(), 0u);
  index_.Clear();  // for memory pressure: must hand the memory back
  EXPECT_EQ(index_.MemoryBytes(), 0u);
}

TEST_F(HierarchyIndexTest, CatchesUpWithEveryKindOfChange) {
  std::mt19937 rng(5);
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) {
    const std::string parent = ids.empty() || rng() % 5 == 0 ? "" : ids[rng() % ids.size()];
    ids.push_back("n" + std::to_string(i));
    Create(ids.back(), parent);
  }
  for (HierarchyIndex* index : {&index_, &lazy_}) {
    auto view = ViewNow(*index);
    ASSERT_NE(view, nullptr);
    ExpectMatchesTable(*view);
  }
  ASSERT_EQ(index_.rebuilds(), 1);
  int next = 60;
  for (int round = 0; round < 8; ++round) {
    for (int op = 0; op < 25; ++op) {
      std::vector<std::string> live;
      for (const std::string& id : ids) {
        if (db_->Get(id).ok()) live.push_back(id);
      }
      const std::string& pick = live[rng() % live.size()];
      switch (rng() % 6) {
        case 0:
        case 1: {
          ids.push_back("n" + std::to_string(next++));
          Create(ids.back(), rng() % 4 == 0 ? "" : pick, rng() % 2 ? "text" : "task");
          break;
        }
        case 2: {
          const std::string& to = live[rng() % live.size()];
          (void)db_->Move(pick, rng() % 5 == 0 ? "" : to, Position::Last());  // cycles fail
          break;
        }
        case 3:
          if (live.size() > 20) ASSERT_TRUE(db_->Delete(pick).ok());
          break;
        case 4:
          ASSERT_TRUE(
              db_->SetLifecycle(pick, rng() % 2 ? Lifecycle::kArchived : Lifecycle::kActive).ok());
          break;
        case 5: {
          NodePatch patch;
          patch.node_type = rng() % 2 ? "page" : "text";
          ASSERT_TRUE(db_->Update(pick, patch).ok());
          break;
        }
      }
    }
    for (HierarchyIndex* index : {&index_, &lazy_}) {
      SCOPED_TRACE(index == &lazy_ ? "walking the child lists" : "in preorder");
      auto view = ViewNow(*index);
      ASSERT_NE(view, nullptr);
      ExpectMatchesTable(*view);
    }
  }
  EXPECT_EQ(index_.rebuilds(), 9);  // one build, then eight catch-ups
}

TEST_F(HierarchyIndexTest, ChangesInPlaceReachTheFactsAListingHandsOut) {
  Create("a", "");
  Create("b", "a");
  { ASSERT_NE(ViewNow(), nullptr); }
  // No node moves: the preorder stays, its copies of the facts must follow.
  ASSERT_TRUE(db_->SetLifecycle("b", Lifecycle::kArchived).ok());
  NodePatch patch;
  patch.node_type = "task";
  ASSERT_TRUE(db_->Update("a", patch).ok());
  auto view = ViewNow();
  ASSERT_NE(view, nullptr);
  ASSERT_TRUE(view->Ordered(RowOf("a")));
  std::map<int64_t, std::pair<int32_t, int>> seen;
  view->ForEachInSubtree(RowOf("a"), -1, [&](int64_t row, const auto& facts) {
    seen[row] = {facts.type, static_cast<int>(facts.lifecycle)};
  });
  EXPECT_EQ(seen[RowOf("a")], std::make_pair(view->TypeCode("task"), 0));
  EXPECT_EQ(seen[RowOf("b")],
            std::make_pair(view->TypeCode("text"), static_cast<int>(Lifecycle::kArchived)));
}

TEST_F(HierarchyIndexTest, ManyNewRowsCompactTheChildListsAndStayCorrect) {
  Create("root", "");
  { ASSERT_NE(ViewNow(), nullptr); }
  // More new rows than the compaction threshold, in one catch-up.
  WriteBatch batch;
  for (int i = 0; i < 5000; ++i) {
    NewNode n;
    n.id = "c" + std::to_string(i);
    n.parent_id = i < 50 ? "root" : "c" + std::to_string(i % 50);
    n.content = n.id;
    batch.Create(std::move(n));
  }
  ASSERT_TRUE(db_->Write(batch).ok());
  ASSERT_TRUE(db_->Move("c7", "c8", Position::Last()).ok());
  auto view = ViewNow();
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->CountSubtree(RowOf("root"), -1, 1 << 30), 5001);
  // c8, its 99 children, and c7 with its 99.
  EXPECT_EQ(view->CountSubtree(RowOf("c8"), -1, 1 << 30), 1 + 99 + 1 + 99);
  EXPECT_EQ(view->CountSubtree(RowOf("c8"), 1, 1 << 30), 100 + 1);
  EXPECT_EQ(view->CountSubtree(RowOf("root"), -1, 10), 10);
  EXPECT_EQ(view->LevelsBelow(RowOf("c107"), RowOf("c8"), -1), 2);
}

TEST_F(HierarchyIndexTest, AnOlderSnapshotGetsNoView) {
  Create("a", "");
  const int64_t old_seq = Seq();
  Create("b", "a");
  { ASSERT_NE(ViewNow(), nullptr); }
  auto stale = index_.ViewAt(*conn_, old_seq);
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(*stale, nullptr);  // the caller answers with SQL
}

TEST_F(HierarchyIndexTest, SparseRowidsGetNoIndex) {
  Create("a", "");
  // A row written by hand far beyond the store's own numbering.
  ASSERT_TRUE(conn_
                  ->Exec("INSERT INTO nodes(rowid, id, parent_id, order_key, node_type, content, "
                         "version, created_at, modified_at) VALUES(5000000000, 'far', 'a', 'm', "
                         "'text', 'far', 1, 0, 0)")
                  .ok());
  auto view = index_.ViewAt(*conn_, Seq());
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(*view, nullptr);
  EXPECT_EQ(index_.MemoryBytes(), 0u);
}

TEST_F(HierarchyIndexTest, ACycleWrittenByHandEndsTheWalks) {
  Create("a", "");
  Create("b", "a");
  // Damage no write path allows: a and b each other's parent.
  ASSERT_TRUE(conn_->Exec("UPDATE nodes SET parent_id = 'b' WHERE id = 'a'").ok());
  auto view = ViewNow();
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->LevelsBelow(RowOf("a"), RowOf("d"), -1), -1);
  int visited = 0;
  view->ForEachInSubtree(RowOf("a"), -1, [&](int64_t, const auto&) { ++visited; });
  EXPECT_LE(visited, 3);
  EXPECT_LE(view->CountSubtree(RowOf("a"), -1, 1 << 30), 3);
}

}  // namespace
}  // namespace nodespace::query
