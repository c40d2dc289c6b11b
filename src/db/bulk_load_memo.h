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
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace nodespace {

class BulkLoadMemo {
 public:
  // Ids remembered at most (slots of 41 bytes, filled 7/16 to 7/8, and 32
  // bytes more for each parent's last child's key: about 175 MB at 2M):
  // past it the memo forgets and starts over, so a load of any size holds a
  // bounded amount of memory; the writes ask the table.
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
    nodes_ = {};  // clear() keeps the slots of up to millions of entries
    last_child_keys_ = {};
    active_ = false;
  }
  bool active() const { return active_; }
  // Whether the memo knows every row of the table (see above).
  bool complete() const { return complete_; }

  // Drops everything remembered; later writes ask the table again.
  void Forget() {
    complete_ = false;
    nodes_.clear();
    last_child_keys_.clear();
    roots_ = kNoKnownLastChild;
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
    const uint32_t* node = parent.empty() ? &roots_ : Find(parent);
    if (node != nullptr && *node != kNoKnownLastChild) return &last_child_keys_[*node];
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
    uint32_t* node = parent.empty() ? &roots_ : Find(parent);
    if (node == nullptr) return;  // forgotten meanwhile: its children are unknown
    if (*node != kNoKnownLastChild) {
      std::string& last = last_child_keys_[*node];
      if (last < order_key) last = order_key;
    } else if (appended || complete_) {
      *node = static_cast<uint32_t>(last_child_keys_.size());
      last_child_keys_.push_back(order_key);
    }
  }

 private:
  // A node's entry: where its last child's key is in last_child_keys_, or
  // kNoKnownLastChild. Most nodes of a load are leaves, so the keys of the
  // few that are parents live apart and each entry is an id and 4 bytes.
  static constexpr uint32_t kNoKnownLastChild = UINT32_MAX;

  // A create asks about its parent three times (exists, last child, then
  // records the new child): the last entry found answers the repeats
  // without hashing again. A flat_hash_map moves its entries when it grows,
  // so Remember resets `last_` then, as Forget does.
  uint32_t* Find(const std::string& id) {
    if (last_ != nullptr && last_->first == id) return &last_->second;
    auto it = nodes_.find(id);
    if (it == nodes_.end()) return nullptr;
    last_ = &*it;
    return &it->second;
  }
  void Remember(const std::string& id) {
    if (nodes_.size() >= max_ids_) Forget();
    const size_t capacity = nodes_.capacity();
    nodes_.try_emplace(id, kNoKnownLastChild);
    if (nodes_.capacity() != capacity) last_ = nullptr;
  }

  const size_t max_ids_;
  bool active_ = false;
  bool complete_ = false;
  int64_t data_version_ = 0;
  // Open addressing: a lookup probes one flat array instead of following a
  // bucket to an entry allocated on its own. At 1M nodes the loading thread
  // spent 0.7-4.0 s less CPU than with std::unordered_map, for 19 MiB more
  // peak memory (both arrays live while it grows; docs/BENCHMARKS.md).
  absl::flat_hash_map<std::string, uint32_t> nodes_;
  std::vector<std::string> last_child_keys_;
  uint32_t roots_ = kNoKnownLastChild;  // the roots' "parent"
  std::pair<const std::string, uint32_t>* last_ = nullptr;
};

}  // namespace nodespace
