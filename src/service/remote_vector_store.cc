#include "service/remote_vector_store.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <utility>

namespace nodespace::service {
namespace {

// Idle keep-alive connections kept per store. The service holds a worker
// thread for each open one (VectorServiceOptions::threads), so this stays
// well below its count; concurrent searches beyond it open more and close
// them afterwards.
constexpr size_t kMaxIdleClients = 4;

// What an httplib error means on loopback.
std::string DescribeError(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "connection refused (is the service running?)";
    case httplib::Error::ConnectionTimeout:
      return "connect timed out";
    case httplib::Error::Read:
      return "no complete answer (read timed out or the service closed the connection)";
    case httplib::Error::Write:
      return "could not send the request (the service closed the connection)";
    default:
      return "HTTP client error " + httplib::to_string(error);
  }
}

// httplib's client writes with send() and no MSG_NOSIGNAL, so writing to a
// service that just died raises SIGPIPE, whose default action would end the
// engine. That SIGPIPE is directed at the writing thread: blocking it around
// a request and discarding one that became pending keeps it from the
// process's disposition, whatever that is. (The service itself ignores
// SIGPIPE: httplib::Server sets that.)
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    // One pending before us is not ours to discard.
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    blocked_ = pthread_sigmask(SIG_BLOCK, &pipe_, &old_) == 0;
  }
  ~ScopedSigpipeBlock() {
    if (!blocked_) return;
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec no_wait{0, 0};
        (void)sigtimedwait(&pipe_, nullptr, &no_wait);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
  bool blocked_ = false;
};

}  // namespace

// A client taken from the pool for one request; `generation` says which
// port it was made for.
struct RemoteVectorStore::Lease {
  std::unique_ptr<httplib::Client> client;
  uint64_t generation = 0;
  bool reused = false;  // taken from the pool: its connection may have been closed
};

RemoteVectorStore::RemoteVectorStore(RemoteVectorStoreOptions options)
    : options_(std::move(options)), port_(options_.port) {}

RemoteVectorStore::~RemoteVectorStore() = default;

void RemoteVectorStore::SetPort(int port) {
  std::vector<std::unique_ptr<httplib::Client>> old;
  {
    std::lock_guard lock(mu_);
    if (port == port_) return;
    port_ = port;
    ++generation_;
    old.swap(idle_);
  }
  // `old` closes its sockets here, outside the lock.
}

int RemoteVectorStore::port() const {
  std::lock_guard lock(mu_);
  return port_;
}

std::string RemoteVectorStore::Describe() const {
  return "vector service at " + options_.host + ":" + std::to_string(port());
}

RemoteVectorStore::Lease RemoteVectorStore::Take(bool fresh) {
  std::lock_guard lock(mu_);
  Lease lease;
  lease.generation = generation_;
  if (!fresh && !idle_.empty()) {
    lease.client = std::move(idle_.back());
    idle_.pop_back();
    lease.reused = true;
    return lease;
  }
  // Made under the lock so it pairs with generation_; it does not connect
  // until its first request.
  lease.client = std::make_unique<httplib::Client>(options_.host, port_);
  const auto usec = [](int ms) { return static_cast<time_t>(ms % 1000) * 1000; };
  lease.client->set_connection_timeout(options_.connect_timeout_ms / 1000,
                                       usec(options_.connect_timeout_ms));
  lease.client->set_read_timeout(options_.read_timeout_ms / 1000, usec(options_.read_timeout_ms));
  lease.client->set_write_timeout(options_.read_timeout_ms / 1000, usec(options_.read_timeout_ms));
  lease.client->set_keep_alive(true);
  // The request goes out as headers then body; see the service's setting.
  lease.client->set_tcp_nodelay(true);
  return lease;
}

void RemoteVectorStore::Give(Lease lease) {
  std::lock_guard lock(mu_);
  // A client of an older port would talk to a service that is gone.
  if (lease.generation == generation_ && idle_.size() < kMaxIdleClients) {
    idle_.push_back(std::move(lease.client));
  }
}

Result<std::string> RemoteVectorStore::Call(const std::string& path, const std::string* body) {
  auto send = [&](Lease& lease) {
    ScopedSigpipeBlock no_sigpipe;
    return body != nullptr ? lease.client->Post(path, *body, "application/octet-stream")
                           : lease.client->Get(path);
  };
  Lease lease = Take(/*fresh=*/false);
  const auto start = std::chrono::steady_clock::now();
  httplib::Result res = send(lease);
  const auto took = std::chrono::steady_clock::now() - start;
  if (!res && lease.reused && took < std::chrono::milliseconds(options_.read_timeout_ms / 2)) {
    // The service closes connections idle for a second; one it closed just
    // as we sent fails at once, like a dead service would. Every request
    // only reads or sets a value, so one try on a new connection tells the
    // two apart. (A
    // failure that took a timeout is not tried again: that would double it.)
    lease = Take(/*fresh=*/true);
    res = send(lease);
  }
  if (!res) {
    // Its connection is in an unknown state: not pooled again.
    return Status::IOError(Describe() + ": " + path + ": " + DescribeError(res.error()));
  }
  const int status = res->status;
  std::string answer = std::move(res->body);
  Give(std::move(lease));
  if (status != 200) {
    return Status::IOError(Describe() + ": " + path + " answered HTTP " + std::to_string(status) +
                           ": " + DecodeError(answer));
  }
  return answer;
}

Result<SearchReply> RemoteVectorStore::SearchAt(const VectorQuery& query, int64_t min_seq) {
  const std::string body = EncodeSearchRequest(query, min_seq);
  NS_ASSIGN_OR_RETURN(std::string answer, Call("/search", &body));
  Result<SearchReply> reply = DecodeSearchReply(answer);
  if (!reply.ok()) return Status::IOError(Describe() + ": " + reply.status().message());
  return reply;
}

Result<VectorAnswer> RemoteVectorStore::Search(storage::Connection& conn,
                                               const VectorQuery& query) {
  NS_ASSIGN_OR_RETURN(int64_t min_seq, conn.QueryInt("SELECT ifnull(max(seq), 0) FROM changes"));
  NS_ASSIGN_OR_RETURN(SearchReply reply, SearchAt(query, min_seq));
  return std::move(reply.answer);
}

Result<VectorServiceHealth> RemoteVectorStore::Health() {
  NS_ASSIGN_OR_RETURN(std::string answer, Call("/health", nullptr));
  const auto j = nlohmann::json::parse(answer, nullptr, false);
  if (!j.is_object() || j.value("status", nlohmann::json()) != "ok" || !j.contains("pid") ||
      !j["pid"].is_number_integer()) {
    return Status::IOError(Describe() + ": /health answered '" + answer.substr(0, 200) + "'");
  }
  VectorServiceHealth health;
  health.pid = j["pid"].get<int64_t>();
  if (j.contains("applied_seq") && j["applied_seq"].is_number_integer()) {
    health.applied_seq = j["applied_seq"].get<int64_t>();
  }
  return health;
}

Status RemoteVectorStore::SetMemoryBudget(int64_t mb) {
  const std::string body = nlohmann::json{{"memory_budget_mb", mb}}.dump();
  NS_ASSIGN_OR_RETURN(std::string answer, Call("/settings", &body));
  const auto j = nlohmann::json::parse(answer, nullptr, false);
  if (!j.is_object() || j.value("memory_budget_mb", nlohmann::json()) != mb) {
    return Status::IOError(Describe() + ": /settings answered '" + answer.substr(0, 200) + "'");
  }
  return Status::OK();
}

}  // namespace nodespace::service
