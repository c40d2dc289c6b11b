#include "service/vector_service.h"

#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>
#include <vector>

#include "db/vector_index_store.h"
#include "env/env.h"
#include "env/info_log.h"
#include "scaling/process_probe.h"
#include "service/vector_service_protocol.h"
#include "storage/schema.h"
#include "storage/sqlite.h"

namespace nodespace::service {
namespace {

using Clock = std::chrono::steady_clock;
using storage::Connection;
using storage::ReadTransaction;

// How often the service applies the engine's writes to its indexes.
constexpr auto kCatchUpEvery = std::chrono::milliseconds(250);
// How often the memory budget is compared with the resident set; a release
// that leaves the process over it (what the walk itself needs) is not
// repeated sooner.
constexpr auto kMemoryCheckEvery = std::chrono::seconds(10);
constexpr int64_t kMiB = 1024 * 1024;

// How often the service looks at its stop flag and its parent.
constexpr auto kStopPoll = std::chrono::milliseconds(50);
// Connections kept open between requests; a burst opens more and closes
// them afterwards.
constexpr size_t kMaxIdleConnections = 8;
// A client keeps its connections for many searches; httplib's default
// closes one after 5 requests.
constexpr size_t kKeepAliveMaxRequests = 100000;
// A stopping httplib server still waits out each idle keep-alive
// connection, so this bounds how long a clean shutdown takes (and how long
// an idle client holds a worker thread). Reconnecting on loopback costs far
// less than a search.
constexpr time_t kKeepAliveSeconds = 1;

void Log(const VectorServiceOptions& options, const std::string& line) {
  if (options.options.info_log) {
    options.options.info_log(line);
  } else {
    std::cerr << "nodespace vector-service: " << line << "\n";
  }
}

// Read-only connections to the database. An SQLite connection belongs to one
// thread at a time, so each request leases one for its duration.
//
// Thread safety: Acquire and a Lease's release may be called from any thread.
class ConnectionPool {
 public:
  ConnectionPool(std::string file, int busy_timeout_ms)
      : file_(std::move(file)), busy_timeout_ms_(busy_timeout_ms) {}

  // A connection for one request, handed back to the pool when dropped.
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_) pool_->Release(std::move(conn_));
    }
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  Result<Lease> Acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        std::unique_ptr<Connection> conn = std::move(idle_.back());
        idle_.pop_back();
        return Lease(this, std::move(conn));
      }
    }
    NS_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn,
                        Connection::Open(file_, /*read_only=*/true, /*create=*/false));
    // The engine's checkpoints and writers lock briefly; wait for them as
    // the engine's own readers do rather than fail the search.
    NS_RETURN_IF_ERROR(conn->Exec("PRAGMA busy_timeout = " + std::to_string(busy_timeout_ms_)));
    return Lease(this, std::move(conn));
  }

 private:
  void Release(std::unique_ptr<Connection> conn) {
    // A connection still inside a transaction (a COMMIT that failed) would
    // pin an old snapshot for whoever leases it next.
    if (sqlite3_get_autocommit(conn->raw()) == 0) return;
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(conn));
  }

  const std::string file_;
  const int busy_timeout_ms_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
};

void ReplyError(httplib::Response& res, int http_status, const std::string& message) {
  res.status = http_status;
  res.set_content(EncodeError(message), "application/json");
}

// The answers of one running service.
//
// Thread safety: the handlers run on httplib's worker threads at the same
// time; the store is thread-safe, connections come from the pool, and
// applied_seq_ is atomic.
class Service {
 public:
  Service(const VectorServiceOptions& options, VectorStore& store, ConnectionPool& pool)
      : options_(options),
        store_(store),
        pool_(pool),
        memory_budget_mb_(options.memory_budget_mb) {}

  int64_t memory_budget_mb() const { return memory_budget_mb_.load(); }

