// GET /api/v1/events with ?type=&actor=&entity=&since=&until= (answered from
// the event index), compared with a full scan of the tenant's log, and the
// same filters through the operator's /admin/tenants/{clientKey}/events.

#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

const std::string kAlice = "5b10ac8d82e05b22cc7d4e01";
const std::string kBob = "5b10ac8d82e05b22cc7d4e02";

// A signed request as the user `sub`.
Response As(World& w, const Tenant& t, const std::string& sub,
            const std::string& method, const std::string& target,
            const std::string& body = "") {
  std::vector<std::string> headers = {t.Auth(method, target, sub)};
  if (!body.empty()) headers.push_back("Content-Type: application/json");
  return Http(method, w.server->url(target), headers, body);
}

std::string Created(const Response& r) {
  INFO(r.body);
  REQUIRE(r.status == 201);
  return std::string(r.json().GetString("id"));
}

// The seqs of every page of `target` (which has a query), `limit` at a time,
// following nextCursor; `get` makes the request.
std::vector<int64_t> Pages(
    const std::function<Response(const std::string&)>& get,
    const std::string& target) {
  std::vector<int64_t> out;
  std::string cursor;
  for (int page = 0; page < 100; ++page) {
    const std::string url =
        target + "&limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor);
    Response r = get(url);
    INFO(url << " -> " << r.body);
    REQUIRE(r.status == 200);
    const Json body = r.json();
    const auto& items = body.Find("items")->as_array();
    CHECK(items.size() <= 2);
    for (const Json& e : items) out.push_back(e.GetInt("seq"));
    if (body.Find("nextCursor")->is_null()) return out;
    cursor = body.Find("nextCursor")->as_string();
  }
  FAIL("too many pages for " << target);
  return out;
}

std::vector<int64_t> Matching(const std::vector<Json>& all,
                              const std::function<bool(const Json&)>& pred) {
  std::vector<int64_t> out;
  for (const Json& e : all) {
    if (pred(e)) out.push_back(e.GetInt("seq"));
  }
  return out;
}

std::string SiteOf(const Json& e) {
  const Json* id = e.Find("payload")->Find("siteId");
  return id != nullptr && id->is_string() ? id->as_string() : "";
}

