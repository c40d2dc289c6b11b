// What a bulk load's own writes tell it about the nodes table, so that its
// creates need not ask the table.
//
// Why: every create looks three things up in B-trees of up to a million
// random keys: whether its id exists, whether its parent exists, and its
// parent's last child's order key (for an append). During a load nearly
// every row those lookups find was written by the load itself, so it can
// remember them instead: a 1M-node load took 29.6-31.6 s with the memo and
// 34.6-38.4 s without (docs/BENCHMARKS.md). The rows' own inserts still
// walk the same B-trees; what is saved is the second walk.
//
// When it may be trusted: only while every write to the table goes through
// writes that keep it up to date. Database::Impl forgets it (Forget) at the
// start of a write transaction that another connection's commit preceded
// (PRAGMA data_version), after any transaction that did not keep it
// (WriteContext::bulk_memo unset: updates, moves, deletes, restores, any
// write outside a batch) and after any rollback. Forgetting is always safe:
// the writes ask the table again. `complete` says that the table holds
// nothing the memo does not know (the table was empty when the load began
// and nothing was forgotten since), so an id it does not know is absent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>

namespace nodespace {

class BulkLoadMemo {
 public:
  // Ids remembered at most (about 100 bytes each with their last child's
  // key): past it the memo forgets and starts over, so a load of any size
  // holds a bounded amount of memory; the writes ask the table.
  static constexpr size_t kDefaultMaxIds = 2'000'000;

  explicit BulkLoadMemo(size_t max_ids = kDefaultMaxIds) : max_ids_(max_ids) {}

  // Starts remembering. `table_empty`: the nodes table has no row now;
  // `data_version`: the writer's PRAGMA data_version in the same transaction.
  void Start(bool table_empty, int64_t data_version) {
    Forget();
    active_ = true;
    complete_ = table_empty;
    data_version_ = data_version;
  }
  void Stop() {
    Forget();
    nodes_ = {};  // clear() keeps the buckets of up to millions of entries
    active_ = false;
  }
  bool active() const { return active_; }
  // Whether the memo knows every row of the table (see above).
  bool complete() const { return complete_; }

  // Drops everything remembered; later writes ask the table again.
  void Forget() {
    complete_ = false;
    nodes_.clear();
    roots_ = Node{};
    last_ = nullptr;
  }
  // Forgets when the writer's data version moved (another connection
  // committed) since the last call.
  void CheckDataVersion(int64_t data_version) {
    if (data_version == data_version_) return;
    Forget();
    data_version_ = data_version;
  }

  // Whether `id` exists: true, false, or unknown (ask the table).
  enum class Answer { kYes, kNo, kUnknown };
  Answer Exists(const std::string& id) {
    if (Find(id) != nullptr) return Answer::kYes;
    return complete_ ? Answer::kNo : Answer::kUnknown;
  }
  // The largest order key among `parent`'s children ("" for none; `parent`
  // "" for the roots), when known.
  const std::string* LastChildKey(const std::string& parent) {
    static const std::string kNone;
    const Node* node = parent.empty() ? &roots_ : Find(parent);
    if (node != nullptr && node->last_child_known) return &node->last_child_key;
    return complete_ ? &kNone : nullptr;
  }

  // Records a node that exists (found in the table, or written in the
  // current transaction).
  void Found(const std::string& id) { Remember(id); }
  // Records a create. `appended`: its key was made after the parent's last
  // child's (known from the memo or the table), so it is the last one now.
  void Created(const std::string& id, const std::string& parent, const std::string& order_key,
               bool appended) {
    Remember(id);
    Node* node = parent.empty() ? &roots_ : Find(parent);
    if (node == nullptr) return;  // forgotten meanwhile: its children are unknown
    if (node->last_child_known) {
      if (node->last_child_key < order_key) node->last_child_key = order_key;
    } else if (appended || complete_) {
      node->last_child_known = true;
      node->last_child_key = order_key;
    }
  }

 private:
  struct Node {
    bool last_child_known = false;
    std::string last_child_key;
  };

  // A create asks about its parent three times (exists, last child, then
  // records the new child): the last node found answers the repeats without
  // hashing again. Elements of an unordered_map keep their address until
  // erased, and Forget resets `last_`.
  Node* Find(const std::string& id) {
    if (last_ != nullptr && last_->first == id) return &last_->second;
    auto it = nodes_.find(id);
    if (it == nodes_.end()) return nullptr;
    last_ = &*it;
    return &it->second;
  }
  void Remember(const std::string& id) {
    if (nodes_.size() >= max_ids_) Forget();
    nodes_.try_emplace(id);
  }

  const size_t max_ids_;
  bool active_ = false;
  bool complete_ = false;
  int64_t data_version_ = 0;
  std::unordered_map<std::string, Node> nodes_;
  Node roots_;  // the roots' "parent"
  std::pair<const std::string, Node>* last_ = nullptr;
};

}  // namespace nodespace
