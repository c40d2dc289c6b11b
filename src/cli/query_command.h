// `nodespace query`: the query engine from the command line. A JSON query
// (docs/API.md, "Query JSON") and/or convenience flags, which are ANDed onto
// the JSON's filters.
#pragma once

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "nodespace/database.h"

namespace nodespace::cli {

struct QueryArgs {
  std::string json;  // the query as JSON; "-" reads it from stdin
  std::string text;
  std::string semantic;
  std::string vector_json;
  std::vector<std::string> types;
  std::string under;
  int depth = -1;
  std::vector<std::string> where;  // "FIELD OP VALUE" with OP one of = != < <= > >= ~
  std::vector<std::string> sort;   // "FIELD[:asc|:desc]"
  size_t limit = 0;                // 0: the query's (or the default 20)
  std::string cursor;
  bool group_by_root = false;
  bool include_archived = false;
  std::vector<std::string> facets;  // "FIELD[:N]"
  std::string strategy;
  bool explain = false;
  bool no_cache = false;
  std::string output = "text";  // text | json
};

CLI::App* AddQueryCommand(CLI::App& app, QueryArgs& args);

// Builds the Query the arguments describe (exposed for tests).
Result<Query> QueryFromArgs(const QueryArgs& args, std::istream& in);

int RunQueryCommand(Database& db, const QueryArgs& args, bool json, std::istream& in,
                    std::ostream& out, std::ostream& err);

}  // namespace nodespace::cli
