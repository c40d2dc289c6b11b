// `nodespace vector-service [--port N] [--port-file F]`: runs the dedicated
// vector service for the database named by --db until SIGTERM or SIGINT
// (src/service/vector_service.h). The engine's VectorServiceSupervisor starts
// it this way; it can also be run by hand.
#pragma once

#include <sys/types.h>

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>

#include "nodespace/options.h"

namespace nodespace::cli {

struct VectorServiceArgs {
  int port = 0;           // 0: any free port
  std::string port_file;  // where the port is written once listening
  pid_t parent_pid = 0;   // > 0: stop when this process is no longer the parent
  // The engine's vector settings (Options), passed on by the supervisor.
  size_t exact_search_max_vectors = Options().exact_search_max_vectors;
  uint32_t hnsw_m = Options().hnsw_m;
  uint32_t hnsw_ef_construction = Options().hnsw_ef_construction;
  uint32_t hnsw_ef_search = Options().hnsw_ef_search;
  size_t vector_index_save_every = Options().vector_index_save_every;
  int64_t memory_budget_mb = 0;  // the engine's vector cache tier; 0: none
};

CLI::App* AddVectorServiceCommand(CLI::App& app, VectorServiceArgs& args);

// Serves `db_path` (which the session must not hold open) until a signal.
int RunVectorServiceCommand(const std::string& db_path, const VectorServiceArgs& args,
                            std::ostream& err);

}  // namespace nodespace::cli
