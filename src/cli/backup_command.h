// `nodespace backup DEST` and `nodespace restore-backup BACKUP [--force]`:
// online backups and restoring them (include/nodespace/backup.h).
//
// The restore command is not called `restore`: that name already sets a
// trashed or archived subtree active again.
#pragma once

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>

#include "nodespace/database.h"

namespace nodespace::cli {

struct BackupArgs {
  std::string dest;  // the backup directory; must not exist or be empty
};

struct RestoreBackupArgs {
  std::string backup;  // a directory written by `nodespace backup`
  bool force = false;  // replace an existing database
};

CLI::App* AddBackupCommand(CLI::App& app, BackupArgs& args);
CLI::App* AddRestoreBackupCommand(CLI::App& app, RestoreBackupArgs& args);

int RunBackup(Database& db, const BackupArgs& args, bool json, std::ostream& out,
              std::ostream& err);
// Restores into `db_path`, which must not be open (the caller closes it).
int RunRestoreBackup(const std::string& db_path, const RestoreBackupArgs& args, bool json,
                     std::ostream& out, std::ostream& err);

}  // namespace nodespace::cli
