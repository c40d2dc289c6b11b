// MCP (Model Context Protocol): the tools NodeSpace offers AI assistants,
// over JSON-RPC 2.0. The same session code serves POST /v1/mcp and
// `nodespace mcp` (newline-delimited JSON-RPC on stdin/stdout).
//
// Methods: initialize, notifications/initialized, ping, tools/list,
// tools/call. A tool that fails returns a result with isError (the model
// sees the message and can correct itself); malformed JSON-RPC gets the
// protocol's error codes (-32700 parse, -32600 request, -32601 method,
// -32602 params).
#pragma once

#include <functional>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>

#include "nodespace/database.h"

namespace nodespace::server {

struct McpAccess {
  bool can_write = true;       // false: write tools answer with an error
  std::string origin = "mcp";  // change-log origin of the session's writes
};

class McpSession {
 public:
  // `on_write(seq)` runs after each committed write (feeds wake).
  McpSession(Database& db, McpAccess access, std::function<void(int64_t)> on_write = {});

  // One JSON-RPC message or batch; null when nothing is to be sent back
  // (notifications). A discarded (unparseable) value yields a parse error.
  nlohmann::json Handle(const nlohmann::json& message);

  // The tool list as tools/list returns it.
  static nlohmann::json ToolList();

 private:
  nlohmann::json HandleOne(const nlohmann::json& request);
  nlohmann::json CallTool(const std::string& name, const nlohmann::json& args);

  Database& db_;
  const McpAccess access_;
  const std::function<void(int64_t)> on_write_;
};

// Serves MCP over stdio until end of input: one JSON message per line in,
// one per line out.
void RunMcpStdio(Database& db, std::istream& in, std::ostream& out);

}  // namespace nodespace::server
