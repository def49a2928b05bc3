#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "storage/base/mutex.h"

namespace siteledger::server {

// Request counters and latency histograms by route template, method and
// status, rendered in Prometheus' text format. Labels never carry a tenant
// id or any value from a request beyond its route template. Thread-safe.
class Metrics {
 public:
  static constexpr std::array<double, 12> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

  // Names the routes; route index routes.size() is "unmatched".
  explicit Metrics(std::vector<std::string> routes);

  // Counts one answer. Any thread.
  void Observe(size_t route, std::string_view method, int status,
               double seconds);

  // A tenant request refused with 429 by the rate limiter. Any thread.
  void CountRateLimited() {
    rate_limited_.fetch_add(1, std::memory_order_relaxed);
  }
  // The sweeper finished a run now (`ok`: without an error). Any thread.
  void SweepDone(bool ok) {
    (ok ? sweep_ok_at_ : sweep_failed_at_)
        .store(std::chrono::duration<double>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count(),
               std::memory_order_relaxed);
  }

  // Appends the request metrics, the rate limiter's and the sweeper's to
  // `out`.
  void Render(std::string& out) const;

 private:
  struct Series {
    uint64_t count = 0;
    double sum = 0;
    std::array<uint64_t, kBuckets.size()> buckets{};
  };
  static constexpr std::array<std::string_view, 8> kMethods = {
      "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"};
  const std::vector<std::string> routes_;
  mutable Mutex mu_;
  // (route index, method index, status) packed -> counters
  std::map<uint64_t, Series> series_ GUARDED_BY(mu_);
  std::atomic<uint64_t> rate_limited_{0};
  std::atomic<double> sweep_ok_at_{0};      // 0: none yet
  std::atomic<double> sweep_failed_at_{0};  // 0: none yet
};

// Appends one Prometheus sample line: name{labels} value.
void AppendSample(std::string& out, std::string_view name,
                  std::string_view labels, double value);

}  // namespace siteledger::server
