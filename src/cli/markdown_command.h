// `nodespace import-md` and `nodespace export-md`: Markdown folders, Obsidian
// vaults and Logseq graphs in and out (include/nodespace/markdown.h).
#pragma once

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>

#include "nodespace/database.h"

namespace nodespace::cli {

struct ImportMdArgs {
  std::string path;
  std::string flavor = "auto";
  std::string vault_name;
  bool archive_removed = false;
  size_t batch_size = 2000;
};

struct ExportMdArgs {
  std::string node;  // empty with --all
  bool all = false;
  std::string dir;
  std::string flavor = "auto";
  bool with_ids = false;
  bool include_archived = false;
};

CLI::App* AddImportMdCommand(CLI::App& app, ImportMdArgs& args);
CLI::App* AddExportMdCommand(CLI::App& app, ExportMdArgs& args);

// Exit codes as in cli.h: kExitPartial when some files could not be imported.
int RunImportMd(Database& db, const ImportMdArgs& args, bool json, bool terminal, std::ostream& out,
                std::ostream& err);
int RunExportMd(Database& db, const ExportMdArgs& args, bool json, std::ostream& out,
                std::ostream& err);

}  // namespace nodespace::cli
