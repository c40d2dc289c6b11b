#include "service/vector_service_supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <vector>

#include "env/env.h"

extern char** environ;

namespace nodespace::service {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kProgram = "nodespace";
constexpr const char* kPortFileName = "vector-service.port";
// How often Start and a restart look for the port file and /health.
constexpr int kReadyPollMs = 20;
// A service that stayed up this long resets the restart backoff: its death
// is news, not part of a crash loop.
constexpr int64_t kStableMs = 60000;
constexpr int kHealthTimeoutMs = 1000;

bool IsExecutable(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "exited with status 1", "exited with signal 9".
std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "exited with signal " + std::to_string(WTERMSIG(status));
  return "exited";
}

// Whether child `pid` has exited, and how; reaps it. nullopt: still running.
std::optional<std::string> Reap(pid_t pid) {
  int status = 0;
  const pid_t r = ::waitpid(pid, &status, WNOHANG);
  if (r == pid) return DescribeExit(status);
  // ECHILD: someone else reaped it (SIGCHLD ignored by the application).
  if (r < 0 && errno == ECHILD) return std::string("exited (status unknown)");
  return std::nullopt;
}

// SIGTERM, up to `timeout_ms` for it to exit, then SIGKILL; always reaps.
// How it ended, e.g. "exited with status 0" or "was killed after 3000 ms".
std::string Terminate(pid_t pid, int timeout_ms) {
  if (::kill(pid, SIGTERM) != 0 && errno == ESRCH) return Reap(pid).value_or("was gone");
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    if (std::optional<std::string> exit = Reap(pid)) return *exit;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return "did not stop within " + std::to_string(timeout_ms) + " ms and was killed";
}

std::optional<int> ReadPortFile(const std::string& path) {
  Result<std::vector<uint8_t>> bytes = Env::Default()->ReadFile(path);
  if (!bytes.ok()) return std::nullopt;
  const auto* text = reinterpret_cast<const char*>(bytes->data());
  int port = 0;
  const auto [end, ec] = std::from_chars(text, text + bytes->size(), port);
  if (ec != std::errc() || end == text || port <= 0 || port > 65535) return std::nullopt;
  return port;
}

// Owns what posix_spawn needs and frees it on every path.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

}  // namespace

VectorServiceSupervisor::VectorServiceSupervisor(VectorServiceSupervisorOptions options)
    : options_(std::move(options)),
      client_(std::make_unique<RemoteVectorStore>(options_.client)),
      health_client_(std::make_unique<RemoteVectorStore>([&] {
        RemoteVectorStoreOptions o = options_.client;
        o.read_timeout_ms = std::min(o.read_timeout_ms, kHealthTimeoutMs);
        return o;
      }())) {}

VectorServiceSupervisor::~VectorServiceSupervisor() {
  Stop();
}

std::string VectorServiceSupervisor::port_file() const {
  return options_.db_dir + "/" + kPortFileName;
}

void VectorServiceSupervisor::Log(const std::string& line) const {
  if (options_.log) {
    options_.log(line);
  } else {
    std::cerr << "nodespace: " << line << "\n";
  }
}

VectorServiceSupervisor::State VectorServiceSupervisor::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

Result<std::string> VectorServiceSupervisor::ResolveBinary(const std::string& configured) {
  if (!configured.empty()) {
    if (IsExecutable(configured)) return configured;
    return Status::NotFound("vector service program '" + configured +
                            "' is not an executable file");
  }
  // The engine and the CLI are usually installed side by side.
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::string beside = (self.parent_path() / kProgram).string();
    if (IsExecutable(beside)) return beside;
  }
  const char* env = std::getenv("NODESPACE_BIN");
  if (env != nullptr && *env != '\0' && IsExecutable(env)) return std::string(env);
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "";
  while (!dirs.empty()) {
    const size_t colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    if (dir.empty()) continue;
    const std::string candidate = std::string(dir) + "/" + kProgram;
    if (IsExecutable(candidate)) return candidate;
  }
  return Status::NotFound(
      "cannot find the `nodespace` program to run the vector service: not beside " +
      (ec ? std::string("this executable") : self.string()) +
      ", $NODESPACE_BIN not set to one, none on PATH");
}

