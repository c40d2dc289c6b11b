// `nodespace search`: full-text and semantic search from the command line.
#pragma once

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>

#include "nodespace/database.h"

namespace nodespace::cli {

struct SearchArgs {
  std::string query;
  size_t limit = 10;
  bool include_archived = false;
  bool group_by_root = false;
  bool strict = false;  // no subtree or any-term fallback
  double title_weight = 3.0;
  // Vector search: by meaning of `query` (the built-in embedder) or by a
  // vector given as JSON array text.
  bool semantic = false;
  std::string vector_json;
  bool exact = false;
  size_t ef = 0;
  std::vector<std::string> types;
  std::string under;
  std::vector<std::string> where;            // "path=v1,v2"
  std::string created_from, created_before;  // YYYY-MM-DD or RFC 3339
};

struct EmbedArgs {
  int dims = 0;  // 0: 256 for the built-in embedder, the server's for --url
  std::string url;
  std::string model;
  bool pending = false;
};
CLI::App* AddEmbedCommand(CLI::App& app, EmbedArgs& args);
int RunEmbed(Database& db, const EmbedArgs& args, bool json, std::ostream& out, std::ostream& err);

// Registers the subcommand and its flags on `app`; values land in `args`.
CLI::App* AddSearchCommand(CLI::App& app, SearchArgs& args);

// Runs a parsed search; returns an exit code (see cli.h).
int RunSearch(Database& db, const SearchArgs& args, bool json, std::ostream& out,
              std::ostream& err);

}  // namespace nodespace::cli
