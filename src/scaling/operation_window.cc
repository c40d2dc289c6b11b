#include "scaling/operation_window.h"

#include <algorithm>
#include <unordered_set>

namespace nodespace::scaling {
namespace {

thread_local std::string current_client = "local";

double Percentile95(std::vector<float>& values) {
  if (values.empty()) return 0;
  const size_t rank = (values.size() * 95 + 99) / 100 - 1;  // nearest-rank
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank),
                   values.end());
  return values[rank];
}

}  // namespace

OperationWindow::OperationWindow() : ring_(kCapacity) {}

uint32_t OperationWindow::ClientIndexLocked(std::string_view client) {
  // Few distinct clients in practice: a linear scan from the newest is
  // cheaper than hashing for the common single-client case.
  for (size_t i = clients_.size(); i-- > 0;) {
    if (clients_[i] == client) return static_cast<uint32_t>(i);
  }
  if (clients_.size() >= kMaxClients) clients_.clear();
  clients_.emplace_back(client);
  return static_cast<uint32_t>(clients_.size() - 1);
}

void OperationWindow::Record(int64_t now_ms, double latency_ms, bool vector, bool cache_lookup,
                             bool cache_hit, std::string_view client) {
  std::lock_guard lock(mu_);
  Operation& op = ring_[next_];
  op.time_ms = now_ms;
  op.latency_ms = static_cast<float>(latency_ms);
  op.vector = vector;
  op.cache_lookup = cache_lookup;
  op.cache_hit = cache_hit;
  op.client = ClientIndexLocked(client);
  next_ = (next_ + 1) % kCapacity;
  filled_ = std::min(filled_ + 1, kCapacity);
}

WindowSummary OperationWindow::Summarize(int64_t now_ms, int64_t window_ms) const {
  std::vector<float> latencies;
  std::vector<float> vector_latencies;
  std::unordered_set<uint32_t> clients;
  WindowSummary s;
  int64_t oldest = now_ms;
  double sum = 0;
  double vector_sum = 0;
  {
    std::lock_guard lock(mu_);
    latencies.reserve(filled_);
    for (size_t i = 0; i < filled_; ++i) {
      const Operation& op = ring_[i];
      if (op.time_ms <= now_ms - window_ms || op.time_ms > now_ms) continue;
      oldest = std::min(oldest, op.time_ms);
      latencies.push_back(op.latency_ms);
      sum += op.latency_ms;
      if (op.vector) {
        vector_latencies.push_back(op.latency_ms);
        vector_sum += op.latency_ms;
      }
      s.cache_lookups += op.cache_lookup;
      s.cache_hits += op.cache_hit;
      clients.insert(op.client);
    }
  }
  s.operations = static_cast<int64_t>(latencies.size());
  s.vector_operations = static_cast<int64_t>(vector_latencies.size());
  s.distinct_clients = static_cast<int64_t>(clients.size());
  if (s.operations > 0) {
    s.avg_latency_ms = sum / static_cast<double>(s.operations);
    s.p95_latency_ms = Percentile95(latencies);
    // The rate covers the window, or the time since the first operation when
    // the ring holds less history than the window (a full ring at high load).
    const int64_t span_ms =
        filled_ == kCapacity ? std::max<int64_t>(now_ms - oldest, 1) : window_ms;
    s.operations_per_second = static_cast<double>(s.operations) * 1000.0 /
                              static_cast<double>(std::min(span_ms, window_ms));
  }
  if (s.vector_operations > 0) {
    s.avg_vector_latency_ms = vector_sum / static_cast<double>(s.vector_operations);
    s.p95_vector_latency_ms = Percentile95(vector_latencies);
  }
  return s;
}

void OperationWindow::Clear() {
  std::lock_guard lock(mu_);
  next_ = filled_ = 0;
  clients_.clear();
}

ClientScope::ClientScope(std::string client) : previous_(std::move(current_client)) {
  current_client = std::move(client);
}

ClientScope::~ClientScope() {
  current_client = std::move(previous_);
}

std::string_view ClientScope::Current() {
  return current_client;
}

}  // namespace nodespace::scaling
