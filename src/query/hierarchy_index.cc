#include "query/hierarchy_index.h"

#include <algorithm>
#include <limits>
#include <mutex>

#include "storage/changed_nodes.h"

namespace nodespace::query {
namespace {

using storage::Connection;
using storage::ScopedStatement;
using storage::Statement;

// Catching up reads each changed node once; past this many changes one
// pass over the table is cheaper.
constexpr int64_t kRebuildAfterChanges = 50000;
// In databases larger than eager_order_rows, changes of shape (creates, moves,
// deletes) before the child lists and the preorder are rebuilt (a pass over
// every row): this many, or a 64th of the rows.
constexpr size_t kMinShapeChangesBeforeCompaction = 1024;
// Deeper than any real outline: an ancestor walk this long is a damaged tree.
constexpr int kMaxWalk = 100000;

// A node's state as the index keeps it, with its parent resolved to a row.
constexpr const char* kRowColumns =
    "n.rowid, ifnull((SELECT p.rowid FROM nodes p WHERE p.id = n.parent_id), 0), n.node_type, "
    "n.lifecycle, n.embedding IS NOT NULL";

}  // namespace

int HierarchyIndex::View::LevelsBelow(int64_t row, int64_t root, int max_depth) const {
  if (const uint32_t at_root = index_.PreorderOf(root); at_root != kNotOrdered) {
    // Every row a root reaches is ordered: one outside the order lies
    // outside this subtree too.
    const uint32_t at = index_.PreorderOf(row);
    if (at == kNotOrdered || at < at_root || at >= index_.end_[static_cast<size_t>(root)]) {
      return -1;
    }
    const int levels = index_.order_[at].depth - index_.order_[at_root].depth;
    return max_depth >= 0 && levels > max_depth ? -1 : levels;
  }
  int64_t at = row;
  for (int level = 0; level <= kMaxWalk; ++level) {
    const Row* r = Find(at);
    if (r == nullptr) return -1;
    if (at == root) return level;
    if (max_depth >= 0 && level >= max_depth) return -1;
    at = r->parent;
    if (at == 0) return -1;
  }
  return -1;
}

int64_t HierarchyIndex::View::CountSubtree(int64_t root, int max_depth, int64_t cap) const {
  if (Find(root) == nullptr) return 0;
  if (const uint32_t first = index_.PreorderOf(root); first != kNotOrdered) {
    const uint32_t end = index_.end_[static_cast<size_t>(root)];
    if (max_depth < 0) return std::min<int64_t>(cap, end - first);
    const int32_t deepest = index_.order_[first].depth + max_depth;
    int64_t count = 0;
    for (uint32_t i = first; i < end && count < cap; ++i) {
      count += index_.order_[i].depth <= deepest ? 1 : 0;
    }
    return count;
  }
  int64_t count = 0;
  std::vector<std::pair<int64_t, int>> pending{{root, 0}};
  // No more rows than there are, even in a damaged tree with a cycle.
  const int64_t limit = std::min(cap, static_cast<int64_t>(index_.rows_.size()));
  while (!pending.empty() && count < limit) {
    const int64_t row = pending.back().first;
    const int level = pending.back().second;
    pending.pop_back();
    ++count;
    if (max_depth >= 0 && level >= max_depth) continue;
    index_.ForEachChild(row, [&](int64_t child) { pending.push_back({child, level + 1}); });
  }
  return count;
}

int32_t HierarchyIndex::View::TypeCode(std::string_view type) const {
  auto it = index_.type_codes_.find(std::string(type));
  return it == index_.type_codes_.end() ? -1 : it->second;
}

Result<std::unique_ptr<HierarchyIndex::View>> HierarchyIndex::ViewAt(Connection& conn,
                                                                     int64_t seq) {
  {
    std::shared_lock lock(mu_);
    if (unusable_ || (built_ && seq_ > seq)) return std::unique_ptr<View>();
    if (built_ && seq_ == seq) return std::make_unique<View>(std::move(lock), *this);
  }
  {
    std::unique_lock lock(mu_);
    if (!unusable_ && (!built_ || seq_ < seq)) {
      // A failed catch-up changes nothing (it reads everything before it
      // applies anything); a failed rebuild leaves the index unbuilt.
      NS_RETURN_IF_ERROR(!built_ || seq - seq_ > kRebuildAfterChanges ? Rebuild(conn, seq)
                                                                      : CatchUp(conn, seq));
    }
  }
  std::shared_lock lock(mu_);
  if (unusable_ || !built_ || seq_ != seq) return std::unique_ptr<View>();
  return std::make_unique<View>(std::move(lock), *this);
}

void HierarchyIndex::Clear() {
  std::unique_lock lock(mu_);
  built_ = false;
  unusable_ = false;
  seq_ = 0;
  rows_ = decltype(rows_)();
  type_names_ = decltype(type_names_)();
  type_codes_ = decltype(type_codes_)();
  child_begin_ = decltype(child_begin_)();
  child_rows_ = decltype(child_rows_)();
  extra_children_ = decltype(extra_children_)();
  extra_count_ = 0;
  order_valid_ = false;
  shape_changes_ = 0;
  order_ = decltype(order_)();
  pre_ = decltype(pre_)();
  end_ = decltype(end_)();
}

size_t HierarchyIndex::MemoryBytes() const {
  std::shared_lock lock(mu_);
  // An unordered_set entry: the value, a next pointer and a bucket slot.
  constexpr size_t kSetEntryBytes = 3 * sizeof(void*);
  return rows_.capacity() * sizeof(Row) + child_begin_.capacity() * sizeof(uint32_t) +
         child_rows_.capacity() * sizeof(uint32_t) + extra_count_ * kSetEntryBytes +
         order_.capacity() * sizeof(Ordered) +
         (pre_.capacity() + end_.capacity()) * sizeof(uint32_t);
}

int64_t HierarchyIndex::rebuilds() const {
  std::shared_lock lock(mu_);
  return rebuilds_;
}

bool HierarchyIndex::built() const {
  std::shared_lock lock(mu_);
  return built_;
}

int32_t HierarchyIndex::InternType(const std::string& type) {
  auto [it, added] = type_codes_.emplace(type, static_cast<int32_t>(type_names_.size()));
  if (added) type_names_.push_back(type);
  return it->second;
}

Status HierarchyIndex::Rebuild(Connection& conn, int64_t seq) {
  built_ = false;
  NS_ASSIGN_OR_RETURN(int64_t count, conn.QueryInt("SELECT count(*) FROM nodes"));
  NS_ASSIGN_OR_RETURN(int64_t min_row, conn.QueryInt("SELECT ifnull(min(rowid), 1) FROM nodes"));
  NS_ASSIGN_OR_RETURN(int64_t max_row, conn.QueryInt("SELECT ifnull(max(rowid), 0) FROM nodes"));
  if (min_row < 1 || !storage::RowsFitArray(max_row, count)) {
    unusable_ = true;
    return Status::OK();
  }
  std::vector<Row> rows(static_cast<size_t>(max_row) + 1);
  type_names_.clear();
  type_codes_.clear();
  NS_ASSIGN_OR_RETURN(storage::OwnedStatement s,
                      conn.PrepareOnce(std::string("SELECT ") + kRowColumns + " FROM nodes n"));
  std::string last_type;
  int32_t last_code = -1;
  while (true) {
    NS_ASSIGN_OR_RETURN(bool more, s->Step());
    if (!more) break;
    const int64_t row = s->ColumnInt(0);
    if (row < 1 || row > max_row) continue;  // written since the bounds were read: not here
    const std::string_view type = s->ColumnText(2);
    if (last_code < 0 || type != last_type) {
      last_type = std::string(type);
      last_code = InternType(last_type);
    }
    Row& r = rows[static_cast<size_t>(row)];
    r.parent = s->ColumnInt(1);
    r.type = last_code;
    r.lifecycle = static_cast<uint8_t>(s->ColumnInt(3));
    r.exists = true;
    r.has_vector = s->ColumnInt(4) != 0;
  }
  rows_ = std::move(rows);
  CompactChildren();
  seq_ = seq;
  built_ = true;
  ++rebuilds_;
  return Status::OK();
}

Status HierarchyIndex::CatchUp(Connection& conn, int64_t seq) {
  // Everything is read before anything changes, so a failed read leaves
  // the index as it was. Deletions are applied first: a row freed by a
  // delete may hold a new node by now, which the refresh puts back.
  NS_ASSIGN_OR_RETURN(storage::ChangedNodes changed,
                      storage::ReadChangedNodes(conn, seq_, seq, /*include_moves=*/true));
  const std::vector<int64_t>& removed = changed.freed_rows;
  const std::vector<std::string>& touched = changed.ids;
  struct Refresh {
    int64_t row;
    Row value;
    std::string type;
  };
  std::vector<Refresh> refreshes;
  refreshes.reserve(touched.size());
  {
    NS_ASSIGN_OR_RETURN(Statement * stmt, conn.Prepare(std::string("SELECT ") + kRowColumns +
                                                       " FROM nodes n WHERE n.id = ?1"));
    for (const std::string& id : touched) {
      ScopedStatement s(*stmt);
      s->Bind(1, id);
      NS_ASSIGN_OR_RETURN(bool found, s->Step());
      if (!found) continue;  // deleted
      Refresh r;
      r.row = s->ColumnInt(0);
      r.value.parent = s->ColumnInt(1);
      r.type = std::string(s->ColumnText(2));
      r.value.lifecycle = static_cast<uint8_t>(s->ColumnInt(3));
      r.value.exists = true;
      r.value.has_vector = s->ColumnInt(4) != 0;
      refreshes.push_back(std::move(r));
    }
  }
  size_t live = 0;
  for (const Row& r : rows_) live += r.exists ? 1 : 0;
  int64_t highest = 0;
  bool bad_row = false;
  for (const Refresh& r : refreshes) {
    highest = std::max(highest, r.row);
    bad_row = bad_row || r.row < 1;
  }
  if (bad_row || !storage::RowsFitArray(highest, static_cast<int64_t>(live + refreshes.size()))) {
    unusable_ = true;
    built_ = false;
    rows_ = decltype(rows_)();
    child_begin_ = decltype(child_begin_)();
    child_rows_ = decltype(child_rows_)();
    extra_children_ = decltype(extra_children_)();
    extra_count_ = 0;
    order_valid_ = false;
    order_ = decltype(order_)();
    pre_ = decltype(pre_)();
    end_ = decltype(end_)();
    return Status::OK();
  }
  for (int64_t row : removed) DropRow(row);
  for (Refresh& r : refreshes) {
    r.value.type = InternType(r.type);
    SetRow(r.row, r.value);
  }
  live = 0;
  for (const Row& r : rows_) live += r.exists ? 1 : 0;
  if (!order_valid_ && (live <= eager_order_rows_ ||
                        shape_changes_ > std::max(kMinShapeChangesBeforeCompaction, live / 64))) {
    CompactChildren();
  }
  seq_ = seq;
  ++rebuilds_;
  return Status::OK();
}

void HierarchyIndex::SetRow(int64_t row, Row value) {
  const size_t at = static_cast<size_t>(row);
  if (at >= rows_.size()) rows_.resize(at + 1);
  Row& r = rows_[at];
  if (!r.exists || r.parent != value.parent) {
    // A new place in the tree: listed with its parent's extra children.
    if (r.exists && r.extra) UnlinkExtra(row);
    value.extra = true;
    extra_children_[value.parent].insert(row);
    ++extra_count_;
    order_valid_ = false;
    ++shape_changes_;
    r = value;
    return;
  }
  value.extra = r.extra;
  r = value;
  if (const uint32_t ordered = PreorderOf(row); ordered != kNotOrdered) order_[ordered].SetFacts(r);
}

void HierarchyIndex::DropRow(int64_t row) {
  if (row < 1 || static_cast<size_t>(row) >= rows_.size()) return;
  Row& r = rows_[static_cast<size_t>(row)];
  if (!r.exists) return;
  if (r.extra) UnlinkExtra(row);
  r = Row{};
  order_valid_ = false;
  ++shape_changes_;
}

void HierarchyIndex::UnlinkExtra(int64_t row) {
  Row& r = rows_[static_cast<size_t>(row)];
  auto it = extra_children_.find(r.parent);
  if (it != extra_children_.end() && it->second.erase(row) > 0) {
    --extra_count_;
    if (it->second.empty()) extra_children_.erase(it);
  }
  r.extra = false;
}

void HierarchyIndex::CompactChildren() {
  // A counting sort of rows by parent.
  child_begin_.assign(rows_.size() + 1, 0);
  size_t total = 0;
  const auto placed = [&](const Row& r) {
    return r.exists && static_cast<size_t>(r.parent) < rows_.size();
  };
  for (const Row& r : rows_) {
    if (!placed(r)) continue;
    ++child_begin_[static_cast<size_t>(r.parent) + 1];
    ++total;
  }
  for (size_t i = 1; i < child_begin_.size(); ++i) child_begin_[i] += child_begin_[i - 1];
  child_rows_.assign(total, 0);
  std::vector<uint32_t> next(child_begin_.begin(), child_begin_.end() - 1);
  for (size_t row = 0; row < rows_.size(); ++row) {
    Row& r = rows_[row];
    if (!placed(r)) continue;
    child_rows_[next[static_cast<size_t>(r.parent)]++] = static_cast<uint32_t>(row);
    r.extra = false;
  }
  extra_children_.clear();
  extra_count_ = 0;
  ComputePreorder();
}

void HierarchyIndex::ComputePreorder() {
  // Depth first from every root, with an explicit stack of (row, next
  // child) so that deep outlines cannot overflow the call stack.
  order_.clear();
  pre_.assign(rows_.size(), kNotOrdered);
  end_.assign(rows_.size(), 0);
  struct Frame {
    uint32_t row;
    uint32_t next;  // index into child_rows_
  };
  std::vector<Frame> stack;
  auto enter = [&](uint32_t row) {
    pre_[row] = static_cast<uint32_t>(order_.size());
    Ordered& o = order_.emplace_back();
    o.row = row;
    o.depth = static_cast<int32_t>(stack.size());
    o.SetFacts(rows_[row]);
    stack.push_back({row, child_begin_[row]});
  };
  for (uint32_t i = child_begin_[0]; i < child_begin_[1]; ++i) {
    enter(child_rows_[i]);
    while (!stack.empty()) {
      Frame& top = stack.back();
      if (top.next < child_begin_[top.row + 1]) {
        enter(child_rows_[top.next++]);  // `top` may move: not used after this
      } else {
        end_[top.row] = static_cast<uint32_t>(order_.size());
        stack.pop_back();
      }
    }
  }
  order_valid_ = true;
  shape_changes_ = 0;
}

}  // namespace nodespace::query
