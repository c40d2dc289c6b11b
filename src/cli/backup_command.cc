#include "cli/backup_command.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/progress.h"

namespace nodespace::cli {
namespace {

void PrintReport(const char* verb, const BackupReport& r, const std::string& where, bool json,
                 std::ostream& out) {
  if (json) {
    out << nlohmann::json({{"path", r.path},
                           {"change_seq", r.change_seq},
                           {"node_count", r.node_count},
                           {"bytes", r.bytes},
                           {"seconds", r.seconds}})
               .dump()
        << "\n";
    return;
  }
  char secs[32];
  std::snprintf(secs, sizeof(secs), "%.2f", r.seconds);
  out << verb << " " << WithThousands(static_cast<uint64_t>(r.node_count)) << " node"
      << (r.node_count == 1 ? "" : "s") << " (changes up to seq " << r.change_seq << ") " << where
      << ": " << WithThousands(static_cast<uint64_t>(r.bytes)) << " bytes in " << secs << " s\n";
}

}  // namespace

CLI::App* AddBackupCommand(CLI::App& app, BackupArgs& args) {
  auto* cmd = app.add_subcommand(
      "backup", "write a consistent copy of the database to DEST while it stays in use");
  cmd->add_option("dest", args.dest, "backup directory (must not exist or be empty)")->required();
  return cmd;
}

CLI::App* AddRestoreBackupCommand(CLI::App& app, RestoreBackupArgs& args) {
  auto* cmd = app.add_subcommand(
      "restore-backup", "replace the database (--db) with a backup, after checking the backup");
  cmd->add_option("backup", args.backup, "a directory written by `nodespace backup`")->required();
  cmd->add_flag("-f,--force", args.force, "replace an existing database");
  return cmd;
}

int RunBackup(Database& db, const BackupArgs& args, bool json, std::ostream& out,
              std::ostream& err) {
  Result<BackupReport> report = db.Backup(args.dest);
  if (!report.ok()) {
    err << "error: " << report.status().message() << "\n";
    return kExitError;
  }
  PrintReport("backed up", *report, "to " + report->path, json, out);
  return kExitOk;
}

int RunRestoreBackup(const std::string& db_path, const RestoreBackupArgs& args, bool json,
                     std::ostream& out, std::ostream& err) {
  Result<BackupReport> report = Database::Restore(args.backup, db_path, args.force);
  if (!report.ok()) {
    err << "error: " << report.status().message() << "\n";
    return kExitError;
  }
  PrintReport("restored", *report, "into " + report->path, json, out);
  return kExitOk;
}

}  // namespace nodespace::cli
