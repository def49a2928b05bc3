// The access log end to end: client IPs through a trusted proxy, read by an
// operator, sealed on disk under per-day keys, written nowhere else, and
// retired by the sweeper after 14 days (the test clock).

#include <catch2/catch.hpp>
#include <set>

#include "storage/base/rfc3339.h"
#include "storage/key_store.h"
#include "storage/master_key.h"
#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

constexpr auto kAhead = std::chrono::hours(15 * 24);
const std::string kReason = "SUP-14: who called us";

// Every entry of the access log, paging with `limit`.
std::vector<Json> AccessLogItems(World& w, const std::string& token,
                                 int limit = 3) {
  std::vector<Json> out;
  std::string cursor;
  for (int pages = 0;; ++pages) {
    REQUIRE(pages < 1000);
    std::string target = "/admin/access-log?limit=" + std::to_string(limit);
    if (!cursor.empty()) target += "&cursor=" + cursor;
    Response r = Admin(w, token, "GET", target, kReason);
    INFO(target << " -> " << r.body);
    REQUIRE(r.status == 200);
    const Json page = r.json();
    const auto& items = page.Find("items")->as_array();
    REQUIRE(items.size() <= static_cast<size_t>(limit));
    for (const Json& item : items) out.push_back(item);
    const Json* next = page.Find("nextCursor");
    REQUIRE(next != nullptr);
    if (next->is_null()) return out;
    cursor = next->as_string();
  }
}

std::set<std::string> IpsOf(const std::vector<Json>& items) {
  std::set<std::string> ips;
  for (const Json& item : items) ips.emplace(item.GetString("clientIp"));
  return ips;
}

// The files under `folder` (recursively) that hold `needle`.
std::vector<std::string> FilesHolding(const std::filesystem::path& folder,
                                      const std::string& needle) {
  std::vector<std::string> found;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(folder)) {
    if (!entry.is_regular_file()) continue;
    if (ReadFile(entry.path()).find(needle) != std::string::npos) {
      found.push_back(entry.path().string());
    }
  }
  return found;
}

bool Contains(const Json& list, std::string_view text) {
  for (const Json& item : list.as_array()) {
    if (item.is_string() && item.as_string() == text) return true;
  }
  return false;
}

