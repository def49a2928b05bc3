#include "server/internal/rate_limiter.h"

#include <catch2/catch.hpp>

namespace siteledger::server {
namespace {

using namespace std::chrono_literals;

TEST_CASE("A tenant's bucket admits its burst, then its rate, and says when",
          "[rate_limit]") {
  RateLimiter limiter(/*rate=*/10, /*burst=*/5);
  const auto t0 = RateLimiter::Clock::time_point(100s);
  const TenantId a(1), b(2);
  int retry = 0;
  for (int i = 0; i < 5; ++i) CHECK(limiter.Admit(a, t0, retry));
  CHECK_FALSE(limiter.Admit(a, t0, retry));
  CHECK(retry == 1);
  // Another tenant has its own bucket.
  CHECK(limiter.Admit(b, t0, retry));
  // 10 a second: one token back after 100 ms, not before.
  CHECK_FALSE(limiter.Admit(a, t0 + 50ms, retry));
  CHECK(limiter.Admit(a, t0 + 150ms, retry));
  CHECK_FALSE(limiter.Admit(a, t0 + 150ms, retry));
  // Idle for long: full again, never beyond the burst.
  const auto later = t0 + 60s;
  for (int i = 0; i < 5; ++i) CHECK(limiter.Admit(a, later, retry));
  CHECK_FALSE(limiter.Admit(a, later, retry));
}

TEST_CASE("A slow rate says how many seconds until a request is admitted",
          "[rate_limit]") {
  RateLimiter limiter(/*rate=*/0.25, /*burst=*/1);
  const auto t0 = RateLimiter::Clock::time_point(100s);
  int retry = 0;
  CHECK(limiter.Admit(TenantId(7), t0, retry));
  CHECK_FALSE(limiter.Admit(TenantId(7), t0, retry));
  CHECK(retry == 4);
  CHECK_FALSE(limiter.Admit(TenantId(7), t0 + 3s, retry));
  CHECK(retry == 1);
  CHECK(limiter.Admit(TenantId(7), t0 + 4s, retry));
}

TEST_CASE("Rate 0 admits everything", "[rate_limit]") {
  RateLimiter limiter(0, 1);
  int retry = 0;
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(limiter.Admit(TenantId(1), RateLimiter::Clock::now(), retry));
  }
}

TEST_CASE("Many tenants: idle buckets are dropped and come back full",
          "[rate_limit]") {
  RateLimiter limiter(/*rate=*/1, /*burst=*/2);
  const auto t0 = RateLimiter::Clock::time_point(100s);
  int retry = 0;
  for (uint64_t t = 1; t <= 100000; ++t) {
    REQUIRE(limiter.Admit(TenantId(t), t0, retry));
  }
  // Tenant 1 used one of two; after 10 s idle (pruned or not) it has two.
  const auto later = t0 + 10s;
  for (uint64_t t = 100001; t <= 200000; ++t) {
    REQUIRE(limiter.Admit(TenantId(t), later, retry));
  }
  CHECK(limiter.Admit(TenantId(1), later, retry));
  CHECK(limiter.Admit(TenantId(1), later, retry));
  CHECK_FALSE(limiter.Admit(TenantId(1), later, retry));
}

}  // namespace
}  // namespace siteledger::server
