// The `nodespace` command line. A Session runs commands against one database
// directory, opening it on first use; the script-test runner keeps a Session
// across commands and calls CloseDatabase() at `restart`.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "nodespace/database.h"

namespace nodespace::cli {

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;    // the command failed (message on stderr)
inline constexpr int kExitUsage = 2;    // bad arguments
inline constexpr int kExitPartial = 3;  // import finished but some lines were rejected

class Session {
 public:
  // `terminal`: stderr is a terminal (progress bars are drawn).
  Session(std::ostream& out, std::ostream& err, bool terminal);
  ~Session();

  // Runs one command line (without the program name). Returns the exit code.
  int Run(const std::vector<std::string>& args);

  void CloseDatabase();

 private:
  struct Globals;
  // `background_checks` false: the process's scaling manager applies only
  // what it is asked to (the `scaling` commands), not what its own periodic
  // checks would decide while a long action runs.
  Result<Database*> OpenDatabase(const std::string& path, bool create,
                                 bool background_checks = true);

  std::ostream& out_;
  std::ostream& err_;
  bool terminal_;
  std::unique_ptr<Database> db_;
  std::string db_path_;
  bool db_background_checks_ = true;
};

}  // namespace nodespace::cli
