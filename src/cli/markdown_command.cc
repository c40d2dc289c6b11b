#include "cli/markdown_command.h"

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/progress.h"
#include "nodespace/markdown.h"

namespace nodespace::cli {
namespace {

// Bulk imports end with a full-text index merge, as `import` does.
constexpr uint64_t kOptimizeAfterNodes = 10000;

const std::vector<std::string> kFlavors = {"auto", "markdown", "obsidian", "logseq"};

}  // namespace

CLI::App* AddImportMdCommand(CLI::App& app, ImportMdArgs& args) {
  auto* cmd = app.add_subcommand(
      "import-md", "import a Markdown folder, Obsidian vault or Logseq graph (again: updates it)");
  cmd->add_option("path", args.path, "the folder")->required();
  cmd->add_option("--flavor", args.flavor, "auto (default), markdown, obsidian or logseq")
      ->check(CLI::IsMember(kFlavors));
  cmd->add_flag("--archive-removed", args.archive_removed,
                "archive the nodes of files imported before that are gone now");
  cmd->add_option("--vault-name", args.vault_name,
                  "part of every derived id (default: the folder's name)");
  cmd->add_option("--batch-size", args.batch_size, "operations per transaction")
      ->check(CLI::Range(1, 1000000));
  return cmd;
}

CLI::App* AddExportMdCommand(CLI::App& app, ExportMdArgs& args) {
  auto* cmd = app.add_subcommand("export-md", "write nodes as Markdown files: NODE|--all DIR");
  cmd->add_option("node", args.node, "the root (or any node) to export; omit with --all");
  cmd->add_option("dir", args.dir, "output folder")->required();
  cmd->add_flag("--all", args.all, "every root except collections");
  cmd->add_option("--flavor", args.flavor, "auto (as imported), markdown, obsidian or logseq")
      ->check(CLI::IsMember(kFlavors));
  cmd->add_flag("--with-ids", args.with_ids,
                "write node ids and versions, so that a re-import edits exactly these nodes");
  cmd->add_flag("-a,--include-archived", args.include_archived, "also archived and trashed nodes");
  return cmd;
}

int RunImportMd(Database& db, const ImportMdArgs& args, bool json, bool terminal, std::ostream& out,
                std::ostream& err) {
  MarkdownImportOptions o;
  o.flavor = ParseMarkdownFlavor(args.flavor).value_or(MarkdownFlavor::kAuto);
  o.archive_removed = args.archive_removed;
  o.vault_name = args.vault_name;
  o.batch_size = args.batch_size;
  // The total is known once the folder is listed, at the first report.
  std::unique_ptr<ProgressBar> bar;
  o.on_error = [&](const std::string& msg) {
    if (bar) bar->Finish();
    err << msg << "\n";
  };
  o.on_progress = [&](const MarkdownImportProgress& p) {
    if (!bar) bar = std::make_unique<ProgressBar>(err, p.bytes_total, terminal && !json);
    bar->Update(p.bytes_read, p.files_done);
  };
  const auto start = std::chrono::steady_clock::now();
  auto report = ImportMarkdown(db, args.path, o);
  if (bar) bar->Finish();
  if (!report.ok()) {
    err << "error: " << report.status().WithContext("import-md").message() << "\n";
    return kExitError;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& r = *report;
  if (r.nodes_created >= kOptimizeAfterNodes) {
    Status st = db.OptimizeTextIndex();
    if (!st.ok()) {
      err << "error: optimizing the full-text index after import: " << st.message() << "\n";
      return kExitError;
    }
  }
  for (const auto& u : r.unresolved) err << "unresolved link: " << u << "\n";
  if (json) {
    out << nlohmann::json({{"flavor", MarkdownFlavorName(r.flavor)},
                           {"files", r.files},
                           {"unchanged", r.files_unchanged},
                           {"failed", r.files_failed},
                           {"created", r.nodes_created},
                           {"updated", r.nodes_updated},
                           {"deleted", r.nodes_deleted},
                           {"archived_roots", r.roots_archived},
                           {"links_resolved", r.links_resolved},
                           {"links_unresolved", r.unresolved.size()},
                           {"seconds", secs}})
               .dump()
        << "\n";
  } else {
    out << "imported " << WithThousands(r.files) << " files (" << MarkdownFlavorName(r.flavor)
        << "): " << WithThousands(r.nodes_created) << " nodes created, "
        << WithThousands(r.nodes_updated) << " updated, " << WithThousands(r.nodes_deleted)
        << " deleted, " << WithThousands(r.files_unchanged) << " files unchanged";
    if (r.roots_archived > 0) out << ", " << r.roots_archived << " removed files archived";
    if (!r.unresolved.empty()) out << ", " << r.unresolved.size() << " unresolved links";
    if (r.files_failed > 0) out << ", " << r.files_failed << " failed";
    out << "\n";
  }
  return r.files_failed > 0 ? kExitPartial : kExitOk;
}

int RunExportMd(Database& db, const ExportMdArgs& args, bool json, std::ostream& out,
                std::ostream& err) {
  if (args.all == !args.node.empty()) {
    err << "error: give either NODE or --all\n";
    return kExitUsage;
  }
  MarkdownExportOptions o;
  o.flavor = ParseMarkdownFlavor(args.flavor).value_or(MarkdownFlavor::kAuto);
  o.root_id = args.node;
  o.with_ids = args.with_ids;
  o.include_archived = args.include_archived;
  auto report = ExportMarkdown(db, args.dir, o);
  if (!report.ok()) {
    err << "error: " << report.status().message() << "\n";
    return kExitError;
  }
  if (json) {
    out << nlohmann::json({{"files", report->files}, {"nodes", report->nodes}}).dump() << "\n";
  } else {
    out << "exported " << WithThousands(report->nodes) << " nodes to " << report->files
        << " files in " << args.dir << "\n";
  }
  return kExitOk;
}

}  // namespace nodespace::cli
