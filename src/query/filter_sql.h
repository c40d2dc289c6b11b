// Compiles a query's filter tree into one SQL boolean expression over the
// `nodes` table (alias `n`), with every user value bound as a parameter.
//
// Property paths are inlined as SQL string literals (they are restricted to
// [A-Za-z0-9_-] segments) rather than bound, so that the expression text
// json_extract(n.properties, '$."a"."b"') can use an expression index built
// for that property.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nodespace/query.h"
#include "storage/sqlite.h"

namespace nodespace::query {

struct SqlExpr {
  std::string sql;
  std::vector<QueryValue> args;  // bound in order as ?1, ?2, ... by BindArgs

  // Appends `other` with AND.
  void And(const SqlExpr& other);
};

// Resolves a collection path to its node id (NotFound when missing).
using CollectionResolver = std::function<Result<std::string>(const std::string& path)>;

// The SQL expression a field names ("created_at" -> "n.created_at",
// "properties.task.status" -> json_extract(...)). InvalidArgument for an
// unknown field.
Result<std::string> FieldSql(const std::string& field);
// The JSON path literal for "properties.<path>", e.g. '$."task"."status"'.
Result<std::string> PropertyPathLiteral(const std::string& field);
// What an index on `nodes` must index for SQLite to serve FieldSql's
// expression for a property: the same without the table alias,
// json_extract(properties, '$."task"."status"'). SQLite matches expression
// indexes only to structurally equal expressions.
Result<std::string> PropertyIndexExpression(const std::string& field);

// How `under` conditions are tested.
enum class SubtreeTest : uint8_t {
  kEnumerate,  // list the subtree once (for scanning many rows)
  kAncestors,  // walk each row's ancestors (for checking a few candidates)
};

// `filter` as SQL. Values must already be normalised (NormalizeQuery turns
// dates into milliseconds; lifecycle names stay text).
Result<SqlExpr> CompileFilter(const Filter& filter, const CollectionResolver& resolve,
                              SubtreeTest subtree_test = SubtreeTest::kEnumerate);

// Whether the filter tree names `field` in a comparison anywhere.
bool FilterMentionsField(const Filter& filter, const std::string& field);

// Inclusive bounds on created_at that every row passing `filter` obeys (its
// top-level AND of comparisons; OR and NOT give none). Values must be
// normalised (milliseconds). Lets a partitioned vector search prune.
struct CreatedBounds {
  std::optional<int64_t> min, max;
};
CreatedBounds CreatedAtBounds(const Filter& filter);

// Binds `args` starting at parameter `first`.
void BindArgs(storage::Statement& stmt, const std::vector<QueryValue>& args, int first = 1);

}  // namespace nodespace::query
