#include "server/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace nodespace::server {

RateLimiter::RateLimiter(double rate_per_second, double burst)
    : rate_(rate_per_second), burst_(std::max(1.0, burst)) {}

bool RateLimiter::Allow(const std::string& client, int64_t now_ms, int64_t* retry_after_ms) {
  if (rate_ <= 0) return true;  // limiting disabled
  std::lock_guard lock(mu_);
  if (now_ms - pruned_at_ms_ > 60000) {
    std::erase_if(buckets_, [&](const auto& kv) { return now_ms - kv.second.updated_ms > 60000; });
    pruned_at_ms_ = now_ms;
  }
  auto [it, fresh] = buckets_.try_emplace(client, Bucket{burst_, now_ms});
  Bucket& b = it->second;
  if (!fresh) {
    b.tokens = std::min(burst_, b.tokens + (now_ms - b.updated_ms) * rate_ / 1000.0);
    b.updated_ms = now_ms;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  *retry_after_ms = static_cast<int64_t>(std::ceil((1.0 - b.tokens) * 1000.0 / rate_));
  return false;
}

}  // namespace nodespace::server
