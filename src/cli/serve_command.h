// `nodespace serve`: the HTTP server (include/nodespace/server.h) until
// SIGTERM or SIGINT, then a graceful stop (exit 0). `nodespace keys`: API
// keys. `nodespace mcp`: MCP over stdio.
//
// Serve options come from a config file (--config, INI/TOML with the same
// names), then NODESPACE_* environment variables, then flags; each later
// source wins.
#pragma once

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "nodespace/server.h"

namespace nodespace::cli {

struct ServeArgs {
  ServerOptions server;
  std::string port_file;  // where the port is written once listening
  double max_body_mib = 16;
  std::string config_file;
  CLI::App* command = nullptr;  // the serve subcommand (config file options)
};

CLI::App* AddServeCommand(CLI::App& app, ServeArgs& args);
int RunServeCommand(const std::string& db_path, ServeArgs& args, std::ostream& out,
                    std::ostream& err);

struct KeysArgs {
  CLI::App* create = nullptr;
  CLI::App* list = nullptr;
  CLI::App* revoke = nullptr;
  std::string name;
  std::string role = "read";
  std::vector<std::string> scopes;
  std::string id;
};

CLI::App* AddKeysCommand(CLI::App& app, KeysArgs& args);
int RunKeysCommand(const std::string& db_path, const KeysArgs& args, bool json, std::ostream& out,
                   std::ostream& err);

CLI::App* AddMcpCommand(CLI::App& app);
int RunMcpCommand(const std::string& db_path, std::istream& in, std::ostream& out,
                  std::ostream& err);

}  // namespace nodespace::cli