  void Health(const httplib::Request&, httplib::Response& res) {
    const Options& o = options_.options;
    const nlohmann::json j = {{"status", "ok"},
                              {"pid", ::getpid()},
                              {"applied_seq", applied_seq_.load()},
                              {"settings",
                               {{"exact_search_max_vectors", o.exact_search_max_vectors},
                                {"hnsw_m", o.hnsw_m},
                                {"hnsw_ef_construction", o.hnsw_ef_construction},
                                {"hnsw_ef_search", o.hnsw_ef_search},
                                {"vector_index_save_every", o.vector_index_save_every},
                                {"memory_budget_mb", memory_budget_mb_.load()}}}};
    res.set_content(j.dump(), "application/json");
  }

  // POST /settings {"memory_budget_mb": N}: the engine's new vector cache
  // tier, taken without a restart (which would drop a catch-up in flight
  // and make the next one start over from the file).
  void Settings(const httplib::Request& req, httplib::Response& res) {
    const auto j = nlohmann::json::parse(req.body, nullptr, false);
    if (!j.is_object() || !j.contains("memory_budget_mb") ||
        !j["memory_budget_mb"].is_number_integer() || j["memory_budget_mb"].get<int64_t>() < 0) {
      return ReplyError(res, 400,
                        "expected a JSON object {\"memory_budget_mb\": N}, N >= 0 (0: no budget)");
    }
    const int64_t budget = j["memory_budget_mb"].get<int64_t>();
    const int64_t before = memory_budget_mb_.exchange(budget);
    if (before != budget) {
      Log(options_,
          "memory budget " + std::to_string(before) + " -> " + std::to_string(budget) + " MB");
    }
    res.set_content(nlohmann::json{{"memory_budget_mb", budget}}.dump(), "application/json");
  }

  void Search(const httplib::Request& req, httplib::Response& res) {
    Result<SearchRequest> request = DecodeSearchRequest(req.body);
    if (!request.ok()) return ReplyError(res, 400, request.status().message());
    Result<SearchReply> reply = Answer(*request);
    if (!reply.ok()) {
      const Status& st = reply.status();
      // 400: the caller can fix its query; 503: try again later (or
      // elsewhere); 500: the index failed.
      const int code = st.IsInvalidArgument() ? 400 : st.code() == StatusCode::kBusy ? 503 : 500;
      return ReplyError(res, code, st.message());
    }
    res.set_content(EncodeSearchReply(*reply), "application/json");
  }

 private:
  Result<SearchReply> Answer(const SearchRequest& request) {
    NS_ASSIGN_OR_RETURN(ConnectionPool::Lease conn, pool_.Acquire());
    ReadTransaction txn(*conn);
    // Under WAL a transaction sees every commit made before it began, and
    // the caller's snapshot was taken before it sent the request, so the
    // first look nearly always suffices. It does not when the database file
    // was replaced under this process (a restore): the wait then ends in a
    // 503 and the engine answers from its own store.
    const auto deadline = Clock::now() + std::chrono::milliseconds(options_.min_seq_wait_ms);
    auto pause = std::chrono::milliseconds(5);
    int64_t seq = 0;
    while (true) {
      NS_RETURN_IF_ERROR(txn.Begin());
      NS_ASSIGN_OR_RETURN(seq, conn->QueryInt("SELECT ifnull(max(seq), 0) FROM changes"));
      if (seq >= request.min_seq) break;
      txn.End();
      if (Clock::now() >= deadline) {
        return Status::Busy("the vector service's snapshot reaches change " + std::to_string(seq) +
                            ", the search needs change " + std::to_string(request.min_seq) +
                            " (still behind after " + std::to_string(options_.min_seq_wait_ms) +
                            " ms)");
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(100));
    }
    NS_ASSIGN_OR_RETURN(VectorAnswer answer, store_.Search(*conn, request.Query()));
    txn.End();
    NoteApplied(seq);
    return SearchReply{std::move(answer), seq};
  }

  void NoteApplied(int64_t seq) {
    int64_t seen = applied_seq_.load();
    while (seen < seq && !applied_seq_.compare_exchange_weak(seen, seq)) {
    }
  }

  const VectorServiceOptions& options_;
  VectorStore& store_;
  ConnectionPool& pool_;
  std::atomic<int64_t> memory_budget_mb_;  // 0: none; POST /settings changes it
  std::atomic<int64_t> applied_seq_{0};    // highest snapshot a search has caught up to
};

