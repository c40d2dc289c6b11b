// WriteBatch: many operations applied in one SQLite transaction.
//
// Imports use it so that a batch is either wholly committed or wholly absent,
// and so that thousands of nodes cost one commit (one fsync), not thousands.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "nodespace/node.h"
#include "nodespace/status.h"

namespace nodespace {

class WriteBatch {
 public:
  struct CreateOp {
    NewNode node;
  };
  struct UpdateOp {
    std::string id;
    NodePatch patch;
    int64_t expected_version = kAnyVersion;
  };
  struct MoveOp {
    std::string id;
    std::string new_parent_id;  // empty: make it a root
    Position position;
    int64_t expected_version = kAnyVersion;
  };
  struct DeleteOp {
    std::string id;
    int64_t expected_version = kAnyVersion;
  };
  struct AddEdgeOp {
    Edge edge;
  };
  struct RemoveEdgeOp {
    std::string from_id, to_id, type;
  };
  using Op = std::variant<CreateOp, UpdateOp, MoveOp, DeleteOp, AddEdgeOp, RemoveEdgeOp>;

  void Create(NewNode node) { ops_.emplace_back(CreateOp{std::move(node)}); }
  void Update(std::string id, NodePatch patch, int64_t expected_version = kAnyVersion) {
    ops_.emplace_back(UpdateOp{std::move(id), std::move(patch), expected_version});
  }
  void Move(std::string id, std::string new_parent_id, Position position = {},
            int64_t expected_version = kAnyVersion) {
    ops_.emplace_back(
        MoveOp{std::move(id), std::move(new_parent_id), std::move(position), expected_version});
  }
  void Delete(std::string id, int64_t expected_version = kAnyVersion) {
    ops_.emplace_back(DeleteOp{std::move(id), expected_version});
  }
  void AddEdge(Edge edge) { ops_.emplace_back(AddEdgeOp{std::move(edge)}); }
  void RemoveEdge(std::string from_id, std::string to_id, std::string type) {
    ops_.emplace_back(RemoveEdgeOp{std::move(from_id), std::move(to_id), std::move(type)});
  }

  size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }
  void Clear() { ops_.clear(); }
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
};

struct WriteOptions {
  // Identifies the writer in the change log (e.g. an editor session), so a
  // subscriber can ignore its own echoes. Empty for anonymous writes.
  std::string origin;
  // true: the first failing operation rolls back the whole batch.
  // false: a failing operation is skipped (it wrote nothing) and reported in
  // BatchResult; the others commit together.
  bool atomic = true;
  // With atomic = false: stop at the first failing operation; the ones before
  // it commit, the ones after it are not attempted (BatchResult::results ends
  // with the failure).
  bool stop_at_first_error = false;
};

struct BatchResult {
  struct OpResult {
    Status status;
    std::string node_id;   // the node created/changed, when there is one
    int64_t version = 0;   // its version after the operation
    int64_t affected = 0;  // nodes changed (a subtree delete counts each node)
  };
  std::vector<OpResult> results;  // one per operation, in order
  size_t failed = 0;
  int64_t last_change_seq = 0;  // the change log position after the commit
};

}  // namespace nodespace
