#include "cli/serve_command.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "env/env.h"
#include "model/ids.h"
#include "server/api_keys.h"
#include "server/mcp.h"

namespace nodespace::cli {

CLI::App* AddServeCommand(CLI::App& app, ServeArgs& args) {
  auto* cmd = app.add_subcommand(
      "serve", "serve the database over HTTP (/v1 API, change feed, MCP, /metrics)");
  ServerOptions& o = args.server;
  cmd->add_option("--config", args.config_file,
                  "INI/TOML file of serve options (key = value, the long option names); the "
                  "environment and flags override it")
      ->check(CLI::ExistingFile);
  args.command = cmd;
  cmd->add_option("--host", o.host, "address to listen on (non-loopback needs API keys)")
      ->envname("NODESPACE_HOST")
      ->capture_default_str();
  cmd->add_option("--port", o.port, "port (0: any free port)")
      ->envname("NODESPACE_PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--port-file", args.port_file, "write the port here once listening");
  cmd->add_flag("--require-keys", o.require_keys, "refuse requests without an API key")
      ->envname("NODESPACE_REQUIRE_KEYS");
  cmd->add_option("--backup-dir", o.backup_dir, "backups and restores only inside this directory")
      ->envname("NODESPACE_BACKUP_DIR");
  cmd->add_option("--access-log", o.access_log, "access log file (default stderr, - for stdout)")
      ->envname("NODESPACE_ACCESS_LOG");
  cmd->add_option("--max-body-mib", args.max_body_mib, "largest request body (import excepted)")
      ->envname("NODESPACE_MAX_BODY_MIB")
      ->check(CLI::Range(0.001, 1024.0))
      ->capture_default_str();
  cmd->add_option("--rate-limit", o.rate_limit_per_second, "requests per second per key (0: off)")
      ->envname("NODESPACE_RATE_LIMIT")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--rate-burst", o.rate_limit_burst, "requests a key may make at once")
      ->envname("NODESPACE_RATE_BURST")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-batch", o.max_batch_operations, "operations per batch request")
      ->envname("NODESPACE_MAX_BATCH")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--query-timeout-ms", o.query_timeout_ms,
                  "queries running longer are stopped (422 query_timeout); 0: no limit")
      ->envname("NODESPACE_QUERY_TIMEOUT_MS")
      ->check(CLI::Range(0, 3600000))
      ->capture_default_str();
  cmd->add_option("--max-connections", o.max_connections, "connection threads at most")
      ->envname("NODESPACE_MAX_CONNECTIONS")
      ->check(CLI::Range(8, 65536))
      ->capture_default_str();
  cmd->add_option("--read-timeout", o.read_timeout_s, "seconds a silent client is kept")
      ->envname("NODESPACE_READ_TIMEOUT")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->add_flag("!--no-access-log", o.access_log_enabled, "do not write the access log");
  return cmd;
}

namespace {

// Applies `key = value` lines of a config file to the options of `cmd` that
// neither a flag nor the environment set. (CLI11 2.1 reads config files
// only for the top-level command, so serve does it itself.)
Status ApplyConfigFile(CLI::App& cmd, const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read config file '" + path + "'");
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    auto trim = [](std::string s) {
      const size_t b = s.find_first_not_of(" \t\r");
      const size_t e = s.find_last_not_of(" \t\r");
      return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';' || line == "[serve]") continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument(path + ":" + std::to_string(number) +
                                     ": expected key = value");
    }
    std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    std::replace(key.begin(), key.end(), '_', '-');
    CLI::Option* opt = nullptr;
    try {
      opt = cmd.get_option("--" + key);
    } catch (const CLI::OptionNotFound&) {
    }
    if (opt == nullptr || key == "config" || key == "port-file") {
      return Status::InvalidArgument(path + ":" + std::to_string(number) + ": unknown option '" +
                                     key + "'");
    }
    if (opt->count() > 0) continue;  // a flag or the environment set it
    try {
      opt->add_result(value);
      opt->run_callback();
    } catch (const CLI::Error& e) {
      return Status::InvalidArgument(path + ":" + std::to_string(number) + ": " + key + ": " +
                                     e.what());
    }
  }
  return Status::OK();
}

}  // namespace