// Bodies for the answers httplib makes itself (unknown path, body over the
// limit), so that every error a client sees is `{"error": ...}`.
void DescribeHttplibError(const httplib::Request& req, httplib::Response& res) {
  if (!res.body.empty()) return;  // one of ours
  std::string message;
  if (res.status == 413) {
    // The format promises 400 for every request the service refuses to read.
    res.status = 400;
    message = "the request body exceeds the " + std::to_string(kMaxBodyBytes) + " bytes allowed";
  } else if (res.status == 404) {
    message = "no endpoint " + req.method + " " + req.path + " (the service has GET /health and " +
              "POST /search)";
  } else {
    message = "HTTP " + std::to_string(res.status) + " for " + req.method + " " + req.path;
  }
  res.set_content(EncodeError(message), "application/json");
}

}  // namespace

Status RunVectorService(const VectorServiceOptions& requested) {
  // The workers, the catch-up loop and the store all report: one line at a time.
  VectorServiceOptions options = requested;
  options.options.info_log = OneLineAtATime(std::move(options.options.info_log));
  Env& env = *Env::Default();
  const std::string db_file = options.db_dir + "/nodespace.db";
  if (!env.FileExists(db_file)) {
    return Status::NotFound("no database at '" + options.db_dir + "' (run `nodespace init` first)");
  }
  if (options.threads < 1) return Status::InvalidArgument("the vector service needs a thread");
  ConnectionPool pool(db_file, options.options.busy_timeout_ms);
  {
    // The store reads tables as this build lays them out: refuse a database
    // of another version up front rather than fail every search.
    NS_ASSIGN_OR_RETURN(ConnectionPool::Lease conn, pool.Acquire());
    NS_ASSIGN_OR_RETURN(int version, storage::StoredSchemaVersion(*conn));
    if (version != storage::kSchemaVersion) {
      return Status::NotSupported("database schema version " + std::to_string(version) +
                                  " differs from this build's (" +
                                  std::to_string(storage::kSchemaVersion) +
                                  "); open the database with this version of nodespace first");
    }
  }
  std::unique_ptr<VectorStore> store =
      options.make_store ? options.make_store(options.db_dir, options.options)
                         : std::make_unique<VectorIndexStore>(options.db_dir, options.options, 0);
  if (!store) return Status::InvalidArgument("the vector store factory made no store");

  Service service(options, *store, pool);
  // Handlers run on the server's workers, which listen_after_bind joins
  // before it returns: the store is only released after that, below.
  httplib::Server server;
  const size_t threads = static_cast<size_t>(options.threads);
  // httplib takes ownership of the queue it gets from this factory.
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_payload_max_length(kMaxBodyBytes);
  server.set_keep_alive_max_count(kKeepAliveMaxRequests);
  server.set_keep_alive_timeout(kKeepAliveSeconds);
  // Answers are small and written in pieces (headers, body): without this,
  // Nagle's algorithm meets the client's delayed ACK and each search waits
  // ~40 ms.
  server.set_tcp_nodelay(true);
  server.set_error_handler(DescribeHttplibError);
  server.Get("/health", [&service](const httplib::Request& req, httplib::Response& res) {
    service.Health(req, res);
  });
  server.Post("/search", [&service](const httplib::Request& req, httplib::Response& res) {
    service.Search(req, res);
  });
  server.Post("/settings", [&service](const httplib::Request& req, httplib::Response& res) {
    service.Settings(req, res);
  });

  int port = options.port;
  if (port == 0) {
    port = server.bind_to_any_port(options.host);
  } else if (!server.bind_to_port(options.host, port)) {
    port = -1;
  }
  const std::string address = options.host + ":" + std::to_string(options.port);
  if (port < 0) {
    return Status::IOError("vector service cannot listen on " + address +
                           " (address in use or not available)");
  }
  // Bound sockets queue connections from here on, so the port may be
  // published before the accept loop starts.
  const std::string port_text = std::to_string(port) + "\n";
  if (!options.port_file.empty()) {
    NS_RETURN_IF_ERROR(WriteFileAtomically(env, options.port_file, port_text)
                           .WithContext("vector service: writing the port file"));
  }
  Log(options, "listening on " + options.host + ":" + std::to_string(port) + " (pid " +
                   std::to_string(::getpid()) + ", database " + options.db_dir + ")");
  if (options.on_listening) options.on_listening(port);

  // httplib stops from another thread, and only once its loop runs: until
  // then a stop request waits here.
  std::atomic<bool> loop_ended{false};
  // Set when the service decides to stop: a catch-up in progress ends at its
  // next slice instead of running to the end of the log first.
  std::atomic<bool> stopping{false};
  std::thread watcher([&] {
    while (!loop_ended.load()) {
      std::string why;
      if (options.stop != nullptr && options.stop->load()) {
        why = "asked to stop";
      } else if (options.parent_pid > 0 && ::getppid() != options.parent_pid) {
        why = "its parent process " + std::to_string(options.parent_pid) + " is gone";
      }
      if (!why.empty() && server.is_running()) {
        Log(options, "stopping: " + why);
        stopping = true;
        server.stop();
        return;
      }
      std::this_thread::sleep_for(kStopPoll);
    }
  });
  // Between requests the store applies what the engine wrote, so that a
  // search rarely waits for a catch-up (after an import of 100K nodes that
  // is minutes of graph inserts, which the engine would otherwise wait for
  // or, past its timeout, redo in-process).
  std::thread catch_up([&] {
    auto memory_checked = std::chrono::steady_clock::now() - kMemoryCheckEvery;
    int64_t last_head = -1;
    while (!loop_ended.load() && !stopping.load()) {
      // Quiet: the engine wrote nothing since the previous pass, which
      // caught up to the change log's head.
      bool quiet = false;
      Result<ConnectionPool::Lease> conn = pool.Acquire();
      if (conn.ok()) {
        Result<int64_t> head = (**conn).QueryInt("SELECT coalesce(max(seq), 0) FROM changes");
        // No transaction around it: the store reads the change log (and
        // rebuilds) in slices of their own, so that catching up after a
        // large import does not pin the WAL for minutes.
        Status st = store->ApplyChanges(**conn, &stopping);
        if (!st.ok()) Log(options, "catching up: " + st.message());
        quiet = st.ok() && head.ok() && *head == last_head;
        last_head = head.ok() ? *head : -1;
      }
      // A catch-up copies a mapped graph back into memory to change it:
      // over the budget, it goes back to its file once the writes stop
      // (each release saves the graph: during an import it would save it
      // again and again).
      const auto now = std::chrono::steady_clock::now();
      const int64_t budget_mb = service.memory_budget_mb();
      if (budget_mb > 0 && quiet && now - memory_checked >= kMemoryCheckEvery) {
        memory_checked = now;
        const int64_t before = scaling::ResidentBytes();
        if (before > budget_mb * kMiB) {
          Status st = store->ReleaseMemory();
          const int64_t after = scaling::ResidentBytes();
          // Said when it freed something or failed, not every time a walk's
          // own pages keep the process over.
          if (!st.ok() || after + kMiB < before) {
            Log(options, "resident " + std::to_string(before / kMiB) + " MB over the budget of " +
                             std::to_string(budget_mb) + " MB: " +
                             (st.ok() ? "indexes served from their files, now " +
                                            std::to_string(after / kMiB) + " MB"
                                      : "releasing memory failed: " + st.message()));
          }
        }
      }
      std::this_thread::sleep_for(kCatchUpEvery);
    }
  });
  // Returns once stopped, after the worker threads finished their requests.
  const bool listened = server.listen_after_bind();
  stopping = true;
  loop_ended = true;
  watcher.join();
  catch_up.join();

  if (!options.port_file.empty()) {
    // Only our own number: a newer service may have written the file since.
    Result<std::vector<uint8_t>> text = env.ReadFile(options.port_file);
    if (text.ok() && std::string(text->begin(), text->end()) == port_text) {
      (void)env.RemoveFile(options.port_file);
    }
  }
  store.reset();  // saves the index (VectorIndexStore's destructor)
  if (!listened) return Status::IOError("vector service on " + address + " stopped listening");
  Log(options, "stopped");
  return Status::OK();
}

}  // namespace nodespace::service
