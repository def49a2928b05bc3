// Data residency end to end: two real siteledgerd processes on loopback, a
// US and an EU region, moving tenants between them while clients write.

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "tests/e2e/regions.h"

namespace siteledger::e2e {
namespace {

// Creates `n` sites with `threads` clients; returns their ids.
std::set<std::string> CreateSites(Server& s, const Tenant& t, int n,
                                  int threads = 4) {
  std::mutex mu;
  std::set<std::string> ids;
  std::vector<std::thread> workers;
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  for (int w = 0; w < threads; ++w) {
    workers.emplace_back([&] {
      for (int i = next++; i < n; i = next++) {
        Response r = Regions::Call(s, t, "POST", "/api/v1/sites", SiteBody(i));
        if (r.status != 201) {
          if (failures++ == 0) {
            std::lock_guard lock(mu);
            UNSCOPED_INFO("first failure: " << r.status << " " << r.body);
          }
          continue;
        }
        std::lock_guard lock(mu);
        ids.insert(std::string(r.json().GetString("id")));
      }
    });
  }
  for (auto& w : workers) w.join();
  REQUIRE(failures == 0);
  return ids;
}

// A client that keeps creating sites through the move, following
// redirects and retrying 503s: what it was told was stored, and the longest
// stretch during which its writes were refused.
struct Writer {
  Regions& regions;
  Tenant tenant;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::set<std::string> acknowledged;
  std::chrono::milliseconds longest_refusal{0};
  int refused = 0;
  int unreachable = 0;
  int unexpected = 0;
  std::string last_unexpected;
  std::thread thread;