TEST_CASE(
    "Client IPs are sealed, kept 14 days, written nowhere else and retired by "
    "the sweeper",
    "[e2e][access_log]") {
  OperatorsFile ops;
  const std::string root = ops.Add("root", "audit,purge,clock");
  std::vector<std::string> flags = ops.Flags();
  for (const char* flag : {"--test-clock", "--trusted-proxy", "127.0.0.1/32"}) {
    flags.emplace_back(flag);
  }
  World w(flags);
  Tenant t = w.Install("client-access-log");

  // Requests from several clients through the proxy (the loopback).
  const std::vector<std::string> old_ips = {"198.51.100.77", "198.51.100.78",
                                            "203.0.113.219"};
  for (const std::string& ip : old_ips) {
    Response r =
        w.Call(t, "GET", "/api/v1/sites", "", {"X-Forwarded-For: " + ip});
    INFO(r.body);
    REQUIRE(r.status == 200);
  }
  // The client is the right-most address that is not a trusted proxy: the
  // first hop, which anyone can write, is not believed.
  const std::string spoofed = "192.0.2.201";
  REQUIRE(Http("GET", w.server->url("/healthz"),
               {"X-Forwarded-For: " + spoofed + ", 198.51.100.80"})
              .status == 200);

  std::vector<Json> before;
  REQUIRE(Eventually([&] {
    before = AccessLogItems(w, root);
    return IpsOf(before).contains("198.51.100.80");
  }));
  for (const std::string& ip : old_ips) CHECK(IpsOf(before).contains(ip));
  CHECK_FALSE(IpsOf(before).contains(spoofed));
  std::set<std::string> old_days;
  for (const Json& item : before) {
    INFO(item.Dump());
    old_days.insert(std::string(item.GetString("time")).substr(0, 10));
    if (item.GetString("clientIp") == "198.51.100.77") {
      CHECK(item.GetString("tenant") == t.client_key);
      CHECK(item.GetString("method") == "GET");
      CHECK(item.GetString("route") == "/api/v1/sites");
      CHECK(item.GetInt("status") == 200);
      CHECK(item.Find("latencyUs")->is_int());
    }
    if (item.GetString("clientIp") == "198.51.100.80") {
      CHECK(item.Find("tenant")->is_null());
      CHECK(item.GetString("route") == "/healthz");
    }
  }

  // The tool prints the same, one request a line, every page; it needs the
  // reason too.
  ProcessResult tool =
      RunTool({"access-log", "--server", w.server->base_url(), "--reason",
               kReason, "--since", FormatRfc3339(TimestampFromMillis(0))},
              {"SITELEDGER_TOKEN=" + root});
  INFO(tool.err);
  REQUIRE(tool.exit_code == 0);
  CHECK(tool.out.find(" " + t.client_key +
                      " 198.51.100.77 GET /api/v1/sites "
                      "200 ") != std::string::npos);
  CHECK(tool.out.find(" - 198.51.100.80 GET /healthz 200 ") !=
        std::string::npos);
  ProcessResult as_json =
      RunTool({"access-log", "--server", w.server->base_url(), "--reason",
               kReason, "--json"},
              {"SITELEDGER_TOKEN=" + root});
  REQUIRE(as_json.exit_code == 0);
  const Json printed = ParseOrFail(as_json.out);
  CHECK(IpsOf(printed.Find("items")->as_array()).contains("203.0.113.219"));
  ProcessResult unreasoned =
      RunTool({"access-log", "--server", w.server->base_url()},
              {"SITELEDGER_TOKEN=" + root});
  CHECK(unreasoned.exit_code != 0);
  CHECK(unreasoned.err.find("X-Access-Reason") != std::string::npos);

  // Reading IPs needs a reason, and each read is audited (without them).
  Response no_reason = Admin(w, root, "GET", "/admin/access-log");
  CHECK(IsProblem(no_reason, 400));
  Response audit = Admin(w, root, "GET", "/admin/audit?limit=1000");
  REQUIRE(audit.status == 200);
  int reads = 0;
  const Json audit_page = audit.json();
  for (const Json& item : audit_page.Find("items")->as_array()) {
    if (item.GetString("action") == "operator.read" &&
        item.GetString("route") == "/admin/access-log") {
      ++reads;
      CHECK(item.GetString("actor") == "root");
      const bool reasoned = item.GetString("reason") == kReason;
      CHECK((reasoned || item.Find("reason")->is_null()));
    }
  }
  CHECK(reads >= 2);

  // IPs nowhere else: not in the audit log, the tenant's events, /metrics
  // or the server's log lines.
  Response events = w.Call(t, "GET", "/api/v1/events");
  REQUIRE(events.status == 200);
  Response metrics = Http("GET", w.server->url("/metrics"));
  REQUIRE(metrics.status == 200);
  for (const std::string& ip : old_ips) {
    INFO(ip);
    CHECK(audit.body.find(ip) == std::string::npos);
    CHECK(events.body.find(ip) == std::string::npos);
    CHECK(metrics.body.find(ip) == std::string::npos);
    CHECK(w.server->Log().find(ip) == std::string::npos);
  }

  // 15 days on, another client; the sweeper retires the first days.
  Response clock =
      Admin(w, root, "POST", "/admin/clock", "", R"({"advance":"15d"})");
  INFO(clock.body);
  REQUIRE(clock.status == 200);
  const std::string new_ip = "198.51.100.99";
  Response later = CallAhead(w, t, kAhead, "GET", "/api/v1/sites", "",
                             {"X-Forwarded-For: " + new_ip});
  INFO(later.body);
  REQUIRE(later.status == 200);
  REQUIRE(Eventually(
      [&] { return IpsOf(AccessLogItems(w, root)).contains(new_ip); }));

  Response plan = Admin(w, root, "POST", "/admin/sweep?dry_run=true");
  INFO(plan.body);
  REQUIRE(plan.status == 200);
  const Json planned = *plan.json().Find("accessLog");
  for (const std::string& day : old_days) {
    CHECK(Contains(*planned.Find("daysRetired"), day));
  }
  CHECK(planned.GetInt("entriesDeleted") >= 4);
  CHECK(IpsOf(AccessLogItems(w, root)).contains("198.51.100.77"));

  Response sweep = Admin(w, root, "POST", "/admin/sweep");
  INFO(sweep.body);
  REQUIRE(sweep.status == 200);
  const Json swept = *sweep.json().Find("accessLog");
  CHECK(swept.Find("error") == nullptr);
  for (const std::string& day : old_days) {
    CHECK(Contains(*swept.Find("daysRetired"), day));
  }
  CHECK(swept.GetInt("entriesDeleted") == planned.GetInt("entriesDeleted"));

  // Only the later client is left to read.
  const auto after = AccessLogItems(w, root);
  CHECK(IpsOf(after).contains(new_ip));
  for (const std::string& ip : old_ips) CHECK_FALSE(IpsOf(after).contains(ip));
  CHECK_FALSE(IpsOf(after).contains("198.51.100.80"));
  for (const Json& item : after) {
    CHECK(std::string(item.GetString("time")).substr(0, 10) >
          *old_days.rbegin());
  }
  // One audit record says what went.
  Response audited = Admin(w, root, "GET", "/admin/audit?limit=1000");
  REQUIRE(audited.status == 200);
  int retired = 0;
  const Json audited_page = audited.json();
  for (const Json& item : audited_page.Find("items")->as_array()) {
    if (item.GetString("action") != "access_log.retired") continue;
    ++retired;
    CHECK(item.GetString("actor") == "system");
    for (const std::string& day : old_days) {
      CHECK(std::string(item.GetString("detail")).find(day) !=
            std::string::npos);
    }
  }
  CHECK(retired == 1);

  // Stopped: no file under the data directory (the region's database, the
  // key store, the server's own log) holds any client IP, and the key
  // store has no key left for the retired days.
  REQUIRE(w.server->Stop(SIGTERM) == 0);
  for (const std::string& ip :
       {old_ips[0], old_ips[1], old_ips[2], std::string("198.51.100.80"),
        spoofed, new_ip}) {
    INFO(ip);
    CHECK(FilesHolding(w.dir.path(), ip).empty());
  }
  auto master = storage::MasterKey::LoadOrCreate(w.dir / "master-us.key");
  REQUIRE(master.has_value());
  auto keys = storage::KeyStore::Open(w.dir / "us.keys", *master);
  REQUIRE(keys.has_value());
  auto days = (*keys)->AccessLogKeyDays(Day(UINT32_MAX));
  REQUIRE(days.has_value());
  std::set<std::string> kept;
  for (Day day : *days) {
    kept.insert(FormatRfc3339(StartOfDay(day)).substr(0, 10));
  }
  // The later days' keys (the later client's) stay.
  REQUIRE_FALSE(kept.empty());
  for (const std::string& day : kept) CHECK(day > *old_days.rbegin());
}

}  // namespace
}  // namespace siteledger::e2e

