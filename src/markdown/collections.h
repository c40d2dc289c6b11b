// Collection paths ("a:b:c") to collection node ids, for an import that adds
// thousands of memberships: one lookup per distinct path, and missing
// collections created inside the caller's batch (not one transaction each,
// as Database::AddToCollection would).
#pragma once

#include <map>
#include <string>

#include "nodespace/database.h"

namespace nodespace::markdown {

// Not thread-safe; one per import.
class CollectionResolver {
 public:
  explicit CollectionResolver(const Database& db) : db_(db) {}

  // The id of the collection at `path`. Collections that do not exist are
  // added to `batch` (with ids derived from the path), so the id is valid
  // once the batch commits.
  Result<std::string> Resolve(const std::string& path, WriteBatch* batch);

  // The id if the collection exists (or was created by this resolver), else "".
  Result<std::string> Find(const std::string& path);

 private:
  Result<std::string> Walk(const std::string& path, WriteBatch* batch);
  // Child collections of `parent` ("" for top-level ones) by name.
  Result<std::map<std::string, std::string>*> ChildrenOf(const std::string& parent);

  const Database& db_;
  std::map<std::string, std::string> by_path_;
  std::map<std::string, std::map<std::string, std::string>> children_;
};

}  // namespace nodespace::markdown
