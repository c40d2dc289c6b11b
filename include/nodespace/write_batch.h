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

  void Create(NewNode node) { Add(CreateOp{std::move(node)}); }
  void Update(std::string id, NodePatch patch, int64_t expected_version = kAnyVersion) {
    Add(UpdateOp{std::move(id), std::move(patch), expected_version});
  }
  void Move(std::string id, std::string new_parent_id, Position position = {},
            int64_t expected_version = kAnyVersion) {
    Add(MoveOp{std::move(id), std::move(new_parent_id), std::move(position), expected_version});
  }
  void Delete(std::string id, int64_t expected_version = kAnyVersion) {
    Add(DeleteOp{std::move(id), expected_version});
  }
  void AddEdge(Edge edge) { Add(AddEdgeOp{std::move(edge)}); }
  void RemoveEdge(std::string from_id, std::string to_id, std::string type) {
    Add(RemoveEdgeOp{std::move(from_id), std::move(to_id), std::move(type)});
  }
  // Appends an operation whose changes carry `origin` in the change log
  // instead of WriteOptions::origin: a server that commits the writes of many
  // clients together (group commit) keeps each client's echo marker.
  void Add(Op op, std::string origin = "") {
    ops_.push_back(std::move(op));
    origins_.push_back(std::move(origin));
  }

  size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }
  void Clear() {
    ops_.clear();
    origins_.clear();
  }
  const std::vector<Op>& ops() const { return ops_; }
  // The origin given to Add for operation `i` ("" when none was).
  const std::string& origin(size_t i) const { return origins_[i]; }

 private:
  std::vector<Op> ops_;
  std::vector<std::string> origins_;  // parallel to ops_
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