  Writer(Regions& r, Tenant t) : regions(r), tenant(std::move(t)) {
    thread = std::thread([this] { Run(); });
  }
  ~Writer() { Stop(); }
  void Stop() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
  void Run() {
    int n = 1000000;
    std::optional<std::chrono::steady_clock::time_point> refused_since;
    while (!stop) {
      Response r = Regions::Follow(*regions.us, tenant, "POST", "/api/v1/sites",
                                   SiteBody(n++));
      const auto now = std::chrono::steady_clock::now();
      std::lock_guard lock(mu);
      if (r.status == 201) {
        acknowledged.insert(std::string(r.json().GetString("id")));
        if (refused_since) {
          longest_refusal =
              std::max(longest_refusal,
                       std::chrono::duration_cast<std::chrono::milliseconds>(
                           now - *refused_since));
          refused_since.reset();
        }
      } else if (r.status == 503) {
        ++refused;
        if (!refused_since) refused_since = now;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      } else if (r.status < 0) {
        // A region down (a crash test): nothing was acknowledged.
        ++unreachable;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      } else {
        ++unexpected;
        last_unexpected = std::to_string(r.status) + " " + r.body;
      }
    }
  }
};

TEST_CASE(
    "A tenant moves to the EU while a client writes: every acknowledged "
    "write is there, the media match, the US redirects, the lock is short",
    "[residency]") {
  Regions regions;
  Tenant t = regions.Install("residency-move");
  Tenant other = regions.Install("residency-bystander");
  const std::set<std::string> before = CreateSites(*regions.us, t, 3000);
  const std::string svg = Svg(1);
  Response upload =
      Regions::Call(*regions.us, t, "POST", "/api/v1/media?kind=logo", svg,
                    {"Content-Type: image/svg+xml"});
  INFO(upload.body);
  REQUIRE(upload.status == 201);
  const std::string media_id(upload.json().GetString("id"));
  Response url = Regions::Call(*regions.us, t, "POST",
                               "/api/v1/media/" + media_id + "/url");
  REQUIRE(url.status == 200);
  const std::string signed_url(url.json().GetString("url"));
  const std::vector<Json> events_before = AllEvents(*regions.us, t);

  Response home = Regions::Call(*regions.us, t, "GET", "/api/v1/residency");
  REQUIRE(home.status == 200);
  CHECK(home.json().GetString("region") == "us");
  CHECK(home.json().GetString("state") == "home");
  CHECK(home.json().Find("rollbackDeadline")->is_null());

  Writer writer(regions, t);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Response start =
      Regions::PageCall(*regions.us, t, "POST", "/api/v1/residency/migration",
                        "{\"target\":\"eu\"}");
  INFO(start.body);
  REQUIRE(start.status == 202);
  // Another tenant of the region is served throughout.
  for (int i = 0; i < 20; ++i) {
    CHECK(
        Regions::Call(*regions.us, other, "POST", "/api/v1/sites", SiteBody(i))
            .status == 201);
  }
  const Json moved = regions.WaitResidency(*regions.us, t, [](const Json& j) {
    return j.GetString("region") == "eu";
  });
  CHECK(moved.GetString("homeBaseUrl") == regions.eu->base_url());
  CHECK(moved.Find("rollbackDeadline")->is_string());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  writer.Stop();
  INFO(writer.last_unexpected);
  CHECK(writer.unexpected == 0);
  CHECK(writer.longest_refusal < std::chrono::milliseconds(1000));
  WARN("writes refused during the cutover: " << writer.refused << ", longest "
                                             << writer.longest_refusal.count()
                                             << " ms");
  {
    const std::string log = regions.us->Log();
    const size_t at = log.find("residency cutover");
    if (at != std::string::npos) WARN(log.substr(at, 200));
  }

  // Every write that got a 2xx is in the EU.
  const std::set<std::string> eu_sites = SiteIds(*regions.eu, t);
  for (const std::string& id : before) CHECK(eu_sites.contains(id));
  for (const std::string& id : writer.acknowledged) {
    CHECK(eu_sites.contains(id));
  }
  CHECK(eu_sites.size() == before.size() + writer.acknowledged.size());
  // The log is the same log: the events from before, unchanged.
  const std::vector<Json> events_after = AllEvents(*regions.eu, t);
  REQUIRE(events_after.size() >= events_before.size());
  for (size_t i = 0; i < events_before.size(); ++i) {
    CHECK(events_after[i] == events_before[i]);
  }
  // The media, byte for byte, also through a URL signed before the move.
  Response bytes =
      Regions::Call(*regions.eu, t, "GET", "/api/v1/media/" + media_id);
  CHECK(bytes.status == 200);
  CHECK(bytes.body == svg);
  Response old_url = Http("GET", signed_url);
  CHECK(old_url.status == 307);
  Response followed = Http("GET", old_url.header("location"));
  CHECK(followed.status == 200);
  CHECK(followed.body == svg);

  // The US redirects, never answers with data.
  Response redirected =
      Regions::Call(*regions.us, t, "GET", "/api/v1/sites?limit=5");
  CHECK(redirected.status == 307);
  CHECK(redirected.header("location") ==
        regions.eu->url("/api/v1/sites?limit=5"));
  CHECK(redirected.body.find("site ") == std::string::npos);
  // Both regions answer where the tenant lives.
  Response eu_home = Regions::Call(*regions.eu, t, "GET", "/api/v1/residency");
  REQUIRE(eu_home.status == 200);
  CHECK(eu_home.json().GetString("region") == "eu");
  CHECK(eu_home.json().GetString("state") == "home");
  // The bystander stayed home in the US.
  CHECK(Regions::Call(*regions.us, other, "GET", "/api/v1/sites").status ==
        200);

  // A lifecycle callback sent to the old region reaches the new home.
  const std::string path = "/lifecycle/uninstalled";
  Response uninstalled = Http(
      "POST", regions.us->url(path),
      {"Authorization: JWT " +
           SignRs(LifecycleClaims(regions.us->base_url(), t.client_key, path),
                  regions.install_key, "kid-1"),
       "Content-Type: application/json"},
      LifecycleBody("uninstalled", t.client_key, t.secret).Dump());
  INFO(uninstalled.body << regions.eu->Log());
  CHECK(uninstalled.status == 204);
  CHECK(Regions::Call(*regions.eu, t, "GET", "/api/v1/sites").status == 403);
}

TEST_CASE(
    "A rollback within 7 days brings the tenant home as it was at cutover "
    "and purges the EU copy, and after 8 days it is refused and the US copy is "
    "purged",
    "[residency]") {
  Regions regions;
  Tenant t = regions.Install("residency-rollback");
  const std::set<std::string> at_cutover = CreateSites(*regions.us, t, 200);
  Response start = regions.AdminCall(
      *regions.us, "POST", "/admin/tenants/" + t.client_key + "/migration",
      "{\"target\":\"eu\"}");
  INFO(start.body);
  REQUIRE(start.status == 202);
  regions.WaitResidency(*regions.us, t, [](const Json& j) {
    return j.GetString("region") == "eu";
  });
  // Changes made in the EU are dropped by the rollback.
  const std::set<std::string> in_eu = CreateSites(*regions.eu, t, 20, 2);
  Response rollback =
      Regions::PageCall(*regions.eu, t, "POST", "/api/v1/residency/rollback");
  INFO(rollback.body);
  REQUIRE(rollback.status == 202);
  regions.WaitResidency(*regions.us, t, [](const Json& j) {
    return j.GetString("region") == "us" && j.GetString("state") == "home";
  });
  CHECK(SiteIds(*regions.us, t) == at_cutover);
  // The EU copy is gone; the EU sends the tenant home.
  Response eu_sites = Regions::Call(*regions.eu, t, "GET", "/api/v1/sites");
  CHECK(eu_sites.status == 307);
  // The EU purges its copy just after the US took the tenant back.
  Json listed;
  for (int i = 0; i < 600; ++i) {
    Response tenants = regions.AdminCall(*regions.eu, "GET", "/admin/tenants");
    REQUIRE(tenants.status == 200);
    listed = tenants.json();
    bool purged = true;
    for (const Json& item : listed.Find("items")->as_array()) {
      if (item.GetString("clientKey") == t.client_key) purged = false;
    }
    if (purged) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (const Json& item : listed.Find("items")->as_array()) {
    CHECK(item.GetString("clientKey") != t.client_key);
    CHECK(item.GetInt("events") == 0);
  }
  (void)in_eu;

  // Move again, then let 8 days pass: rollback is refused, the US copy goes.
  Tenant t2 = regions.Install("residency-late");
  CreateSites(*regions.us, t2, 50, 2);
  REQUIRE(regions
              .AdminCall(*regions.us, "POST",
                         "/admin/tenants/" + t2.client_key + "/migration",
                         "{\"target\":\"eu\"}")
              .status == 202);
  regions.WaitResidency(*regions.us, t2, [](const Json& j) {
    return j.GetString("region") == "eu";
  });
  for (Server* s : {regions.us.get(), regions.eu.get()}) {
    Response clock =
        regions.AdminCall(*s, "POST", "/admin/clock", "{\"advance\":\"8d\"}");
    INFO(clock.body);
    REQUIRE(clock.status == 200);
  }
  Response late = PageCallAhead(*regions.eu, t2, std::chrono::hours(8 * 24),
                                "POST", "/api/v1/residency/rollback");
  INFO(late.body);
  CHECK(late.status == 409);
  Response dry =
      regions.AdminCall(*regions.us, "POST", "/admin/sweep?dry_run=true");
  REQUIRE(dry.status == 200);
  REQUIRE(dry.json().Find("purged")->as_array().size() == 1);
  Response sweep = regions.AdminCall(*regions.us, "POST", "/admin/sweep");
  INFO(sweep.body);
  REQUIRE(sweep.status == 200);
  const Json swept = sweep.json();
  const auto& purged = swept.Find("purged")->as_array();
  REQUIRE(purged.size() == 1);
  CHECK(purged[0].GetString("clientKey") == t2.client_key);
  CHECK(purged[0].Find("erased")->GetInt("events") > 50);
  // The tombstone still answers where the tenant lives.
  Response tomb_home = CallAhead(*regions.us, t2, std::chrono::hours(8 * 24),
                                 "GET", "/api/v1/residency");
  INFO(tomb_home.body);
  REQUIRE(tomb_home.status == 200);
  CHECK(tomb_home.json().GetString("region") == "eu");
  CHECK(tomb_home.json().GetString("homeBaseUrl") == regions.eu->base_url());
  // The tombstone still sends the tenant to the EU.
  Response tomb = CallAhead(*regions.us, t2, std::chrono::hours(8 * 24), "GET",
                            "/api/v1/sites");
  CHECK(tomb.status == 307);
  CHECK(CallAhead(*regions.eu, t2, std::chrono::hours(8 * 24), "GET",
                  "/api/v1/sites")
            .status == 200);
}

// A request signed as Atlassian signs realm-migration callbacks: the
// installation's HS256 token with the request's qsh.
Response Dare(Server& s, const Tenant& t, const std::string& method,
              const std::string& target, const std::string& body = "") {
  std::vector<std::string> headers = {t.Auth(method, target, "")};
  if (!body.empty()) headers.push_back("Content-Type: application/json");
  return Http(method, s.url(target), headers, body);
}

TEST_CASE(
    "Atlassian's realm-migration callbacks drive the same migration, and the "
    "descriptor declares them and each region's base URL",
    "[residency]") {
  Regions regions;
  Response descriptor = Http("GET", regions.us->url("/atlassian-connect.json"));
  REQUIRE(descriptor.status == 200);
  const Json d = descriptor.json();
  CHECK(d.Find("lifecycle")->GetString("dare-migration") == "/migration");
  CHECK(d.Find("regionBaseUrls")->GetString("US") == regions.us->base_url());
  CHECK(d.Find("regionBaseUrls")->GetString("EU") == regions.eu->base_url());

  Tenant t = regions.Install("residency-dare");
  CreateSites(*regions.us, t, 30, 2);
  const std::string window =
      R"("startTime":"2026-11-28T01:00:00Z","endTime":"2026-11-28T03:00:00Z")";
  // A location this deployment has no region for fails with E0002, and the
  // status says so.
  Response jp =
      Dare(*regions.us, t, "POST", "/migration/start",
           "{" + window + R"(,"location":"JP","migrationId":"mig-jp"})");
  INFO(jp.body);
  CHECK(jp.status >= 400);
  CHECK(jp.json().GetString("status") == "failed");
  CHECK(jp.json().GetString("errorResponseCode") == "E0002");
  Response jp_status =
      Dare(*regions.us, t, "GET", "/migration/status?migrationId=mig-jp");
  CHECK(jp_status.json().GetString("status") == "failed");
  CHECK(jp_status.json().GetString("errorResponseCode") == "E0002");

  Response scheduled =
      Dare(*regions.us, t, "POST", "/migration/schedule",
           "{" + window + R"(,"location":"EU","migrationId":"mig-1"})");
  INFO(scheduled.body);
  CHECK(scheduled.status == 200);
  // Scheduling moves nothing.
  CHECK(Regions::Call(*regions.us, t, "GET", "/api/v1/sites").status == 200);
  Response started =
      Dare(*regions.us, t, "POST", "/migration/start",
           "{" + window + R"(,"location":"EU","migrationId":"mig-1"})");
  INFO(started.body);
  CHECK(started.status / 100 == 2);
  std::string status;
  for (int i = 0; i < 600 && status != "ready-to-commit"; ++i) {
    Response r =
        Dare(*regions.us, t, "GET", "/migration/status?migrationId=mig-1");
    REQUIRE(r.status == 200);
    status = std::string(r.json().GetString("status"));
    if (status != "ready-to-commit") {
      REQUIRE(status == "in-progress");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  REQUIRE(status == "ready-to-commit");
  // The new home says so too.
  CHECK(Dare(*regions.eu, t, "GET", "/migration/status?migrationId=mig-1")
            .json()
            .GetString("status") == "ready-to-commit");
  Response commit = Dare(*regions.us, t, "POST", "/migration/commit",
                         R"({"migrationId":"mig-1"})");
  CHECK(commit.status == 200);
  CHECK(Regions::Call(*regions.us, t, "GET", "/api/v1/sites").status == 307);
  // Atlassian's rollback moves the site back.
  Response rollback = Dare(*regions.us, t, "POST", "/migration/rollback",
                           R"({"migrationId":"mig-1"})");
  INFO(rollback.body);
  CHECK(rollback.status / 100 == 2);
  regions.WaitResidency(*regions.us, t, [](const Json& j) {
    return j.GetString("region") == "us" && j.GetString("state") == "home";
  });
  // A tenant token signed by another installation's secret opens nothing.
  Tenant forged{t.client_key, "not-the-secret-0123456789abcdef-xyz"};
  CHECK(Dare(*regions.us, forged, "GET", "/migration/status?migrationId=x")
            .status == 401);
}

TEST_CASE(
    "Region-to-region routes accept only the peer secret's tokens, bound to "
    "the request",
    "[residency]") {
  Regions regions;
  Tenant t = regions.Install("residency-peer-auth");
  const std::string target = "/internal/v1/tenants/" + t.client_key;
  auto peer_token = [&](const std::string& secret, const std::string& iss,
                        const std::string& method, const std::string& path) {
    Json claims = Json::MakeObject();
    claims.Set("iss", iss);
    claims.Set("iat", NowSeconds());
    claims.Set("exp", NowSeconds() + 60);
    claims.Set("qsh", server::QueryStringHash(method, path, ""));
    return "Authorization: JWT " + SignHs(claims, secret);
  };
  const std::string secret = "peer-secret-0123456789abcdef0123456789abcdef";
  // The right secret and qsh: answered.
  Response ok = Http("GET", regions.us->url(target),
                     {peer_token(secret, "siteledger:eu", "GET", target)});
  INFO(ok.body);
  CHECK(ok.status == 200);
  CHECK(ok.json().GetString("state") == "home");
  // A tenant's own token, an operator's token, another secret, an unknown
  // region, a qsh for another request, no token: 401, nothing answered.
  for (const std::string& header :
       {t.Auth("GET", target), "Authorization: Bearer " + regions.admin,
        peer_token("another-secret-0123456789abcdef0123456789", "siteledger:eu",
                   "GET", target),
        peer_token(secret, "siteledger:jp", "GET", target),
        peer_token(secret, "siteledger:eu", "GET", target + "/digest"),
        std::string("X-None: 1")}) {
    Response r = Http("GET", regions.us->url(target), {header});
    INFO(header << " -> " << r.body);
    CHECK(r.status == 401);
    CHECK(r.body.find("\"seq\"") == std::string::npos);
  }
  // A forged begin cannot plant a copy of a tenant.
  const std::string begin = "/internal/v1/tenants/planted/begin";
  Response planted =
      Http("POST", regions.eu->url(begin),
           {t.Auth("POST", begin), "Content-Type: application/json"},
           R"({"migrationId":"m","clientKey":"planted","sharedSecret":"s"})");
  CHECK(planted.status == 401);
}

TEST_CASE(
    "Regions that serve HTTPS move a tenant over HTTPS, and a region that "
    "does not trust its peer's certificate sends it nothing",
    "[residency]") {
  {
    Regions regions(RegionOptions{.crash_us = "", .crash_eu = "", .tls = true});
    REQUIRE(regions.us->base_url().starts_with("https://"));
    Tenant t = regions.Install("residency-tls");
    const std::set<std::string> sites = CreateSites(*regions.us, t, 40, 2);
    REQUIRE(Regions::PageCall(*regions.us, t, "POST",
                              "/api/v1/residency/migration",
                              "{\"target\":\"eu\"}")
                .status == 202);
    regions.WaitResidency(*regions.us, t, [](const Json& j) {
      return j.GetString("region") == "eu";
    });
    CHECK(SiteIds(*regions.eu, t) == sites);
    CHECK(regions.eu->Log().find("\"tls\":\"on\"") != std::string::npos);
  }
  Regions regions(RegionOptions{
      .crash_us = "", .crash_eu = "", .tls = true, .us_trusts_eu = false});
  Tenant t = regions.Install("residency-untrusted");
  CreateSites(*regions.us, t, 10, 2);
  REQUIRE(Regions::PageCall(*regions.us, t, "POST",
                            "/api/v1/residency/migration",
                            "{\"target\":\"eu\"}")
              .status == 202);
  const Json stuck = regions.WaitResidency(*regions.us, t, [](const Json& j) {
    return j.Find("lastError")->is_string();
  });
  CHECK(stuck.GetString("region") == "us");
  CHECK(stuck.GetString("lastError").find("certificate") != std::string::npos);
  // The EU never heard of the tenant.
  Response tenants = regions.AdminCall(*regions.eu, "GET", "/admin/tenants");
  REQUIRE(tenants.status == 200);
  CHECK(tenants.json().Find("items")->as_array().empty());
  // The tenant keeps working at home meanwhile.
  CHECK(Regions::Call(*regions.us, t, "POST", "/api/v1/sites", SiteBody(1))
            .status == 201);
}

TEST_CASE(
    "A retry at the new home with the Idempotency-Key of a write the old "
    "home acknowledged is answered as the old home answered it",
    "[residency]") {
  Regions regions;
  Tenant t = regions.Install("residency-idempotent");
  CreateSites(*regions.us, t, 20, 2);
  Response first =
      Regions::Call(*regions.us, t, "POST", "/api/v1/sites", SiteBody(500),
                    {"Content-Type: application/json", "Idempotency-Key: k-1"});
  REQUIRE(first.status == 201);
  const std::string id(first.json().GetString("id"));
  REQUIRE(Regions::PageCall(*regions.us, t, "POST",
                            "/api/v1/residency/migration",
                            "{\"target\":\"eu\"}")
              .status == 202);
  regions.WaitResidency(*regions.us, t, [](const Json& j) {
    return j.GetString("region") == "eu";
  });
  const size_t sites = SiteIds(*regions.eu, t).size();
  Response retry =
      Regions::Call(*regions.eu, t, "POST", "/api/v1/sites", SiteBody(500),
                    {"Content-Type: application/json", "Idempotency-Key: k-1"});
  INFO(retry.body);
  CHECK(retry.status == 201);
  CHECK(retry.json().GetString("id") == id);
  CHECK(retry.header("idempotent-replayed") == "true");
  CHECK(SiteIds(*regions.eu, t).size() == sites);
  Response other =
      Regions::Call(*regions.eu, t, "POST", "/api/v1/sites", SiteBody(501),
                    {"Content-Type: application/json", "Idempotency-Key: k-1"});
  CHECK(other.status == 409);
}

// Both regions agree on the tenant's home, and it is settled there.
// How many of `ids` are not in `sites`.
size_t CountMissing(const std::set<std::string>& ids,
                    const std::set<std::string>& sites) {
  return static_cast<size_t>(std::count_if(
      ids.begin(), ids.end(),
      [&](const std::string& id) { return !sites.contains(id); }));
}

std::string SettledHome(Regions& regions, const Tenant& t) {
  std::string home;
  for (int i = 0; i < 1200; ++i) {
    Response us = Regions::Call(*regions.us, t, "GET", "/api/v1/residency");
    Response eu = Regions::Call(*regions.eu, t, "GET", "/api/v1/residency");
    if (us.status == 200 && eu.status == 200) {
      const Json a = us.json();
      const Json b = eu.json();
      if (a.GetString("region") == b.GetString("region") &&
          a.GetString("state") == "home" && b.GetString("state") == "home") {
        home = std::string(a.GetString("region"));
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  INFO("us:\n" << regions.us->Log() << "\neu:\n" << regions.eu->Log());
  REQUIRE(!home.empty());
  return home;
}

TEST_CASE(
    "A region killed at any step of a migration or rollback resumes or "
    "aborts cleanly, and no acknowledged write is lost",
    "[residency][crash]") {
  struct Step {
    const char* point;
    bool us;        // the US process is the one that dies
    bool rollback;  // the point is in a rollback (after a move)
  };
  const Step step = GENERATE(
      Step{"copy-batch", true, false}, Step{"import-batch", false, false},
      Step{"cutover-locked", true, false}, Step{"tail-batch", true, false},
      Step{"cutover-committed", true, false},
      Step{"commit-recorded", false, false},
      Step{"rollback-recorded", false, true},
      Step{"reclaim-recorded", true, true});
  CAPTURE(step.point, step.us, step.rollback);
  Regions regions(step.us ? step.point : "", step.us ? "" : step.point);
  Tenant t = regions.Install("residency-crash");
  const std::set<std::string> before = CreateSites(*regions.us, t, 1200);
  if (step.rollback) {
    REQUIRE(Regions::PageCall(*regions.us, t, "POST",
                              "/api/v1/residency/migration",
                              "{\"target\":\"eu\"}")
                .status == 202);
    regions.WaitResidency(*regions.eu, t, [](const Json& j) {
      return j.GetString("region") == "eu" && j.GetString("state") == "home";
    });
  }
  Writer writer(regions, t);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Response start = step.rollback
                       ? Regions::PageCall(*regions.eu, t, "POST",
                                           "/api/v1/residency/rollback")
                       : Regions::PageCall(*regions.us, t, "POST",
                                           "/api/v1/residency/migration",
                                           "{\"target\":\"eu\"}");
  // The process may die before it answers (a rollback's own request).
  CHECK((start.status == 202 || start.status < 0));
  Server& victim = step.us ? *regions.us : *regions.eu;
  bool died = false;
  for (int i = 0; i < 1200 && !died; ++i) {
    died = victim.Exited();
    if (!died) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  INFO("us:\n" << regions.us->Log() << "\neu:\n" << regions.eu->Log());
  REQUIRE(died);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Regions::Restart(victim);
  const std::string home = SettledHome(regions, t);
  // A rollback ends in the US, a migration in the EU (each resumed).
  CHECK(home == (step.rollback ? "us" : "eu"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  writer.Stop();
  INFO(writer.last_unexpected);
  CHECK(writer.unexpected == 0);
  Server& home_server = home == "us" ? *regions.us : *regions.eu;
  Server& other = home == "us" ? *regions.eu : *regions.us;
  const std::set<std::string> sites = SiteIds(home_server, t);
  for (const std::string& id : before) CHECK(sites.contains(id));
  const size_t lost = CountMissing(writer.acknowledged, sites);
  if (step.rollback) {
    // Writes acknowledged in the EU before the rollback are dropped by it,
    // as the rollback says; none acknowledged by the US may be missing.
    CHECK(sites.size() >= before.size());
  } else {
    CHECK(lost == 0);
  }
  CHECK(Regions::Call(other, t, "GET", "/api/v1/sites").status == 307);
  // Writes go on at the home.
  CHECK(Regions::Call(home_server, t, "POST", "/api/v1/sites", SiteBody(7))
            .status == 201);
}

TEST_CASE(
    "A region SIGKILLed at a random moment of a migration, either side, "
    "resumes or aborts cleanly, and no acknowledged write is lost",
    "[residency][crash]") {
  // Six rounds, the US and the EU process by turns, each killed 20 ms to
  // 1.5 s after the migration was accepted: during the copy, the cutover,
  // the tail or after the move, wherever the moment falls.
  const int round = GENERATE(range(0, 6));
  const bool kill_us = round % 2 == 0;
  std::mt19937 rng(std::random_device{}());
  const int delay_ms = std::uniform_int_distribution<int>(20, 1500)(rng);
  CAPTURE(round, kill_us, delay_ms);
  Regions regions;
  Tenant t = regions.Install("residency-random-kill");
  const std::set<std::string> before = CreateSites(*regions.us, t, 1200);
  Writer writer(regions, t);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  REQUIRE(Regions::PageCall(*regions.us, t, "POST",
                            "/api/v1/residency/migration",
                            "{\"target\":\"eu\"}")
              .status == 202);
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  Regions::Restart(kill_us ? *regions.us : *regions.eu);
  const std::string home = SettledHome(regions, t);
  CHECK((home == "us" || home == "eu"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  writer.Stop();
  INFO(writer.last_unexpected);
  CHECK(writer.unexpected == 0);
  CHECK(!writer.acknowledged.empty());
  Server& home_server = home == "us" ? *regions.us : *regions.eu;
  Server& other = home == "us" ? *regions.eu : *regions.us;
  const std::set<std::string> sites = SiteIds(home_server, t);
  for (const std::string& id : before) CHECK(sites.contains(id));
  const size_t lost = CountMissing(writer.acknowledged, sites);
  CHECK(lost == 0);
  CHECK(Regions::Call(other, t, "GET", "/api/v1/sites").status == 307);
  CHECK(Regions::Call(home_server, t, "POST", "/api/v1/sites", SiteBody(7))
            .status == 201);
  WARN("random kill: round " << round << ", " << (kill_us ? "us" : "eu")
                             << " killed " << delay_ms << " ms in, home "
                             << home << ", " << writer.acknowledged.size()
                             << " writes acknowledged");
}

}  // namespace
}  // namespace siteledger::e2e
