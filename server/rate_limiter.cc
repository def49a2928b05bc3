#include "server/internal/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace siteledger::server {

bool RateLimiter::Admit(TenantId tenant, Clock::time_point now,
                        int& retry_after) {
  if (rate_ <= 0) return true;
  Shard& shard = shards_[tenant.value() % kShards];
  MutexLock lock(shard.mu);
  if (shard.buckets.size() > kPruneAt) {
    // A bucket idle for burst / rate seconds is full: forgetting it changes
    // nothing.
    const auto full_after = std::chrono::duration<double>(burst_ / rate_);
    std::erase_if(shard.buckets, [&](const auto& entry) {
      return now - entry.second.last >= full_after;
    });
  }
  auto [it, fresh] = shard.buckets.try_emplace(tenant.value());
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = burst_;
  } else {
    const double elapsed = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(burst_, b.tokens + std::max(0.0, elapsed) * rate_);
  }
  b.last = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  retry_after =
      std::max(1, static_cast<int>(std::ceil((1 - b.tokens) / rate_)));
  return false;
}

}  // namespace siteledger::server
