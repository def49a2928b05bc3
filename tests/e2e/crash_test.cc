// Crashes of the whole server, end to end: siteledgerd is killed with
// SIGKILL at random moments while 16 clients write, ten times over; after
// each restart every write that was answered 2xx is there, and at the end
// every tenant's chain verifies (`siteledger verify` on the stopped data).

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <random>
#include <set>
#include <thread>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

using namespace std::chrono_literals;

// Every site id of `t`, through the paged list.
std::set<std::string> ListedSites(World& w, const Tenant& t) {
  std::set<std::string> listed;
  std::string cursor;
  for (;;) {
    const std::string target =
        "/api/v1/sites?limit=200" + (cursor.empty() ? "" : "&cursor=" + cursor);
    const Response r = w.Call(t, "GET", target);
    INFO(r.body);
    REQUIRE(r.status == 200);
    const Json page = r.json();
    for (const std::string& id : IdsOf(page)) listed.insert(id);
    const Json* next = page.Find("nextCursor");
    if (next == nullptr || !next->is_string()) break;
    cursor = next->as_string();
  }
  return listed;
}

TEST_CASE(
    "siteledgerd killed at random moments while 16 clients write loses no "
    "acknowledged write, ten rounds over",
    "[crash]") {
  World w;
  std::vector<Tenant> tenants;
  for (int i = 0; i < 4; ++i) {
    tenants.push_back(w.Install("crash-" + std::to_string(i)));
  }
  std::mt19937 rng(std::random_device{}());
  // tenant index -> acknowledged site ids, over all rounds.
  std::vector<std::set<std::string>> acked(tenants.size());
  std::vector<double> restart_ms;
  size_t total_acked = 0, total_failed = 0;
  for (int round = 0; round < 10; ++round) {
    std::atomic<bool> stop{false};
    std::vector<std::vector<std::string>> got(16);
    std::atomic<size_t> failed{0}, other{0};
    std::vector<std::thread> writers;
    const std::string url = w.server->base_url();
    for (int c = 0; c < 16; ++c) {
      writers.emplace_back([&, c] {
        const Tenant& t = tenants[static_cast<size_t>(c) % tenants.size()];
        for (int i = 0; !stop.load(); ++i) {
          // The URL of this round's process, not w.server's (which the
          // restart changes).
          const Response r =
              Http("POST", url + "/api/v1/sites",
                   {t.Auth("POST", "/api/v1/sites"),
                    "Content-Type: application/json"},
                   "{\"name\":\"r" + std::to_string(round) + "-c" +
                       std::to_string(c) + "-" + std::to_string(i) + "\"}");
          if (r.status == 201) {
            got[static_cast<size_t>(c)].emplace_back(r.json().GetString("id"));
          } else if (r.status <= 0) {
            // The connection failed: the server is gone. Not acknowledged.
            ++failed;
            std::this_thread::sleep_for(5ms);
          } else {
            ++other;
          }
        }
      });
    }
    // A random moment: 100 to 700 ms into the writes.
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 600));
    w.server->Stop(SIGKILL);
    std::this_thread::sleep_for(50ms);
    stop = true;
    for (auto& th : writers) th.join();
    CHECK(other == 0);
    total_failed += failed;
    for (int c = 0; c < 16; ++c) {
      auto& ids = acked[static_cast<size_t>(c) % tenants.size()];
      for (auto& id : got[static_cast<size_t>(c)]) {
        ids.insert(std::move(id));
        ++total_acked;
      }
    }
    const auto start = std::chrono::steady_clock::now();
    w.server->Start();
    restart_ms.push_back(std::chrono::duration<double, std::milli>(
                             std::chrono::steady_clock::now() - start)
                             .count());
    for (size_t i = 0; i < tenants.size(); ++i) {
      const std::set<std::string> listed = ListedSites(w, tenants[i]);
      size_t lost = 0;
      for (const std::string& id : acked[i]) lost += !listed.contains(id);
      INFO("round " << round << ", tenant " << tenants[i].client_key << ": "
                    << acked[i].size() << " acknowledged, " << listed.size()
                    << " listed");
      CHECK(lost == 0);
    }
  }
  std::sort(restart_ms.begin(), restart_ms.end());
  WARN("10 SIGKILLs: " << total_acked << " writes acknowledged, "
                       << total_failed
                       << " failed while the server was down; restart to "
                          "serving: median "
                       << restart_ms[restart_ms.size() / 2] << " ms, max "
                       << restart_ms.back() << " ms");
  CHECK(total_acked > 100);
  // Every chain verifies on the stopped data.
  REQUIRE(w.server->Stop() == 0);
  const ProcessResult verify =
      RunTool({"verify", "--data", (w.dir.path() / "us").string()});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);
  for (const Tenant& t : tenants) {
    CHECK(verify.out.find("(" + t.client_key + ")") != std::string::npos);
  }
  CHECK(verify.out.find("DAMAGED") == std::string::npos);
}

}  // namespace
}  // namespace siteledger::e2e
