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

void Metrics::Observe(const std::string& route, const std::string& method,
                      int status, double seconds) {
  std::lock_guard lock(mu_);
  Series& s = series_[{route, method, status}];
  ++s.count;
  s.sum += seconds;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++s.buckets[i];
  }
}

void Metrics::Render(std::string& out) const {
  std::lock_guard lock(mu_);
  out +=
      "# HELP siteledger_http_requests_total HTTP requests by route template, "
      "method and status.\n# TYPE siteledger_http_requests_total counter\n";
  for (const auto& [key, s] : series_) {
    const auto& [route, method, status] = key;
    AppendSample(out, "siteledger_http_requests_total",
                 "route=\"" + route + "\",method=\"" + method + "\",status=\"" +
                     std::to_string(status) + "\"",
                 static_cast<double>(s.count));
  }
  // Latency by route and method (statuses merged).
  std::map<std::pair<std::string, std::string>, Series> merged;
  for (const auto& [key, s] : series_) {
    Series& m = merged[{std::get<0>(key), std::get<1>(key)}];
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
}

}  // namespace siteledger::server
