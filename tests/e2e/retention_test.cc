// Retention, end to end on the test clock and real files: an uninstalled
// tenant is kept 30 days (a reinstall restores it), then the sweeper purges
// it so that neither RocksDB's own ldb nor a byte search of the files finds
// anything of it, while other tenants go on being served.

#include <atomic>
#include <catch2/catch.hpp>
#include <random>
#include <set>
#include <thread>

#include "storage/base/rfc3339.h"
#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::seconds kDay = 24h;

// The world of these tests: a server on the test clock, with an operator
// allowed to purge, move the clock and see tenants.
struct RetentionWorld {
  OperatorsFile ops;
  std::string admin = ops.Add("ops", "purge,clock,usage,audit");
  World w{[this] {
    std::vector<std::string> flags = ops.Flags();
    flags.push_back("--test-clock");
    return flags;
  }()};
  // How far the server's clock runs ahead of ours.
  std::chrono::seconds ahead{0};

  Response AdminCall(const std::string& method, const std::string& target,
                     const std::string& body = "") {
    return Admin(w, admin, method, target, "retention test", body);
  }

  void Advance(std::chrono::seconds by) {
    Response r =
        AdminCall("POST", "/admin/clock",
                  "{\"advance\":\"" + std::to_string(by.count()) + "s\"}");
    INFO(r.body);
    REQUIRE(r.status == 200);
    ahead += by;
  }

  // Restarts the server, and moves its new clock as far ahead as the old.
  void Restart() {
    REQUIRE(w.server->Stop() == 0);
    w.server->Start();
    const auto by = ahead;
    ahead = 0s;
    if (by > 0s) Advance(by);
  }

  // A tenant request signed for the server's clock.
  Response Call(const Tenant& t, const std::string& method,
                const std::string& target, const std::string& body = "",
                std::vector<std::string> headers = {}) {
    const int64_t a = ahead.count();
    headers.push_back(
        "Authorization: JWT " +
        t.Token(method, target, "5b10ac8d82e05b22cc7d4ef5", a + 300, a));
    if (!body.empty() && headers.size() == 1) {
      headers.push_back("Content-Type: application/json");
    }
    return Http(method, w.server->url(target), headers, body);
  }

  // A lifecycle callback signed by Atlassian for the server's clock.
  Response Lifecycle(const std::string& event, const Tenant& t) {
    const std::string path = "/lifecycle/" + event;
    Json claims = LifecycleClaims(w.server->base_url(), t.client_key, path);
    claims.Set("iat", NowSeconds() + ahead.count());
    claims.Set("exp", NowSeconds() + ahead.count() + 180);
    return Http("POST", w.server->url(path),
                {"Authorization: JWT " + SignRs(claims, w.install_key, "kid-1"),
                 "Content-Type: application/json"},
                LifecycleBody(event, t.client_key, t.secret).Dump());
  }

  // The /admin/tenants item of `client_key`, or null.
  Json TenantItem(const std::string& client_key) {
    Response r = AdminCall("GET", "/admin/tenants");
    REQUIRE(r.status == 200);
    const Json list = r.json();
    for (const Json& item : list.Find("items")->as_array()) {
      if (item.GetString("clientKey") == client_key) return item;
    }
    return Json();
  }
};

// The canaries: one unique string in each kind of data a tenant stores.
struct Canaries {
  std::string layout = "CanaryLayoutQ7x1";
  std::string theme = "CanaryThemeQ7x2";
  std::string navigation = "CanaryNavigationQ7x3";
  std::string announcement = "CanaryAnnouncementQ7x4";
  std::string promoted = "CanaryPromotedQ7x5";
  std::string featured = "CanaryFeaturedQ7x6";
  std::string feedback = "CanaryFeedbackQ7x7";
  std::string media = "CanaryMediaQ7x8";
  std::vector<std::string> all() const {
    return {layout,   theme,    navigation, announcement,
            promoted, featured, feedback,   media};
  }
};