Status VectorServiceSupervisor::Start() {
  std::lock_guard lifecycle(lifecycle_mu_);
  // A running monitor owns the service, even while it waits to restart it.
  if (monitor_.joinable()) return Status::OK();
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  NS_ASSIGN_OR_RETURN(binary_, ResolveBinary(options_.binary));
  NS_RETURN_IF_ERROR(Launch());
  monitor_ = std::thread([this] { Monitor(); });
  return Status::OK();
}

void VectorServiceSupervisor::Stop() {
  std::lock_guard lifecycle(lifecycle_mu_);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (monitor_.joinable()) monitor_.join();
  healthy_ = false;
  pid_t pid = 0;
  {
    std::lock_guard lock(mu_);
    pid = state_.pid;
    state_.running = false;
    state_.healthy = false;
    state_.pid = 0;
  }
  if (pid == 0) return;
  const std::string how = Terminate(pid, options_.stop_timeout_ms);
  // A clean shutdown removed it; a killed service left it behind.
  Env& env = *Env::Default();
  if (env.FileExists(port_file())) (void)env.RemoveFile(port_file());
  Log("vector service (pid " + std::to_string(pid) + ") stopped: " + how);
}

Status VectorServiceSupervisor::SetMemoryBudget(int64_t mb) {
  if (mb < 0) return Status::InvalidArgument("a memory budget is 0 (none) or more MB");
  memory_budget_mb_ = mb;
  RemoteVectorStore* service = client();
  if (service == nullptr) return Status::IOError("the vector service is not running");
  return service->SetMemoryBudget(mb);
}

bool VectorServiceSupervisor::WaitForStop(int ms) {
  std::unique_lock lock(mu_);
  return stop_cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_; });
}

Result<pid_t> VectorServiceSupervisor::Spawn() {
  // A file left by an earlier service would name a port nobody (or a
  // stranger) listens on.
  Env& env = *Env::Default();
  if (env.FileExists(port_file())) NS_RETURN_IF_ERROR(env.RemoveFile(port_file()));

  std::vector<std::string> args = {
      binary_,       "vector-service", "--db",         options_.db_dir,
      "--port-file", port_file(),      "--parent-pid", std::to_string(::getpid())};
  const int64_t budget_mb = memory_budget_mb_.load();
  for (size_t i = 0; i < options_.service_args.size(); ++i) {
    if (budget_mb >= 0 && options_.service_args[i] == "--memory-budget-mb") {
      ++i;  // and its value: the budget set since is passed below
      continue;
    }
    args.push_back(options_.service_args[i]);
  }
  if (budget_mb >= 0) {
    args.push_back("--memory-budget-mb");
    args.push_back(std::to_string(budget_mb));
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  SpawnSetup setup;
  // No stdin; stdout joins stderr so nothing the service prints can mix
  // into the engine's own output.
  posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, STDERR_FILENO, STDOUT_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // The engine's other descriptors (sockets, files opened without
  // O_CLOEXEC) are none of the service's business, and an inherited
  // listening socket would outlive the engine.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, STDERR_FILENO + 1);
#endif
  // A clean slate for the signals the service relies on, whatever the
  // engine blocked or ignored; and its own process group (see the header).
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setsigdefault(&setup.attr, &defaults);
  posix_spawnattr_setpgroup(&setup.attr, 0);
  posix_spawnattr_setflags(&setup.attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  pid_t pid = 0;
  const int rc =
      ::posix_spawn(&pid, binary_.c_str(), &setup.actions, &setup.attr, argv.data(), environ);
  if (rc != 0) {
    return Status::IOError("cannot start the vector service '" + binary_ +
                           "': " + std::strerror(rc));
  }
  return pid;
}

Result<int> VectorServiceSupervisor::WaitReady(pid_t pid, bool& reaped) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.start_timeout_ms);
  std::string last = "no port file yet";
  while (true) {
    if (std::optional<std::string> exit = Reap(pid)) {
      reaped = true;
      return Status::IOError("vector service (pid " + std::to_string(pid) + ") " + *exit +
                             " before it was ready (its messages are on stderr)");
    }
    if (std::optional<int> port = ReadPortFile(port_file())) {
      health_client_->SetPort(*port);
      Result<VectorServiceHealth> health = health_client_->Health();
      if (health.ok() && health->pid == pid) return *port;
      last = health.ok() ? "port " + std::to_string(*port) + " is answered by pid " +
                               std::to_string(health->pid)
                         : health.status().message();
    }
    if (Clock::now() >= deadline) {
      return Status::IOError("vector service (pid " + std::to_string(pid) +
                             ") was not ready within " + std::to_string(options_.start_timeout_ms) +
                             " ms: " + last);
    }
    if (WaitForStop(kReadyPollMs)) {
      return Status::IOError("vector service start interrupted by Stop");
    }
  }
}