TEST_CASE(
    "Event filters (type, actor, entity, since, until, combined, paged) equal "
    "a "
    "scan of the log, also through the operator's mirror, never across tenants",
    "[e2e][event_index]") {
  OperatorsFile ops;
  const std::string reader = ops.Add("reader", "read-tenant-data");
  World w(ops.Flags());
  Tenant a = w.Install("client-filter-a");
  Tenant b = w.Install("client-filter-b");

  const std::string s1 =
      Created(As(w, a, kAlice, "POST", "/api/v1/sites", R"({"name":"One"})"));
  const std::string other =
      Created(As(w, b, kAlice, "POST", "/api/v1/sites", R"({"name":"One"})"));
  const std::string t1 =
      Created(As(w, a, kBob, "POST", "/api/v1/themes", R"({"name":"Dark"})"));
  REQUIRE(As(w, a, kBob, "PATCH", "/api/v1/sites/" + s1, R"({"name":"Uno"})")
              .status == 200);
  const std::string s2 =
      Created(As(w, a, kAlice, "POST", "/api/v1/sites", R"({"name":"Two"})"));
  REQUIRE(As(w, b, kBob, "PATCH", "/api/v1/sites/" + other, R"({"name":"X"})")
              .status == 200);
  REQUIRE(As(w, a, kAlice, "PATCH", "/api/v1/sites/" + s2, R"({"name":"Dos"})")
              .status == 200);
  REQUIRE(
      As(w, a, kAlice, "PUT", "/api/v1/sites/" + s1 + "/domains/a.example.com")
          .status == 200);
  REQUIRE(As(w, a, kBob, "DELETE", "/api/v1/sites/" + s2).status == 204);
  // The users are recorded in the background: two in each tenant, and the
  // one whose token reads the log.
  auto seen = [&](const Tenant& t) {
    int n = 0;
    for (const Json& e : EventsAfter(w, t, 0)) {
      n += e.GetString("type") == "user.seen" ? 1 : 0;
    }
    return n;
  };
  REQUIRE(Eventually([&] { return seen(a) == 3 && seen(b) == 3; }));
  const std::vector<Json> all = EventsAfter(w, a, 0);
  std::string listed;
  for (const Json& e : all) listed += e.Dump() + "\n";
  INFO(listed);
  REQUIRE(all.size() == 10);

  std::string alice_pseudonym;
  for (const Json& e : all) {
    if (SiteOf(e) == s2 && e.GetString("type") == "site.created") {
      alice_pseudonym = e.GetString("actor");
    }
  }
  REQUIRE(!alice_pseudonym.empty());

  auto tenant_get = [&](const std::string& target) {
    return w.Call(a, "GET", target);
  };
  auto admin_get = [&](const std::string& target) {
    const std::string prefix = "/api/v1/events?";
    REQUIRE(target.rfind(prefix, 0) == 0);
    return Admin(
        w, reader, "GET",
        "/admin/tenants/client-filter-a/events?" + target.substr(prefix.size()),
        "Ticket SUP-7");
  };
  const std::string since(all[3].GetString("time"));
  const std::string until(all[7].GetString("time"));
  struct Case {
    std::string query;
    std::function<bool(const Json&)> pred;
  };
  const std::vector<Case> cases = {
      {"type=site.created",
       [](const Json& e) { return e.GetString("type") == "site.created"; }},
      {"type=theme.deleted", [](const Json&) { return false; }},
      {"actor=" + kAlice,
       [&](const Json& e) {
         return e.Find("actor")->is_string() &&
                e.GetString("actor") == alice_pseudonym;
       }},
      {"actor=" + alice_pseudonym,
       [&](const Json& e) {
         return e.Find("actor")->is_string() &&
                e.GetString("actor") == alice_pseudonym;
       }},
      {"actor=u_nosuchpseudonym0000", [](const Json&) { return false; }},
      {"entity=" + s1, [&](const Json& e) { return SiteOf(e) == s1; }},
      {"entity=" + s2, [&](const Json& e) { return SiteOf(e) == s2; }},
      {"entity=" + t1,
       [&](const Json& e) {
         const Json* id = e.Find("payload")->Find("themeId");
         return id != nullptr && id->is_string() && id->as_string() == t1;
       }},
      {"entity=" + other, [](const Json&) { return false; }},
      {"type=site.renamed&actor=" + kAlice,
       [&](const Json& e) {
         return e.GetString("type") == "site.renamed" &&
                e.GetString("actor") == alice_pseudonym;
       }},
      {"since=" + since + "&until=" + until,
       [&](const Json& e) {
         return e.GetString("time") >= since && e.GetString("time") <= until;
       }},
      {"entity=" + s1 + "&since=" + since,
       [&](const Json& e) {
         return SiteOf(e) == s1 && e.GetString("time") >= since;
       }},
      {"type=site.created&until=" + until,
       [&](const Json& e) {
         return e.GetString("type") == "site.created" &&
                e.GetString("time") <= until;
       }},
  };
  for (const Case& c : cases) {
    INFO(c.query);
    const std::vector<int64_t> want = Matching(all, c.pred);
    CHECK(Pages(tenant_get, "/api/v1/events?" + c.query) == want);
    CHECK(Pages(admin_get, "/api/v1/events?" + c.query) == want);
  }
  // The scan itself found something for the cases meant to match.
  CHECK(Matching(all, cases[0].pred).size() == 2);
  CHECK(Matching(all, cases[5].pred).size() == 3);

  // Tenant B's own filters see only its events.
  const std::vector<Json> all_b = EventsAfter(w, b, 0);
  CHECK(Pages([&](const std::string& t) { return w.Call(b, "GET", t); },
              "/api/v1/events?entity=" + other) ==
        Matching(all_b, [&](const Json& e) { return SiteOf(e) == other; }));
  CHECK(Pages([&](const std::string& t) { return w.Call(b, "GET", t); },
              "/api/v1/events?entity=" + s1)
            .empty());

  // Bad input: a 400 problem naming what is wrong.
  for (const auto& [query, says] :
       std::vector<std::pair<std::string, std::string>>{
           {"type=", "type: must not be empty"},
           {"actor=", "actor: must not be empty"},
           {"entity=", "entity: must not be empty"},
           {"type=no.such.type", "unknown event type"},
           {"since=yesterday", "since"},
           {"until=2026-13-01T00:00:00Z", "until"}}) {
    INFO(query);
    Response r = w.Call(a, "GET", "/api/v1/events?" + query);
    CHECK(IsProblem(r, 400));
    CHECK(r.body.find(says) != std::string::npos);
    Response m =
        Admin(w, reader, "GET",
              "/admin/tenants/client-filter-a/events?" + query, "Ticket SUP-7");
    CHECK(IsProblem(m, 400));
  }
}

}  // namespace
}  // namespace siteledger::e2e