// Writes every kind of data with its canary; returns the reads whose
// answers must come back the same after a reinstall.
std::vector<std::string> WriteEverything(RetentionWorld& rw, const Tenant& t,
                                         const Canaries& c) {
  auto ok = [&](const Response& r) {
    INFO(r.body);
    REQUIRE(r.status >= 200);
    REQUIRE(r.status < 300);
    return r.body.empty() ? Json() : r.json();
  };
  const std::string site(
      ok(rw.Call(t, "POST", "/api/v1/sites", R"({"name":"Intranet"})"))
          .GetString("id"));
  const std::string theme(
      ok(rw.Call(t, "POST", "/api/v1/themes", R"({"name":")" + c.theme + "\"}"))
          .GetString("id"));
  const std::string layout(
      ok(rw.Call(
             t, "POST", "/api/v1/layouts",
             R"({"name":"Home","sections":[{"id":"top","columns":[{"id":"c1",
                   "width":12,"modules":[{"id":"m1","type":"hero",
                   "props":{"heading":")" +
                 c.layout + R"("}}]}]}]})"))
          .GetString("id"));
  ok(rw.Call(t, "PUT", "/api/v1/sites/" + site + "/navigation",
             R"({"items":[{"id":"home","label":")" + c.navigation +
                 R"(","link":{"url":"https://intranet.example.com/"}}]})"));
  const std::string announcement(
      ok(rw.Call(t, "POST", "/api/v1/announcements",
                 R"({"text":")" + c.announcement +
                     R"(","severity":"info","startsAt":"2030-01-01T00:00:00Z",
                     "audience":{"all":true}})"))
          .GetString("id"));
  ok(rw.Call(t, "PUT", "/api/v1/search/promoted/payroll",
             R"({"results":[{"url":"https://hr.example.com/","title":")" +
                 c.promoted + "\"}]}"));
  ok(rw.Call(t, "PUT", "/api/v1/pages/77/featured",
             R"({"text":")" + c.featured + "\"}"));
  const std::string feedback(
      ok(rw.Call(t, "POST", "/api/v1/feedback",
                 R"({"text":")" + c.feedback + R"(","rating":4})"))
          .GetString("id"));
  const std::string svg =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">"
      "<rect id=\"" +
      c.media + "\" width=\"10\" height=\"10\" fill=\"#123456\"/></svg>";
  const std::string media(ok(rw.Call(t, "POST", "/api/v1/media?kind=logo", svg,
                                     {"Content-Type: image/svg+xml"}))
                              .GetString("id"));
  return {"/api/v1/sites/" + site,
          "/api/v1/themes/" + theme,
          "/api/v1/layouts/" + layout,
          "/api/v1/sites/" + site + "/navigation",
          "/api/v1/announcements/" + announcement,
          "/api/v1/search/promoted/payroll",
          "/api/v1/pages/77/featured",
          "/api/v1/feedback/" + feedback,
          "/api/v1/media/" + media};
}

