// The tree's shape in memory: for every row, its parent row, type and
// lifecycle, kept current from the change log the way the vector index is.
//
// Subtree filters (`under`) need two things SQLite does slowly at scale:
// listing a subtree (a recursive query probes nodes_by_parent once per node,
// about 7 µs each at 1M nodes, docs/BENCHMARKS.md) and testing whether a
// candidate lies inside one (an indexed lookup per ancestor). Here a listing
// costs nanoseconds per node and a membership test one array read per level.
//
// While the tree has not changed shape since the child lists were last
// compacted, the rows are also kept in preorder with each one's subtree
// span (interval numbering): a subtree is then one contiguous slice, read
// sequentially, and a membership test two comparisons. Any create, move or
// delete invalidates it until the next compaction (at once in databases of
// up to `eager_order_rows` nodes, otherwise after enough such changes);
// meanwhile listings walk the child lists.
//
// Rows are addressed by SQLite rowid, which the store assigns densely; a
// database whose rowids are too sparse for an array (rowids written by hand)
// gets no index, and queries use SQL as before.
#pragma once

#include <climits>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "nodespace/status.h"
#include "storage/sqlite.h"

namespace nodespace::query {

class HierarchyIndex {
 public:
  struct Row {
    int64_t parent = 0;  // 0: a root
    int32_t type = -1;   // a code from TypeCode
    uint8_t lifecycle = 0;
    bool exists = false;
    bool has_vector = false;
    // Given its parent after the child lists were last compacted (created or
    // moved since): listed in extra_children_, not in the compact lists.
    bool extra = false;
  };

  // The index at one change sequence, read-locked: it cannot move on while a
  // query holds it.
  class View {
   public:
    View(std::shared_lock<std::shared_mutex> lock, const HierarchyIndex& index)
        : lock_(std::move(lock)), index_(index) {}

    int64_t seq() const { return index_.seq_; }
    // Null when no node has this row.
    const Row* Find(int64_t row) const {
      if (row <= 0 || static_cast<size_t>(row) >= index_.rows_.size()) return nullptr;
      const Row& r = index_.rows_[static_cast<size_t>(row)];
      return r.exists ? &r : nullptr;
    }
    // Levels `row` lies below `root` (0: the root itself); -1 when it lies
    // outside, or deeper than `max_depth` (-1: any depth).
    int LevelsBelow(int64_t row, int64_t root, int max_depth) const;
    // Calls visit(row, facts) for `root` and each descendant within
    // `max_depth` levels (-1: all), parents before their children. `facts`
    // has the row's `type`, `lifecycle` and `has_vector` (a Row, or the
    // preorder's copy of those fields: the visitor takes either).
    template <typename Visit>
    void ForEachInSubtree(int64_t root, int max_depth, Visit&& visit) const {
      const Row* r = Find(root);
      if (r == nullptr) return;
      if (const uint32_t first = index_.PreorderOf(root); first != kNotOrdered) {
        const HierarchyIndex::Ordered* slice = index_.order_.data();
        const int32_t deepest = max_depth < 0 ? INT32_MAX : slice[first].depth + max_depth;
        for (uint32_t i = first; i < index_.end_[static_cast<size_t>(root)]; ++i) {
          if (slice[i].depth <= deepest) visit(static_cast<int64_t>(slice[i].row), slice[i]);
        }
        return;
      }
      std::vector<std::pair<int64_t, int>> pending{{root, 0}};
      // A damaged tree with a cycle must not loop: no subtree visits more
      // rows than there are.
      size_t budget = index_.rows_.size();
      while (!pending.empty() && budget-- > 0) {
        const int64_t row = pending.back().first;
        const int level = pending.back().second;
        pending.pop_back();
        visit(row, index_.rows_[static_cast<size_t>(row)]);
        if (max_depth >= 0 && level >= max_depth) continue;
        index_.ForEachChild(row, [&](int64_t child) { pending.push_back({child, level + 1}); });
      }
    }
    // Whether `root`'s subtree is a slice of the preorder (listing and
    // counting it cost no walk).
    bool Ordered(int64_t root) const { return index_.PreorderOf(root) != kNotOrdered; }
    // Rows in the subtree (as ForEachInSubtree visits), counting stops at `cap`.
    int64_t CountSubtree(int64_t root, int max_depth, int64_t cap) const;
    // The code rows of this type carry; -1 when no node has had it.
    int32_t TypeCode(std::string_view type) const;

   private:
    std::shared_lock<std::shared_mutex> lock_;
    const HierarchyIndex& index_;
  };

