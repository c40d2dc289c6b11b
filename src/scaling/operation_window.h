// OperationWindow: the recent queries and searches a database served, for the
// latency, rate, cache-hit and concurrency metrics.
//
// A ring of the last kCapacity operations with their time; metrics count the
// ones inside the window. Recording is one short critical section (a few tens
// of nanoseconds) so it can sit on every query path.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace nodespace::scaling {

enum class OperationKind : uint8_t { kQuery, kTextSearch, kVectorSearch };

struct WindowSummary {
  int64_t operations = 0;
  int64_t vector_operations = 0;
  double avg_latency_ms = 0;
  double p95_latency_ms = 0;
  double avg_vector_latency_ms = 0;
  double p95_vector_latency_ms = 0;
  int64_t cache_lookups = 0;
  int64_t cache_hits = 0;
  int64_t distinct_clients = 0;
  double operations_per_second = 0;
};

class OperationWindow {
 public:
  static constexpr size_t kCapacity = 8192;

  OperationWindow();

  // `vector` marks operations that searched vectors (vector or semantic);
  // `cache_lookup`/`cache_hit` the query cache's part.
  void Record(int64_t now_ms, double latency_ms, bool vector, bool cache_lookup, bool cache_hit,
              std::string_view client);

  // Operations in (now_ms - window_ms, now_ms].
  WindowSummary Summarize(int64_t now_ms, int64_t window_ms) const;

  void Clear();

 private:
  struct Operation {
    int64_t time_ms = 0;
    float latency_ms = 0;
    bool vector = false;
    bool cache_lookup = false;
    bool cache_hit = false;
    uint32_t client = 0;  // index into clients_
  };
  uint32_t ClientIndexLocked(std::string_view client);

  mutable std::mutex mu_;
  std::vector<Operation> ring_;  // guarded by mu_
  size_t next_ = 0;              // guarded by mu_
  size_t filled_ = 0;            // guarded by mu_
  // Client names seen; operations refer to them by index. Bounded: past
  // kMaxClients names the table restarts (old indexes then alias, which only
  // undercounts distinct clients for one window).
  static constexpr size_t kMaxClients = 4096;
  std::vector<std::string> clients_;  // guarded by mu_
};

// The client the current thread acts for (an API key, a session). Servers set
// it per request; an embedded process is one client, "local".
class ClientScope {
 public:
  explicit ClientScope(std::string client);
  ~ClientScope();
  ClientScope(const ClientScope&) = delete;
  ClientScope& operator=(const ClientScope&) = delete;
  static std::string_view Current();

 private:
  std::string previous_;
};

}  // namespace nodespace::scaling
