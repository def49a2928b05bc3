#include "server/metrics.h"

#include <cstdio>

namespace siteledger::server {

void AppendSample(std::string& out, std::string_view name,
                  std::string_view labels, double value) {
  out += name;
  if (!labels.empty()) {
    out += "{";
    out += labels;
    out += "}";
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, " %.17g\n", value);
  out += buf;
}

Metrics::Metrics(std::vector<std::string> routes)
    : routes_(std::move(routes)) {}

void Metrics::Observe(size_t route, std::string_view method, int status,
                      double seconds) {
  size_t m = kMethods.size() - 1;
  for (size_t i = 0; i + 1 < kMethods.size(); ++i) {
    if (kMethods[i] == method) m = i;
  }
  const uint64_t key =
      (static_cast<uint64_t>(std::min(route, routes_.size())) << 24) |
      (m << 16) | static_cast<uint64_t>(status & 0xffff);
  MutexLock lock(mu_);
  Series& s = series_[key];
  ++s.count;
  s.sum += seconds;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++s.buckets[i];
  }
}

void Metrics::Render(std::string& out) const {
  MutexLock lock(mu_);
  out +=
      "# HELP siteledger_http_requests_total HTTP requests by route template, "
      "method and status.\n# TYPE siteledger_http_requests_total counter\n";
  auto route_name = [&](uint64_t key) -> const std::string& {
    static const std::string kUnmatched = "unmatched";
    const size_t r = key >> 24;
    return r < routes_.size() ? routes_[r] : kUnmatched;
  };
  auto method_name = [](uint64_t key) {
    return std::string(kMethods[(key >> 16) & 0xff]);
  };
  for (const auto& [key, s] : series_) {
    AppendSample(out, "siteledger_http_requests_total",
                 "route=\"" + route_name(key) + "\",method=\"" +
                     method_name(key) + "\",status=\"" +
                     std::to_string(key & 0xffff) + "\"",
                 static_cast<double>(s.count));
  }
  // Latency by route and method (statuses merged).
  std::map<std::pair<std::string, std::string>, Series> merged;
  for (const auto& [key, s] : series_) {
    Series& m = merged[{route_name(key), method_name(key)}];
    m.count += s.count;
    m.sum += s.sum;
    for (size_t i = 0; i < kBuckets.size(); ++i) m.buckets[i] += s.buckets[i];
  }
  out +=
      "# HELP siteledger_http_request_duration_seconds Time to answer a "
      "request.\n# TYPE siteledger_http_request_duration_seconds histogram\n";
  for (const auto& [key, s] : merged) {
    const std::string labels =
        "route=\"" + key.first + "\",method=\"" + key.second + "\"";
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      char le[32];
      std::snprintf(le, sizeof le, "%g", kBuckets[i]);
      AppendSample(out, "siteledger_http_request_duration_seconds_bucket",
                   labels + ",le=\"" + le + "\"",
                   static_cast<double>(s.buckets[i]));
    }
    AppendSample(out, "siteledger_http_request_duration_seconds_bucket",
                 labels + ",le=\"+Inf\"", static_cast<double>(s.count));
    AppendSample(out, "siteledger_http_request_duration_seconds_sum", labels,
                 s.sum);
    AppendSample(out, "siteledger_http_request_duration_seconds_count", labels,
                 static_cast<double>(s.count));
  }
  out +=
      "# HELP siteledger_rate_limited_requests_total Tenant requests refused "
      "with 429 by the per-tenant rate limit.\n"
      "# TYPE siteledger_rate_limited_requests_total counter\n";
  AppendSample(out, "siteledger_rate_limited_requests_total", "",
               static_cast<double>(rate_limited_.load()));
  out +=
      "# HELP siteledger_sweeper_last_success_timestamp_seconds When the "
      "sweeper (purges due, access-log retention) last finished without an "
      "error; 0 before its first run.\n"
      "# TYPE siteledger_sweeper_last_success_timestamp_seconds gauge\n";
  AppendSample(out, "siteledger_sweeper_last_success_timestamp_seconds", "",
               sweep_ok_at_.load());
  out +=
      "# HELP siteledger_sweeper_last_failure_timestamp_seconds When a "
      "sweeper run last failed; 0 if none has.\n"
      "# TYPE siteledger_sweeper_last_failure_timestamp_seconds gauge\n";
  AppendSample(out, "siteledger_sweeper_last_failure_timestamp_seconds", "",
               sweep_failed_at_.load());
}

}  // namespace siteledger::server