  // `eager_order_rows`: up to this many nodes, every change of shape
  // recomputes the preorder at once (a pass over the rows).
  explicit HierarchyIndex(size_t eager_order_rows = kEagerOrderRows)
      : eager_order_rows_(eager_order_rows) {}
  HierarchyIndex(const HierarchyIndex&) = delete;
  HierarchyIndex& operator=(const HierarchyIndex&) = delete;

  // The index at `seq`, the change sequence of the caller's read snapshot
  // (the caller is inside that read transaction), brought there from the
  // change log first. Null when it cannot be: another reader with a newer
  // snapshot moved it past `seq`, or the rowids are too sparse; the caller
  // then answers with SQL.
  Result<std::unique_ptr<View>> ViewAt(storage::Connection& conn, int64_t seq);

  // Drops everything (the next ViewAt rebuilds); for memory pressure.
  void Clear();
  // Bytes held by the arrays (0 before the first use).
  size_t MemoryBytes() const;
  // Full rebuilds and catch-ups so far (tests and status).
  int64_t rebuilds() const;
  // Whether a query built it and nothing cleared it since.
  bool built() const;

 private:
  static constexpr uint32_t kNotOrdered = UINT32_MAX;
  static constexpr size_t kEagerOrderRows = 100000;
  // A row in preorder: the fields of rows_[row] that filters test, and its
  // depth, so that a subtree slice is read without touching rows_. 16 bytes
  // (a whole Row made it 24): listing a subtree reads the slice end to end,
  // 389,511 entries for the largest subtree the benchmark queries at 1M.
  struct Ordered {
    uint32_t row = 0;
    int32_t depth = 0;
    int32_t type = -1;
    uint8_t lifecycle = 0;
    bool has_vector = false;

    void SetFacts(const Row& r) {
      type = r.type;
      lifecycle = r.lifecycle;
      has_vector = r.has_vector;
    }
  };
  static_assert(sizeof(Ordered) == 16);
  // The row's place in order_, or kNotOrdered (no valid order, or a row
  // that no root reaches).
  uint32_t PreorderOf(int64_t row) const {
    if (!order_valid_ || row <= 0 || static_cast<size_t>(row) >= pre_.size()) return kNotOrdered;
    return pre_[static_cast<size_t>(row)];
  }
  // Rows whose parent is `parent`.
  template <typename Visit>
  void ForEachChild(int64_t parent, Visit&& visit) const {
    const size_t p = static_cast<size_t>(parent);
    if (p + 1 < child_begin_.size()) {
      for (uint32_t i = child_begin_[p]; i < child_begin_[p + 1]; ++i) {
        const int64_t child = child_rows_[i];
        const Row& c = rows_[static_cast<size_t>(child)];
        if (c.exists && !c.extra && c.parent == parent) visit(child);
      }
    }
    if (extra_count_ == 0) return;
    if (auto it = extra_children_.find(parent); it != extra_children_.end()) {
      for (int64_t child : it->second) visit(child);
    }
  }
  Status Rebuild(storage::Connection& conn, int64_t seq);
  Status CatchUp(storage::Connection& conn, int64_t seq);
  int32_t InternType(const std::string& type);
  void SetRow(int64_t row, Row value);
  void DropRow(int64_t row);
  void UnlinkExtra(int64_t row);
  // Rebuilds the child lists and the preorder.
  void CompactChildren();
  void ComputePreorder();

  mutable std::shared_mutex mu_;
  bool built_ = false;
  bool unusable_ = false;  // rowids too sparse; retried after Clear
  int64_t seq_ = 0;
  int64_t rebuilds_ = 0;
  std::vector<Row> rows_;  // by rowid
  std::vector<std::string> type_names_;
  std::unordered_map<std::string, int32_t> type_codes_;
  // Children in compact lists: child_rows_[child_begin_[p] .. child_begin_[p + 1]).
  // Entries go stale when a row moves or is deleted (ForEachChild skips
  // them); rows given a parent since live in extra_children_ until the
  // next compaction.
  std::vector<uint32_t> child_begin_;
  std::vector<uint32_t> child_rows_;
  std::unordered_map<int64_t, std::unordered_set<int64_t>> extra_children_;
  size_t extra_count_ = 0;
  // The preorder: order_ holds every row a root reaches; a row's subtree is
  // order_[pre_[row] .. end_[row]).
  const size_t eager_order_rows_;
  bool order_valid_ = false;
  size_t shape_changes_ = 0;  // creates, moves and deletes since the last compaction
  std::vector<Ordered> order_;
  std::vector<uint32_t> pre_, end_;
};

}  // namespace nodespace::query
