// ETags, If-Match and Idempotency-Key over real HTTP.

#include <catch2/catch.hpp>
#include <set>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

std::string Etag(int64_t version) {
  return "\"" + std::to_string(version) + "\"";
}

TEST_CASE("Reads carry an ETag equal to the version in the body", "[e2e]") {
  World w;
  Tenant t = w.Install("client-etags");
  Response site = w.Call(t, "POST", "/api/v1/sites", R"({"name":"E"})");
  REQUIRE(site.status == 201);
  const std::string id(site.json().GetString("id"));
  Response theme = w.Call(t, "POST", "/api/v1/themes", R"({"name":"T"})");
  REQUIRE(theme.status == 201);
  REQUIRE(
      w.Call(t, "PUT", "/api/v1/pages/42/featured", R"({"text":"x"})").status ==
      200);
  for (const std::string& url :
       {"/api/v1/sites/" + id, "/api/v1/sites/" + id + "/navigation",
        "/api/v1/themes/" + std::string(theme.json().GetString("id")),
        std::string("/api/v1/pages/42/featured")}) {
    Response r = w.Call(t, "GET", url);
    INFO(url << " -> " << r.body);
    REQUIRE(r.status == 200);
    CHECK(r.header("etag") == Etag(r.json().GetInt("version")));
  }
  // Each change moves the version (and the ETag) on.
  Response renamed =
      w.Call(t, "PATCH", "/api/v1/sites/" + id, R"({"name":"E2"})");
  REQUIRE(renamed.status == 200);
  CHECK(renamed.json().GetInt("version") > site.json().GetInt("version"));
  CHECK(w.Call(t, "GET", "/api/v1/sites/" + id).header("etag") ==
        Etag(renamed.json().GetInt("version")));
  // HEAD answers the same headers without a body.
  Response head = Http("HEAD", w.server->url("/api/v1/sites/" + id),
                       {t.Auth("HEAD", "/api/v1/sites/" + id)});
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(head.header("etag") == Etag(renamed.json().GetInt("version")));
}

TEST_CASE(
    "A write with a stale If-Match is refused with 412 and changes nothing, "
    "with the current one it succeeds",
    "[e2e]") {
  World w;
  Tenant t = w.Install("client-if-match");
  Response created = w.Call(t, "POST", "/api/v1/sites", R"({"name":"First"})");
  REQUIRE(created.status == 201);
  const std::string id(created.json().GetString("id"));
  const std::string url = "/api/v1/sites/" + id;
  const std::string stale = created.header("etag");
  Response second =
      w.Call(t, "PATCH", url, R"({"name":"Second"})", {"If-Match: " + stale});
  REQUIRE(second.status == 200);
  const std::string current = second.header("etag");
  REQUIRE(current != stale);
  const uint64_t before = LastSeq(w, t);

  // Stale: every kind of write on the site.
  Response lost = w.Call(t, "PATCH", url, R"({"name":"Lost update"})",
                         {"If-Match: " + stale});
  INFO(lost.body);
  CHECK(IsProblem(lost, 412));
  CHECK(IsProblem(w.Call(t, "PUT", url + "/domains/a.example.com", "",
                         {"If-Match: " + stale}),
                  412));
  CHECK(IsProblem(w.Call(t, "DELETE", url, "", {"If-Match: " + stale}), 412));
  Response theme = w.Call(t, "POST", "/api/v1/themes", R"({"name":"T"})");
  REQUIRE(theme.status == 201);
  const std::string theme_url =
      "/api/v1/themes/" + std::string(theme.json().GetString("id"));
  CHECK(IsProblem(
      w.Call(t, "PUT", theme_url, R"({"name":"T2"})", {"If-Match: \"1\""}),
      412));
  const uint64_t after_theme = LastSeq(w, t);
  CHECK(ChangesAfter(w, t, before).size() == 1);  // the theme alone

  Response now = w.Call(t, "GET", url);
  CHECK(now.json().GetString("name") == "Second");
  CHECK(now.json().Find("domains")->as_array().empty());
  CHECK(now.header("etag") == current);

  // Malformed If-Match.
  CHECK(IsProblem(w.Call(t, "PATCH", url, R"({"name":"x"})", {"If-Match: 12"}),
                  400));

  // Current: it goes through.
  Response ok =
      w.Call(t, "PATCH", url, R"({"name":"Third"})", {"If-Match: " + current});
  INFO(ok.body);
  CHECK(ok.status == 200);
  CHECK(w.Call(t, "GET", url).json().GetString("name") == "Third");
  Response gone =
      w.Call(t, "DELETE", url, "", {"If-Match: " + ok.header("etag")});
  CHECK(gone.status == 204);
  CHECK(ChangesAfter(w, t, after_theme).size() == 2);
}