namespace siteledger::e2e {
namespace {

TEST_CASE(
    "Every answer carries an X-Request-Id, the client's when valid, and the "
    "access log keeps it",
    "[e2e][access_log][request_id]") {
  OperatorsFile ops;
  const std::string root = ops.Add("root", "audit");
  World w(ops.Flags());
  Tenant t = w.Install("client-request-id");

  // Made by the server: 32 hex digits, a new one per request, on tenant
  // answers, errors and public routes alike.
  Response a = w.Call(t, "GET", "/api/v1/sites");
  Response b = w.Call(t, "GET", "/api/v1/sites/s_missing");
  Response c = Http("GET", w.server->url("/healthz"));
  REQUIRE(a.status == 200);
  REQUIRE(b.status == 404);
  std::set<std::string> made;
  for (const Response* r : {&a, &b, &c}) {
    const std::string id = r->header("x-request-id");
    INFO(id);
    CHECK(id.size() == 32);
    CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
    made.insert(id);
  }
  CHECK(made.size() == 3);
  // The client's own is echoed; one that does not qualify (too long, or a
  // character outside letters, digits and -_.:/+=@) is replaced.
  const std::string mine = "trace-4bf92f3577b34da6:a3ce929d0e0e4736";
  Response echoed =
      w.Call(t, "GET", "/api/v1/sites", "", {"X-Request-Id: " + mine});
  CHECK(echoed.header("x-request-id") == mine);
  for (const std::string& bad :
       {std::string(129, 'a'), std::string("has space"),
        std::string("quote\"d")}) {
    Response r =
        w.Call(t, "GET", "/api/v1/sites", "", {"X-Request-Id: " + bad});
    CHECK(r.status == 200);
    CHECK(r.header("x-request-id") != bad);
    CHECK(r.header("x-request-id").size() == 32);
  }

  // The access log has each request's id.
  std::vector<Json> items;
  REQUIRE(Eventually([&] {
    items = AccessLogItems(w, root, 100);
    std::set<std::string> ids;
    for (const Json& item : items) ids.emplace(item.GetString("requestId"));
    return ids.contains(mine) && ids.contains(a.header("x-request-id")) &&
           ids.contains(b.header("x-request-id"));
  }));
  for (const Json& item : items) {
    if (item.GetString("requestId") == b.header("x-request-id")) {
      CHECK(item.GetInt("status") == 404);
      CHECK(item.GetString("route") == "/api/v1/sites/{id}");
    }
  }
}

}  // namespace
}  // namespace siteledger::e2e