Status VectorServiceSupervisor::Launch() {
  Result<pid_t> spawned = Spawn();
  if (!spawned.ok()) {
    std::lock_guard lock(mu_);
    state_.last_error = spawned.status().message();
    return spawned.status();
  }
  const pid_t pid = *spawned;
  {
    std::lock_guard lock(mu_);
    state_.running = true;
    state_.healthy = false;
    state_.pid = pid;
    state_.port = 0;
  }
  bool reaped = false;
  Result<int> port = WaitReady(pid, reaped);
  if (!port.ok()) {
    // Whatever it is doing, it is not serving: no half-started child stays.
    // (One already reaped is not signalled: its pid may be reused.)
    if (!reaped) (void)Terminate(pid, 0);
    std::lock_guard lock(mu_);
    state_.running = false;
    state_.pid = 0;
    state_.last_error = port.status().message();
    return port.status();
  }
  client_->SetPort(*port);
  {
    std::lock_guard lock(mu_);
    state_.healthy = true;
    state_.port = *port;
    state_.started_ms = UnixMillis();
  }
  healthy_ = true;
  Log("vector service started: pid " + std::to_string(pid) + ", port " + std::to_string(*port));
  return Status::OK();
}

void VectorServiceSupervisor::Monitor() {
  int backoff_ms = options_.restart_backoff_ms;
  auto next_backoff = [&] {
    backoff_ms = std::min(std::max(backoff_ms, 1) * 2, options_.max_restart_backoff_ms);
  };
  while (!WaitForStop(options_.check_interval_ms)) {
    pid_t pid = 0;
    int64_t started_ms = 0;
    {
      std::lock_guard lock(mu_);
      pid = state_.pid;
      started_ms = state_.started_ms;
    }
    if (pid == 0) {  // the last restart failed: try again
      if (WaitForStop(backoff_ms)) return;
      next_backoff();
      Relaunch(backoff_ms);
      continue;
    }
    std::optional<std::string> exit = Reap(pid);
    if (!exit) {
      CheckHealth(pid);
      continue;
    }
    healthy_ = false;
    {
      std::lock_guard lock(mu_);
      state_.running = false;
      state_.healthy = false;
      state_.pid = 0;
      state_.last_error = "pid " + std::to_string(pid) + " " + *exit;
    }
    if (UnixMillis() - started_ms >= kStableMs) backoff_ms = options_.restart_backoff_ms;
    Log("vector service (pid " + std::to_string(pid) + ") " + *exit + "; restarting in " +
        std::to_string(backoff_ms) + " ms");
    if (WaitForStop(backoff_ms)) return;
    next_backoff();
    Relaunch(backoff_ms);
  }
}

void VectorServiceSupervisor::Relaunch(int retry_in_ms) {
  Status st = Launch();
  if (st.ok()) {
    std::lock_guard lock(mu_);
    ++state_.restarts;
    return;
  }
  bool stopping = false;
  {
    std::lock_guard lock(mu_);
    stopping = stopping_;
  }
  if (!stopping) {
    Log("vector service did not restart: " + st.message() + "; trying again in " +
        std::to_string(retry_in_ms) + " ms");
  }
}

void VectorServiceSupervisor::CheckHealth(pid_t pid) {
  Result<VectorServiceHealth> health = health_client_->Health();
  const bool ok = health.ok() && health->pid == pid;
  const bool was = healthy_.exchange(ok);
  std::string problem;
  if (!ok) {
    problem = health.ok() ? "its port is answered by pid " + std::to_string(health->pid)
                          : health.status().message();
  }
  {
    std::lock_guard lock(mu_);
    state_.healthy = ok;
    if (!ok) state_.last_error = problem;
  }
  // One line per change, not per check.
  if (was && !ok) {
    Log("vector service (pid " + std::to_string(pid) + ") is not answering (" + problem +
        "); searches run in-process until it does");
  } else if (!was && ok) {
    Log("vector service (pid " + std::to_string(pid) + ") is answering again");
  }
}

}  // namespace nodespace::service