TEST_CASE(
    "A retried POST with the same Idempotency-Key answers as the first time "
    "and creates nothing, a different body with that key is 409",
    "[e2e]") {
  World w;
  Tenant t = w.Install("client-idempotency");
  REQUIRE(w.Call(t, "GET", "/api/v1/sites").status == 200);
  const std::vector<std::string> key = {"Idempotency-Key: create-intranet-1"};
  Response first =
      w.Call(t, "POST", "/api/v1/sites", R"({"name":"Once"})", key);
  INFO(first.body);
  REQUIRE(first.status == 201);
  const uint64_t after_first = LastSeq(w, t);

  Response retry =
      w.Call(t, "POST", "/api/v1/sites", R"({"name":"Once"})", key);
  INFO(retry.body);
  CHECK(retry.status == 201);
  CHECK(retry.json() == first.json());
  CHECK(retry.header("location") == first.header("location"));
  CHECK(retry.header("etag") == first.header("etag"));
  CHECK(retry.header("idempotent-replayed") == "true");
  CHECK(ChangesAfter(w, t, after_first).empty());
  Response list = w.Call(t, "GET", "/api/v1/sites");
  CHECK(list.json().Find("items")->as_array().size() == 1);

  // The same key for another body (or another route) is a conflict.
  Response other =
      w.Call(t, "POST", "/api/v1/sites", R"({"name":"Twice"})", key);
  INFO(other.body);
  CHECK(IsProblem(other, 409));
  CHECK(IsProblem(
      w.Call(t, "POST", "/api/v1/themes", R"({"name":"Once"})", key), 409));
  CHECK(ChangesAfter(w, t, after_first).empty());

  // The key is replayed even after the entity changed since.
  const std::string id(first.json().GetString("id"));
  REQUIRE(
      w.Call(t, "PATCH", "/api/v1/sites/" + id, R"({"name":"Later"})").status ==
      200);
  const uint64_t after_patch = LastSeq(w, t);
  Response late = w.Call(t, "POST", "/api/v1/sites", R"({"name":"Once"})", key);
  CHECK(late.status == 201);
  CHECK(late.json().GetString("id") == id);
  CHECK(ChangesAfter(w, t, after_patch).empty());

  // Another key makes another site; keys are checked for shape.
  Response fresh = w.Call(t, "POST", "/api/v1/sites", R"({"name":"Once"})",
                          {"Idempotency-Key: create-intranet-2"});
  CHECK(fresh.status == 201);
  CHECK(fresh.json().GetString("id") != id);
  CHECK(IsProblem(w.Call(t, "POST", "/api/v1/sites", R"({"name":"x"})",
                         {"Idempotency-Key: " + std::string(129, 'k')}),
                  400));

  // Keys belong to a tenant: another tenant's same key is its own.
  Tenant b = w.Install("client-idempotency-b");
  Response theirs =
      w.Call(b, "POST", "/api/v1/sites", R"({"name":"Twice"})", key);
  CHECK(theirs.status == 201);
  CHECK(theirs.json().GetString("id") != id);
}

TEST_CASE(
    "Of concurrent writes with the same If-Match exactly one succeeds and the "
    "rest are 412",
    "[e2e]") {
  World w;
  Tenant t = w.Install("client-if-match-race");
  Response created = w.Call(t, "POST", "/api/v1/sites", R"({"name":"Race"})");
  REQUIRE(created.status == 201);
  const std::string url =
      "/api/v1/sites/" + std::string(created.json().GetString("id"));
  const std::string etag = created.header("etag");
  const uint64_t before = LastSeq(w, t);
  constexpr int kWriters = 8;
  std::vector<long> status(kWriters);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      status[i] = w.Call(t, "PATCH", url,
                         R"({"name":"Writer )" + std::to_string(i) + "\"}",
                         {"If-Match: " + etag})
                      .status;
    });
  }
  for (auto& th : writers) th.join();
  int won = -1;
  for (int i = 0; i < kWriters; ++i) {
    INFO("writer " << i);
    CHECK((status[i] == 200 || status[i] == 412));
    if (status[i] == 200) {
      CHECK(won == -1);
      won = i;
    }
  }
  REQUIRE(won >= 0);
  CHECK(w.Call(t, "GET", url).json().GetString("name") ==
        "Writer " + std::to_string(won));
  CHECK(ChangesAfter(w, t, before).size() == 1);
}

TEST_CASE("Concurrent requests with one Idempotency-Key create one entity",
          "[e2e]") {
  World w;
  Tenant t = w.Install("client-idempotency-race");
  REQUIRE(w.Call(t, "GET", "/api/v1/sites").status == 200);
  constexpr int kClients = 8;
  std::vector<Response> answers(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      answers[i] = w.Call(t, "POST", "/api/v1/sites", R"({"name":"Only one"})",
                          {"Idempotency-Key: race-key"});
    });
  }
  for (auto& th : clients) th.join();
  std::set<std::string> ids;
  for (const Response& r : answers) {
    INFO(r.status << " " << r.body);
    // A retry while the first is still being written may be told so (409);
    // any success names the one site.
    CHECK((r.status == 201 || IsProblem(r, 409)));
    if (r.status == 201) ids.insert(std::string(r.json().GetString("id")));
  }
  CHECK(ids.size() == 1);
  CHECK(w.Call(t, "GET", "/api/v1/sites")
            .json()
            .Find("items")
            ->as_array()
            .size() == 1);
  // Once written, every retry is answered from the record.
  Response later = w.Call(t, "POST", "/api/v1/sites", R"({"name":"Only one"})",
                          {"Idempotency-Key: race-key"});
  CHECK(later.status == 201);
  if (!ids.empty()) CHECK(later.json().GetString("id") == *ids.begin());
}

}  // namespace
}  // namespace siteledger::e2e
