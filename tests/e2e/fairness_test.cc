// Per-tenant rate limits (--tenant-rate, --tenant-burst): a flooding tenant
// is answered 429 with Retry-After, and another tenant is served meanwhile.

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

constexpr char kBody[] = R"({"results":[{"contentId":"1"}]})";

// The 99th percentile of `n` requests by `t`, one every 20 ms or more
// (within its rate limit), in ms; every one must answer 200. Writes are
// synced; reads list a page of sites.
double P99(World& w, const Tenant& t, int n, bool write) {
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const Response r =
        write ? w.Call(t, "PUT", "/api/v1/search/promoted/b", kBody)
              : w.Call(t, "GET", "/api/v1/sites?limit=20");
    ms.push_back(std::chrono::duration<double, std::milli>(
                     std::chrono::steady_clock::now() - start)
                     .count());
    INFO(r.status << " " << r.body);
    REQUIRE(r.status == 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::sort(ms.begin(), ms.end());
  return ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
}

TEST_CASE(
    "A flooding tenant gets 429 with Retry-After while another tenant's "
    "writes are served as before",
    "[fairness]") {
  World w({"--tenant-rate", "100", "--tenant-burst", "100"});
  Tenant flood = w.Install("client-flood");
  Tenant calm = w.Install("client-calm");
  for (int i = 0; i < 20; ++i) {
    REQUIRE(w.Call(calm, "POST", "/api/v1/sites",
                   R"({"name":"Calm )" + std::to_string(i) + "\"}")
                .status == 201);
  }
  // Warm up, then the calm tenant alone.
  P99(w, calm, 20, true);
  const double alone = P99(w, calm, 200, true);
  const double reads_alone = P99(w, calm, 200, false);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, limited{0}, other{0};
  std::atomic<bool> retry_after_ok{true};
  const auto flood_start = std::chrono::steady_clock::now();
  std::vector<std::thread> flooders;
  for (int i = 0; i < 4; ++i) {
    flooders.emplace_back([&] {
      while (!stop) {
        const Response r =
            w.Call(flood, "PUT", "/api/v1/search/promoted/f", kBody);
        if (r.status == 200) {
          ++ok;
        } else if (r.status == 429) {
          ++limited;
          const std::string retry = r.header("retry-after");
          if (retry.empty() || std::stoi(retry) < 1) retry_after_ok = false;
          // It ignores Retry-After, at up to 500 requests a second a
          // thread: twenty times its rate, four threads.
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        } else {
          ++other;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const double during = P99(w, calm, 200, true);
  const double reads_during = P99(w, calm, 200, false);
  stop = true;
  for (auto& f : flooders) f.join();
  const auto flood_end = std::chrono::steady_clock::now();

  WARN("calm tenant's p99: writes "
       << alone << " ms alone, " << during << " ms during the flood; reads "
       << reads_alone << " ms alone, " << reads_during << " ms during; flood: "
       << ok << " admitted, " << limited << " limited, " << other << " other");
  CHECK(limited > 0);
  CHECK(other == 0);
  CHECK(retry_after_ok);
  // The flood got about its rate: its burst plus 100 a second, for the
  // 300 ms plus 200 paced writes and 200 paced reads (over 8 s) it ran.
  const double seconds =
      std::chrono::duration<double>(flood_end - flood_start).count();
  CHECK(ok <= 100 + 100 * seconds + 10);
  // Twice the latency alone, and 25 ms more: the flooding client runs on
  // the same (2-core) machine and takes CPU from both the server and the
  // calm client, which no server-side limit can give back, and a p99 of
  // 200 writes on a noisy machine moves by that much on its own. This is a
  // correctness bound (the calm tenant is not queued behind the flood);
  // the latency figures themselves are the README's.
  CHECK(during <= 2 * alone + 25);
  CHECK(reads_during <= 2 * reads_alone + 25);
  // The limited tenant is served again once it slows down.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK(w.Call(flood, "PUT", "/api/v1/search/promoted/f", kBody).status == 200);
}

TEST_CASE("The rate limit's, quota's and cache's flags are checked",
          "[fairness]") {
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--tenant-rate", "-1"},
        {"--tenant-rate", "1000001"},
        {"--tenant-burst", "0"},
        {"--tenant-rate", "many"},
        {"--tenant-log-quota-bytes", "-5"},
        {"--tenant-log-quota-bytes", "lots"},
        {"--view-cache-bytes", "1000"}}) {
    testing::TempDir dir;
    std::vector<std::string> argv = {SiteledgerdPath(), "--data",
                                     (dir.path() / "data").string()};
    argv.insert(argv.end(), bad.begin(), bad.end());
    const ProcessResult r = RunProcess(argv);
    INFO(bad[0] << " " << bad[1] << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(bad[0]) != std::string::npos);
  }
}

TEST_CASE(
    "A tenant whose event log reaches its quota gets 507 for writes, keeps "
    "its reads, loses nothing, and other tenants write on",
    "[fairness][quota]") {
  World w({"--tenant-log-quota-bytes", "24576"});
  Tenant full = w.Install("quota-full");
  Tenant other = w.Install("quota-other");
  const std::string name(180, 'n');
  std::vector<std::string> created;
  Response refused;
  for (int i = 0; i < 200; ++i) {
    Response r = w.Call(full, "POST", "/api/v1/sites",
                        R"({"name":")" + name + std::to_string(i) + "\"}");
    if (r.status != 201) {
      refused = r;
      break;
    }
    created.emplace_back(r.json().GetString("id"));
  }
  INFO(refused.body);
  REQUIRE(IsProblem(refused, 507));
  CHECK(DetailOf(refused).find("quota is 24576") != std::string::npos);
  // Some thirty sites fit in 24 KiB of log (each event some 600 bytes).
  CHECK(created.size() >= 10);
  const uint64_t head = LastSeq(w, full);

  // Every write is refused the same way and writes nothing; reads go on.
  CHECK(IsProblem(w.Call(full, "PATCH", "/api/v1/sites/" + created[0],
                         R"({"name":"renamed"})"),
                  507));
  CHECK(IsProblem(w.Call(full, "DELETE", "/api/v1/sites/" + created[1]), 507));
  Response list = w.Call(full, "GET", "/api/v1/sites?limit=200");
  REQUIRE(list.status == 200);
  CHECK(IdsOf(list.json()).size() == created.size());
  CHECK(LastSeq(w, full) == head);
  // Another tenant's log is its own.
  CHECK(w.Call(other, "POST", "/api/v1/sites", R"({"name":"Fine"})").status ==
        201);

  // The count survives a restart; raising the quota lets writes in again.
  w.server->Stop();
  w.server->Start();
  CHECK(
      IsProblem(w.Call(full, "POST", "/api/v1/sites", R"({"name":"x"})"), 507));
  w.server->Stop();
  w.server = std::make_unique<Server>(
      w.dir.path(), w.keys.url(),
      std::vector<std::string>{"--tenant-log-quota-bytes", "0"});
  CHECK(w.Call(full, "POST", "/api/v1/sites", R"({"name":"x"})").status == 201);
  CHECK(IdsOf(w.Call(full, "GET", "/api/v1/sites?limit=200").json()).size() ==
        created.size() + 1);
}

}  // namespace
}  // namespace siteledger::e2e
