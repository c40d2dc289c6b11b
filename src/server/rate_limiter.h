// RateLimiter: a token bucket per client (API key, or address without keys).
// A request takes one token; tokens refill at `rate` per second up to
// `burst`. Buckets idle for a minute are forgotten, so memory follows the
// number of active clients.
//
// Thread safety: Allow() may be called from any thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace nodespace::server {

class RateLimiter {
 public:
  RateLimiter(double rate_per_second, double burst);
  // True when `client` may make a request at `now_ms`; otherwise false and
  // `*retry_after_ms` says when a token will be there.
  bool Allow(const std::string& client, int64_t now_ms, int64_t* retry_after_ms);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t updated_ms = 0;
  };
  const double rate_;
  const double burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
  int64_t pruned_at_ms_ = 0;                         // guarded by mu_
};

}  // namespace nodespace::server