TEST_CASE(
    "An uninstalled tenant is restored by a reinstall within 30 days and "
    "purged from every file 30 days after its last uninstall",
    "[retention]") {
  RetentionWorld rw;
  const std::filesystem::path root = rw.w.dir.path();
  const std::filesystem::path data = root / "us";
  Tenant t{"retention-canary", "secret-of-retention-canary-0123456789abcdef"};
  REQUIRE(rw.Lifecycle("installed", t).status == 204);
  Tenant bystander = rw.w.Install("retention-bystander");
  const Canaries canaries;
  const std::vector<std::string> reads = WriteEverything(rw, t, canaries);
  REQUIRE(rw.Call(bystander, "POST", "/api/v1/sites", R"({"name":"Kept"})")
              .status == 201);

  // Each read answers, with its canary (media: the bytes themselves).
  std::vector<std::string> before;
  for (const std::string& target : reads) {
    Response r = rw.Call(t, "GET", target);
    INFO(target << ": " << r.body);
    REQUIRE(r.status == 200);
    before.push_back(r.body);
  }
  std::string all_reads;
  for (const auto& b : before) all_reads += b;
  for (const std::string& canary : canaries.all()) {
    INFO(canary);
    CHECK(all_reads.find(canary) != std::string::npos);
  }
  // Encryption at rest: no canary is in clear in any file, WALs included.
  for (const std::string& canary : canaries.all()) {
    INFO(canary);
    CHECK(FilesHolding(root, canary).empty());
  }

  // Uninstalled: refused, kept, and due for its purge 30 days later.
  REQUIRE(rw.Lifecycle("uninstalled", t).status == 204);
  CHECK(rw.Call(t, "GET", reads[0]).status == 403);
  Json item = rw.TenantItem(t.client_key);
  REQUIRE(item.is_object());
  CHECK(item.GetString("state") == "uninstalled");
  auto uninstalled = ParseRfc3339(item.GetString("uninstalledAt"));
  auto purge_at = ParseRfc3339(item.GetString("purgeAt"));
  REQUIRE(uninstalled);
  REQUIRE(purge_at);
  CHECK(*purge_at - *uninstalled == 30 * kDay);

  // 29 days on, nothing is due; a reinstall (a new sharedSecret) restores
  // every read exactly.
  rw.Advance(29 * kDay);
  Response dry = rw.AdminCall("POST", "/admin/sweep?dry_run=true");
  REQUIRE(dry.status == 200);
  CHECK(dry.json().Find("purged")->as_array().empty());
  t.secret = "second-secret-of-retention-canary-0123456789";
  REQUIRE(rw.Lifecycle("installed", t).status == 204);
  item = rw.TenantItem(t.client_key);
  CHECK(item.GetString("state") == "installed");
  CHECK(item.Find("purgeAt")->is_null());
  for (size_t i = 0; i < reads.size(); ++i) {
    Response r = rw.Call(t, "GET", reads[i]);
    INFO(reads[i] << ": " << r.body);
    REQUIRE(r.status == 200);
    CHECK(r.body == before[i]);
  }

  // Uninstalled again: 30 days from this uninstall, not the first.
  REQUIRE(rw.Lifecycle("uninstalled", t).status == 204);
  rw.Advance(2 * kDay);
  dry = rw.AdminCall("POST", "/admin/sweep?dry_run=true");
  CHECK(dry.json().Find("purged")->as_array().empty());

  // The tenant's data key, as the key store holds it now (read by ldb as a
  // secondary of the live key store).
  const std::filesystem::path key_store = root / "us.keys";
  REQUIRE(std::filesystem::is_directory(key_store));
  testing::TempDir secondary;
  std::vector<std::string> key_values;
  const std::vector<std::string> key_rows =
      LdbKeys(key_store, "default", &secondary.path(), &key_values);
  // Tenants 1 and 2, in install order.
  const uint64_t id = 1;
  std::string wrapped_key;
  for (size_t i = 0; i < key_rows.size(); ++i) {
    if (key_rows[i] == PrefixHex(id)) wrapped_key = Unhex(key_values[i]);
  }
  REQUIRE(wrapped_key.size() > 32);
  CHECK(FilesHolding(key_store, wrapped_key).size() >= 1);

  // 31 days after the last uninstall: the tool lists it, then purges it.
  rw.Advance(29 * kDay);
  const std::vector<std::string> server_flags = {
      "--server", rw.w.server->url(), "--token-file",
      (rw.ops.dir / "token").string()};
  {
    std::ofstream token(rw.ops.dir / "token");
    token << rw.admin << "\n";
  }
  std::vector<std::string> args = {"purge", "--dry-run"};
  args.insert(args.end(), server_flags.begin(), server_flags.end());
  ProcessResult listed = RunTool(args);
  INFO(listed.out << listed.err);
  REQUIRE(listed.exit_code == 0);
  CHECK(listed.out.find("would purge retention-canary (tenant 1)") !=
        std::string::npos);
  CHECK(listed.out.find("uninstalled on") != std::string::npos);
  CHECK(listed.out.find("access log: would retire ") != std::string::npos);
  CHECK(rw.Call(bystander, "GET", "/api/v1/sites").status == 200);
  args = {"purge"};
  args.insert(args.end(), server_flags.begin(), server_flags.end());
  ProcessResult purged = RunTool(args);
  INFO(purged.out << purged.err);
  REQUIRE(purged.exit_code == 0);
  CHECK(purged.out.find("purged retention-canary (tenant 1)") !=
        std::string::npos);
  CHECK(purged.out.find("1 tenant purged") != std::string::npos);
  // The same sweep retired the access log's days older than 14 days.
  CHECK(purged.out.find("access log: retired ") != std::string::npos);
  CHECK(purged.out.find("access log: retired 0 days") == std::string::npos);
  // Gone from the operators' list; its receipt is in the audit log.
  CHECK(rw.TenantItem(t.client_key).is_null());
  Response audit = rw.AdminCall("GET", "/admin/audit?limit=1000");
  REQUIRE(audit.status == 200);
  CHECK(audit.body.find("tenant.purged") != std::string::npos);
  // A second sweep finds nothing.
  Response again = rw.AdminCall("POST", "/admin/sweep");
  CHECK(again.json().Find("purged")->as_array().empty());
  // The bystander is served as before.
  Response kept = rw.Call(bystander, "GET", "/api/v1/sites");
  REQUIRE(kept.status == 200);
  CHECK(kept.json().Find("items")->as_array().size() == 1);

  // A later install starts an empty tenant.
  REQUIRE(rw.Lifecycle("installed", t).status == 204);
  for (const char* list : {"/api/v1/sites", "/api/v1/themes", "/api/v1/layouts",
                           "/api/v1/feedback"}) {
    Response r = rw.Call(t, "GET", list);
    INFO(list << ": " << r.body);
    REQUIRE(r.status == 200);
    CHECK(r.json().Find("items")->as_array().empty());
  }
  CHECK(rw.Call(t, "GET", reads[1]).status == 404);

  // On the stopped region, RocksDB's own ldb finds no key of tenant 1 in
  // any family, and the bystander's (tenant 2) where it should be; the
  // wrapped data key is in no file of the key store; no canary is anywhere.
  REQUIRE(rw.w.server->Stop() == 0);
  const std::string gone = PrefixHex(id);
  const std::string kept_prefix = PrefixHex(2);
  size_t bystander_rows = 0;
  for (const std::string family : {"events", "views", "snapshots", "tenants",
                                   "blobs", "pseudonyms", "index"}) {
    for (const std::string& key : LdbKeys(data, family, nullptr)) {
      INFO(family << " key " << key);
      CHECK_FALSE(key.starts_with(gone));
      if (key.starts_with(kept_prefix)) ++bystander_rows;
    }
  }
  CHECK(bystander_rows >= 3);
  const std::vector<std::string> rows_after =
      LdbKeys(key_store, "default", nullptr);
  CHECK(FilesHolding(key_store, wrapped_key).empty());
  for (const std::string& canary : canaries.all()) {
    INFO(canary);
    CHECK(FilesHolding(root, canary).empty());
  }
  CHECK(std::find(rows_after.begin(), rows_after.end(), PrefixHex(2)) !=
        rows_after.end());
}

