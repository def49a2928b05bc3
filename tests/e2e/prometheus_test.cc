// /metrics as Prometheus reads it: `promtool check metrics` (Debian's
// prometheus package) accepts it, and the figures operators page on are
// there and move with the work.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

// The value of the sample `series` (name and labels as printed), or -1.
double Sample(const std::string& metrics, const std::string& series) {
  std::istringstream lines(metrics);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with(series + " ")) {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

TEST_CASE(
    "promtool check metrics accepts /metrics, and the commit, registry, "
    "sweeper and rate-limit figures are there and move",
    "[e2e][prometheus]") {
  // A small burst, so that a quick run of requests meets the limiter.
  World w({"--tenant-rate", "1", "--tenant-burst", "5"});
  Tenant t = w.Install("client-prometheus");
  w.Install("client-prometheus-2");
  const double synced_before =
      Sample(Http("GET", w.server->url("/metrics")).body,
             "siteledger_wal_sync_duration_seconds_count");
  REQUIRE(synced_before >= 0);
  int created = 0, limited = 0;
  for (int i = 0; i < 10; ++i) {
    Response r = w.Call(t, "POST", "/api/v1/sites",
                        "{\"name\":\"S" + std::to_string(i) + "\"}");
    created += r.status == 201;
    limited += r.status == 429;
  }
  REQUIRE(created >= 1);
  REQUIRE(limited >= 1);

  const std::string metrics = Http("GET", w.server->url("/metrics")).body;
  const std::filesystem::path file = w.dir.path() / "metrics.txt";
  std::ofstream(file) << metrics;
  auto [code, out] = RunProgram(
      {"/bin/sh", "-c", "promtool check metrics < '" + file.string() + "'"});
  INFO(out);
  CHECK(code == 0);
  CHECK(out.empty());  // not even a lint warning

  // Every family has its HELP and TYPE.
  for (const char* family :
       {"siteledger_wal_sync_duration_seconds", "siteledger_commit_queue_depth",
        "siteledger_group_commit_size", "siteledger_tenants",
        "siteledger_migrations", "siteledger_purges_due",
        "siteledger_purges_overdue",
        "siteledger_sweeper_last_success_timestamp_seconds",
        "siteledger_rate_limited_requests_total",
        "siteledger_rocksdb_estimate_num_keys"}) {
    INFO(family);
    CHECK(metrics.find(std::string("# HELP ") + family + " ") !=
          std::string::npos);
    CHECK(metrics.find(std::string("# TYPE ") + family + " ") !=
          std::string::npos);
  }
  // The synced writes were timed: each append acknowledged went through
  // one (groups of one at this pace).
  CHECK(Sample(metrics, "siteledger_wal_sync_duration_seconds_count") >=
        synced_before + created);
  CHECK(Sample(metrics, "siteledger_wal_sync_duration_seconds_sum") > 0);
  CHECK(Sample(metrics, "siteledger_commit_queue_depth") == 0);
  CHECK(Sample(metrics, "siteledger_tenants{region=\"us\"}") == 2);
  CHECK(Sample(metrics, "siteledger_migrations{state=\"copying\"}") == 0);
  CHECK(Sample(metrics, "siteledger_purges_due") == 0);
  CHECK(Sample(metrics, "siteledger_rate_limited_requests_total") == limited);
  // The sweeper runs at start.
  const double swept =
      Sample(metrics, "siteledger_sweeper_last_success_timestamp_seconds");
  CHECK(swept > static_cast<double>(NowSeconds() - 600));

  // The tenant count, kept rather than walked, follows a new install.
  w.Install("client-prometheus-3");
  const std::string after = Http("GET", w.server->url("/metrics")).body;
  CHECK(Sample(after, "siteledger_tenants{region=\"us\"}") == 3);
}

}  // namespace
}  // namespace siteledger::e2e
