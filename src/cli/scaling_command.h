// `nodespace scaling`: what the scaling manager sees and did, and operator
// controls (status, history, check, apply ACTION [--dry-run], migrate N).
#pragma once

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>

#include "nodespace/database.h"

namespace nodespace::cli {

struct ScalingArgs {
  CLI::App* status = nullptr;
  CLI::App* history = nullptr;
  CLI::App* check = nullptr;
  CLI::App* apply = nullptr;
  CLI::App* migrate = nullptr;
  std::string action;
  bool dry_run = false;
  int phase = 0;
  size_t limit = 20;
};

CLI::App* AddScalingCommand(CLI::App& app, ScalingArgs& args);

int RunScalingCommand(Database& db, const ScalingArgs& args, bool json, std::ostream& out,
                      std::ostream& err);

}  // namespace nodespace::cli