int RunServeCommand(const std::string& db_path, ServeArgs& args, std::ostream& out,
                    std::ostream& err) {
  if (!args.config_file.empty()) {
    Status s = ApplyConfigFile(*args.command, args.config_file);
    if (!s.ok()) {
      err << "error: " << s.message() << "\n";
      return kExitUsage;
    }
  }
  ServerOptions o = args.server;
  o.database_path = db_path;
  o.max_body_bytes = static_cast<size_t>(args.max_body_mib * 1024 * 1024);
  std::mutex log_mu;
  o.info_log = [&](std::string_view line) {
    std::lock_guard lock(log_mu);
    err << line << std::endl;
  };
  o.database.info_log = o.info_log;

  // SIGTERM and SIGINT are taken by sigwait below, never by a handler:
  // block them before any server thread starts so every thread inherits it.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigset_t old;
  pthread_sigmask(SIG_BLOCK, &stop, &old);

  auto server = Server::Start(o);
  if (!server.ok()) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    err << "error: " << server.status().message() << "\n";
    return kExitError;
  }
  out << "NodeSpace is serving " << db_path << " at " << (*server)->url() << "\n" << std::flush;
  if (!args.port_file.empty()) {
    Status s = WriteFileAtomically(*Env::Default(), args.port_file,
                                   std::to_string((*server)->port()) + "\n");
    if (!s.ok()) err << "warning: " << s.message() << "\n";
  }
  int sig = 0;
  sigwait(&stop, &sig);
  (*server)->Shutdown();
  server->reset();
  if (!args.port_file.empty()) std::remove(args.port_file.c_str());
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return kExitOk;
}

CLI::App* AddKeysCommand(CLI::App& app, KeysArgs& args) {
  auto* cmd = app.add_subcommand("keys", "API keys for `nodespace serve`");
  cmd->require_subcommand(1);
  args.create = cmd->add_subcommand("create", "create a key; prints it once");
  args.create->add_option("--name", args.name, "what the key is for");
  args.create->add_option("--role", args.role, "read, write or admin")
      ->check(CLI::IsMember({"read", "write", "admin"}))
      ->capture_default_str();
  args.create->add_option("--scope", args.scopes,
                          "node id whose subtree the key may use (repeatable; default: all)");
  args.list = cmd->add_subcommand("list", "list keys (never their secret)");
  args.revoke = cmd->add_subcommand("revoke", "revoke a key at once");
  args.revoke->add_option("id", args.id, "the key's id")->required();
  return cmd;
}

int RunKeysCommand(const std::string& db_path, const KeysArgs& args, bool json, std::ostream& out,
                   std::ostream& err) {
  auto fail = [&](const Status& s) {
    err << "error: " << s.message() << "\n";
    return kExitError;
  };
  if (!Env::Default()->FileExists(db_path)) {
    return fail(Status::NotFound("no database at '" + db_path + "'"));
  }
  server::ApiKeyStore store(db_path + "/api-keys.json");
  if (args.create->parsed()) {
    auto key = store.Create(args.name, *server::ParseRole(args.role), args.scopes);
    if (!key.ok()) return fail(key.status());
    if (json) {
      out << nlohmann::json({{"key", *key}, {"role", args.role}, {"scopes", args.scopes}}).dump()
          << "\n";
    } else {
      out << *key << "\n";
      err << "this is the only time the key is shown; the server stores only its hash\n";
    }
    return kExitOk;
  }
  if (args.revoke->parsed()) {
    Status s = store.Revoke(args.id);
    if (!s.ok()) return fail(s);
    out << "revoked " << args.id << "\n";
    return kExitOk;
  }
  auto keys = store.List();
  if (!keys.ok()) return fail(keys.status());
  nlohmann::json arr = nlohmann::json::array();
  for (const server::ApiKey& k : *keys) {
    arr.push_back({{"id", k.id},
                   {"name", k.name},
                   {"role", server::RoleName(k.role)},
                   {"scopes", k.scopes},
                   {"created_at", ids::FormatTimestamp(k.created_at_ms)},
                   {"revoked", k.revoked_at_ms != 0}});
  }
  if (json) {
    out << arr.dump() << "\n";
  } else {
    for (const auto& k : arr) {
      out << k["id"].get<std::string>() << "  " << k["role"].get<std::string>()
          << (k["revoked"].get<bool>() ? "  revoked" : "") << "  " << k["name"].get<std::string>()
          << "\n";
    }
  }
  return kExitOk;
}

CLI::App* AddMcpCommand(CLI::App& app) {
  return app.add_subcommand(
      "mcp", "serve MCP (JSON-RPC 2.0, one message per line) on stdin/stdout for an AI assistant");
}

int RunMcpCommand(const std::string& db_path, std::istream& in, std::ostream& out,
                  std::ostream& err) {
  Options options;
  options.info_log = [&](std::string_view line) { err << line << std::endl; };
  auto db = Database::Open(db_path, options);
  if (!db.ok()) {
    err << "error: " << db.status().message() << "\n";
    return kExitError;
  }
  server::RunMcpStdio(**db, in, out);
  return kExitOk;
}

}  // namespace nodespace::cli
