#pragma once

// Per-tenant request rate limits: a token bucket per tenant, refilled at
// `rate` requests a second up to `burst`. A request that finds the bucket
// empty is refused (429) with the seconds until a token is back, so that a
// tenant flooding the server is throttled while the others are served.

#include <array>
#include <chrono>
#include <cstdint>
#include <unordered_map>

#include "storage/base/ids.h"
#include "storage/base/mutex.h"

namespace siteledger::server {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  // rate 0: no limit (every request is admitted).
  RateLimiter(double rate, double burst) : rate_(rate), burst_(burst) {}

  // Takes a token from `tenant`'s bucket at `now`. True when there was one;
  // otherwise false, and `retry_after` is the whole seconds (at least 1)
  // until one is back. Any thread.
  bool Admit(TenantId tenant, Clock::time_point now, int& retry_after);

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point last{};
  };
  // Sharded so that tenants on different shards never wait on each other.
  struct Shard {
    mutable Mutex mu;
    std::unordered_map<uint64_t, Bucket> buckets GUARDED_BY(mu);
  };
  static constexpr size_t kShards = 16;
  // Buckets idle long enough to be full again are dropped when a shard
  // holds more than this many, so memory follows active tenants.
  static constexpr size_t kPruneAt = 4096;

  const double rate_;
  const double burst_;
  std::array<Shard, kShards> shards_;
};

}  // namespace siteledger::server