TEST_CASE(
    "A purge running while 16 clients of other tenants write loses no "
    "acknowledged write",
    "[retention]") {
  RetentionWorld rw;
  Tenant doomed = rw.w.Install("retention-doomed");
  // Enough that the purge takes a while: 16 writers, 150 sites each.
  {
    std::vector<std::thread> fill;
    for (int c = 0; c < 16; ++c) {
      fill.emplace_back([&] {
        for (int i = 0; i < 150; ++i) {
          rw.Call(doomed, "POST", "/api/v1/sites", R"({"name":"doomed"})");
        }
      });
    }
    for (auto& th : fill) th.join();
  }
  std::vector<Tenant> others;
  for (int i = 0; i < 4; ++i) {
    others.push_back(rw.w.Install("retention-other-" + std::to_string(i)));
  }
  REQUIRE(rw.Lifecycle("uninstalled", doomed).status == 204);
  rw.Advance(31 * kDay);

  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::vector<std::vector<std::string>> acked(16);
  std::vector<std::thread> writers;
  for (int c = 0; c < 16; ++c) {
    writers.emplace_back([&, c] {
      const Tenant& t = others[static_cast<size_t>(c % 4)];
      for (int i = 0; !stop.load(); ++i) {
        Response r = rw.Call(t, "POST", "/api/v1/sites",
                             "{\"name\":\"w" + std::to_string(c) + "-" +
                                 std::to_string(i) + "\"}");
        if (r.status == 201) {
          acked[static_cast<size_t>(c)].emplace_back(r.json().GetString("id"));
        } else {
          ++errors;
        }
      }
    });
  }
  std::this_thread::sleep_for(200ms);
  Response sweep = rw.AdminCall("POST", "/admin/sweep");
  INFO(sweep.body);
  REQUIRE(sweep.status == 200);
  REQUIRE(sweep.json().Find("purged")->as_array().size() == 1);
  std::this_thread::sleep_for(200ms);
  stop = true;
  for (auto& th : writers) th.join();
  CHECK(errors.load() == 0);

  // Every acknowledged site is there, and still there after a restart.
  for (int round = 0; round < 2; ++round) {
    size_t total = 0;
    for (int c = 0; c < 16; ++c) {
      total += acked[static_cast<size_t>(c)].size();
    }
    std::set<std::string> listed;
    for (const Tenant& t : others) {
      std::string cursor;
      for (;;) {
        const std::string target = "/api/v1/sites?limit=200" +
                                   (cursor.empty() ? "" : "&cursor=" + cursor);
        Response r = rw.Call(t, "GET", target);
        REQUIRE(r.status == 200);
        const Json page = r.json();
        for (const std::string& site : IdsOf(page)) listed.insert(site);
        const Json* next = page.Find("nextCursor");
        if (next == nullptr || !next->is_string()) break;
        cursor = next->as_string();
      }
    }
    CHECK(total > 16);
    for (const auto& ids : acked) {
      for (const std::string& site : ids) {
        INFO("round " << round << ": site " << site);
        CHECK(listed.contains(site));
      }
    }
    if (round == 0) rw.Restart();
  }
  CHECK(rw.Call(doomed, "GET", "/api/v1/sites").status == 401);
}

