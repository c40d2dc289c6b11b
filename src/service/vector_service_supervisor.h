// VectorServiceSupervisor: the engine's side of the dedicated vector
// service. It starts `nodespace vector-service` as a child process, watches
// it, restarts it when it dies, and hands out the RemoteVectorStore that
// talks to it while it is healthy.
//
// The child: `<binary> vector-service --db DIR --port-file DIR/
// vector-service.port --parent-pid PID` and the engine's vector settings
// (`service_args`), stdin from /dev/null, stdout and
// stderr to the engine's stderr, in its own process group (a terminal's ^C
// goes to the engine, which stops the service; a service whose engine died
// notices its parent is gone and stops itself).
//
// A monitor thread looks at the child every check_interval_ms: reaped
// (waitpid WNOHANG) means it died, which is logged in one line and answered
// with a restart after a backoff (doubling per failed or short-lived
// attempt); alive but not answering /health means unhealthy: client()
// returns null until it answers again, and the engine searches in-process.
//
// One supervisor per database directory is expected: the port file's name
// is fixed, so a second one (say in another process) would take it over.
// Each still reaches its own child, but the file only names the latest.
//
// Thread safety: every method may be called from any thread. Start and Stop
// are serialised (lifecycle_mu_); client() is lock-free and may be called
// per search; state() copies under mu_.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "nodespace/status.h"
#include "service/remote_vector_store.h"

namespace nodespace::service {

struct VectorServiceSupervisorOptions {
  // The `nodespace` program to run. Empty: `nodespace` beside this process's
  // executable, else $NODESPACE_BIN, else the first on PATH.
  std::string binary;
  std::string db_dir;
  // One line per event (started, died, restarted, unhealthy). Null: stderr.
  std::function<void(std::string_view)> log;
  int start_timeout_ms = 10000;  // spawn until /health answers
  int check_interval_ms = 200;
  // SIGTERM until SIGKILL: time for requests in flight, idle connections
  // (1 s) and saving the index.
  int stop_timeout_ms = 5000;
  // The first restart waits this long; each further one twice as long as the
  // one before, up to the maximum, until a service stays up for a minute.
  int restart_backoff_ms = 200;
  int max_restart_backoff_ms = 30000;
  // The search client's settings; its port is set by the supervisor.
  RemoteVectorStoreOptions client;
  // More flags for `nodespace vector-service`: the engine's vector settings
  // (VectorServiceFlags), so that the service builds and searches its
  // indexes as the engine would.
  std::vector<std::string> service_args;
};

class VectorServiceSupervisor {
 public:
  struct State {
    bool running = false;  // a child process exists
    bool healthy = false;  // it answered the last /health
    pid_t pid = 0;
    int port = 0;
    int restarts = 0;        // services started after the first one
    int64_t started_ms = 0;  // when the current one became ready (Unix ms)
    std::string last_error;  // why the last one died or failed to start
  };

  explicit VectorServiceSupervisor(VectorServiceSupervisorOptions options);
  // Stops the service.
  ~VectorServiceSupervisor();
  VectorServiceSupervisor(const VectorServiceSupervisor&) = delete;
  VectorServiceSupervisor& operator=(const VectorServiceSupervisor&) = delete;

  // Spawns the service and waits until it answers /health (start_timeout_ms),
  // then starts the monitor. NotFound when no binary is found; IOError when
  // the child cannot be spawned, exits early or never answers (it is killed
  // then, and nothing keeps running). OK when already started.
  Status Start();
  // SIGTERM, a wait of stop_timeout_ms for the clean shutdown (which saves
  // the index), then SIGKILL; reaps the child and stops the monitor. Start
  // may be called again afterwards.
  void Stop();

  // The store to search while the service is healthy, null otherwise. The
  // pointer stays valid for the supervisor's life (a restarted service is
  // reached through the same object), but a search through it can still
  // fail if the service dies meanwhile: kIOError, as for any failure.
  RemoteVectorStore* client() const { return healthy_.load() ? client_.get() : nullptr; }
  State state() const;
  // A new memory budget (`vector-service --memory-budget-mb`): sent to the
  // running service, and given to every one started from now on in place
  // of the one in service_args. An error when the running service did not
  // take it (none runs, or the request failed); later starts use it anyway.
  Status SetMemoryBudget(int64_t mb);
  // <db_dir>/vector-service.port
  std::string port_file() const;

  // The program Start would run for `configured` (see binary above).
  static Result<std::string> ResolveBinary(const std::string& configured);

 private:
  // Spawns a child and waits until it is ready; records it in state_.
  Status Launch();
  Result<pid_t> Spawn();
  // The port of child `pid` once its port file names one where it answers.
  // Sets `reaped` when the error is that the child exited (and was reaped).
  Result<int> WaitReady(pid_t pid, bool& reaped);
  void Monitor();
  // Monitor: launches again after a death or a failed restart; a failure
  // is logged with when the next try comes.
  void Relaunch(int retry_in_ms);
  void CheckHealth(pid_t pid);
  // Waits up to `ms` for Stop; true when stopping.
  bool WaitForStop(int ms);
  void Log(const std::string& line) const;

  const VectorServiceSupervisorOptions options_;
  std::string binary_;  // resolved by Start; guarded by lifecycle_mu_
  const std::unique_ptr<RemoteVectorStore> client_;
  // Health checks use their own connection and a short timeout, so that a
  // search in flight neither delays a check nor is delayed by one.
  const std::unique_ptr<RemoteVectorStore> health_client_;
  std::atomic<bool> healthy_{false};  // client() reads it on every search
  // Set by SetMemoryBudget: replaces service_args' --memory-budget-mb.
  std::atomic<int64_t> memory_budget_mb_{-1};

  std::mutex lifecycle_mu_;  // Start and Stop
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  State state_;            // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::thread monitor_;    // guarded by lifecycle_mu_
};

}  // namespace nodespace::service
