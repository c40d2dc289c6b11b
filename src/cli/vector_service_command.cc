#include "cli/vector_service_command.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string_view>

#include "cli/cli.h"
#include "db/partitioned_vector_store.h"
#include "service/vector_service.h"

namespace nodespace::cli {
namespace {

// Set by the signal handler; a lock-free atomic store is async-signal-safe.
std::atomic<bool> stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);

void RequestStop(int) {
  stop_requested.store(true);
}

// Routes SIGTERM and SIGINT to RequestStop while it lives, so that either
// ends the service cleanly (its index is saved) instead of killing it.
class StopSignals {
 public:
  StopSignals() {
    struct sigaction action {};
    action.sa_handler = RequestStop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, &old_term_);
    sigaction(SIGINT, &action, &old_int_);
  }
  ~StopSignals() {
    sigaction(SIGTERM, &old_term_, nullptr);
    sigaction(SIGINT, &old_int_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_term_ {};
  struct sigaction old_int_ {};
};

}  // namespace

CLI::App* AddVectorServiceCommand(CLI::App& app, VectorServiceArgs& args) {
  auto* cmd =
      app.add_subcommand("vector-service",
                         "answer the database's vector searches for other processes (HTTP on "
                         "127.0.0.1) until SIGTERM or SIGINT");
  cmd->add_option("--port", args.port, "port to listen on (default: any free port)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--port-file", args.port_file,
                  "write the port to this file once listening (removed at exit)");
  cmd->add_option("--parent-pid", args.parent_pid,
                  "stop when this process is no longer the parent (set by the engine)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--exact-search-max-vectors", args.exact_search_max_vectors,
                  "up to this many vectors a search scores every one (Options)");
  cmd->add_option("--hnsw-m", args.hnsw_m, "graph links per node (Options::hnsw_m)")
      ->check(CLI::Range(2, 256));
  cmd->add_option("--hnsw-ef-construction", args.hnsw_ef_construction,
                  "graph build effort (Options::hnsw_ef_construction)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--hnsw-ef-search", args.hnsw_ef_search,
                  "graph search effort (Options::hnsw_ef_search)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--vector-index-save-every", args.vector_index_save_every,
                  "rewrite the index file after this many changes")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--memory-budget-mb", args.memory_budget_mb,
                  "over this resident memory, serve the indexes from their files (the "
                  "engine's vector cache tier; 0: no budget)")
      ->check(CLI::NonNegativeNumber);
  return cmd;
}

int RunVectorServiceCommand(const std::string& db_path, const VectorServiceArgs& args,
                            std::ostream& err) {
  service::VectorServiceOptions options;
  options.db_dir = db_path;
  options.port = args.port;
  options.port_file = args.port_file;
  options.parent_pid = args.parent_pid;
  options.options.exact_search_max_vectors = args.exact_search_max_vectors;
  options.options.hnsw_m = args.hnsw_m;
  options.options.hnsw_ef_construction = args.hnsw_ef_construction;
  options.options.hnsw_ef_search = args.hnsw_ef_search;
  options.options.vector_index_save_every = args.vector_index_save_every;
  options.memory_budget_mb = args.memory_budget_mb;
  // The service and its index log from several threads.
  std::mutex log_mu;
  const std::string prefix = "nodespace vector-service (pid " + std::to_string(::getpid()) + "): ";
  options.options.info_log = [&](std::string_view line) {
    std::lock_guard lock(log_mu);
    err << prefix << line << std::endl;
  };
  // Partitioned or not, the same store the engine searches in-process.
  options.make_store = [](const std::string& dir,
                          const Options& o) -> std::unique_ptr<VectorStore> {
    return std::make_unique<PartitionedVectorStore>(dir, o);
  };
  stop_requested = false;
  options.stop = &stop_requested;
  StopSignals signals;
  Status st = service::RunVectorService(options);
  if (!st.ok()) {
    err << "error: " << st.message() << "\n";
    return kExitError;
  }
  return kExitOk;
}

}  // namespace nodespace::cli