TEST_CASE(
    "siteledgerd killed with SIGKILL during a purge finishes the purge after "
    "its restart and loses no other tenant's acknowledged write",
    "[retention][crash]") {
  RetentionWorld rw;
  const std::filesystem::path root = rw.w.dir.path();
  Tenant doomed = rw.w.Install("retention-killed");
  Tenant bystander = rw.w.Install("retention-survivor");
  const Canaries canaries;
  WriteEverything(rw, doomed, canaries);
  // Enough that the purge takes a while: 8 writers, 150 sites each.
  {
    std::vector<std::thread> fill;
    for (int c = 0; c < 8; ++c) {
      fill.emplace_back([&] {
        for (int i = 0; i < 150; ++i) {
          rw.Call(doomed, "POST", "/api/v1/sites", R"({"name":"doomed"})");
        }
      });
    }
    for (auto& th : fill) th.join();
  }
  std::set<std::string> acked;
  for (int i = 0; i < 20; ++i) {
    Response r = rw.Call(bystander, "POST", "/api/v1/sites",
                         "{\"name\":\"kept-" + std::to_string(i) + "\"}");
    REQUIRE(r.status == 201);
    acked.emplace(r.json().GetString("id"));
  }
  REQUIRE(rw.Lifecycle("uninstalled", doomed).status == 204);
  rw.Advance(31 * kDay);

  // The sweep, killed at a random moment within its first 300 ms.
  std::mt19937 rng(std::random_device{}());
  const auto kill_after = std::chrono::milliseconds(rng() % 300);
  std::thread sweep([&] { rw.AdminCall("POST", "/admin/sweep"); });
  std::this_thread::sleep_for(kill_after);
  rw.w.server->Stop(SIGKILL);
  sweep.join();
  rw.w.server->Start();
  const auto by = rw.ahead;
  rw.ahead = 0s;
  rw.Advance(by);

  // The purge is due still (or done): a sweep finishes it.
  INFO("killed " << kill_after.count() << " ms into the sweep");
  INFO("siteledgerd after the restart:\n" << rw.w.server->Log());
  // (A purge waits up to 10 s for RocksDB to delete the files that held
  // the tenant: more than Http's default timeout.)
  Response again = Http("POST", rw.w.server->url("/admin/sweep"),
                        {"Authorization: Bearer " + rw.admin}, "", 60000);
  INFO(again.body);
  REQUIRE(again.status == 200);
  WARN("killed " << kill_after.count() << " ms into the sweep; after the "
                 << "restart the sweep purged "
                 << again.json().Find("purged")->Dump());
  CHECK(rw.TenantItem(doomed.client_key).is_null());
  CHECK(rw.AdminCall("POST", "/admin/sweep")
            .json()
            .Find("purged")
            ->as_array()
            .empty());
  // The survivor has every acknowledged site.
  Response kept = rw.Call(bystander, "GET", "/api/v1/sites?limit=100");
  REQUIRE(kept.status == 200);
  const std::vector<std::string> ids = IdsOf(kept.json());
  for (const std::string& id : acked) {
    CHECK(std::find(ids.begin(), ids.end(), id) != ids.end());
  }
  // On the stopped data: nothing of the purged tenant in any file, and
  // every chain left verifies.
  REQUIRE(rw.w.server->Stop() == 0);
  for (const std::string& canary : canaries.all()) {
    INFO(canary);
    CHECK(FilesHolding(root, canary).empty());
  }
  const ProcessResult verify =
      RunTool({"verify", "--data", (root / "us").string()});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);
  CHECK(verify.out.find("(retention-survivor)") != std::string::npos);
  CHECK(verify.out.find("retention-killed") == std::string::npos);
}

}  // namespace
}  // namespace siteledger::e2e
