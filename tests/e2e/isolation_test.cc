// Tenant isolation: one installation never sees or changes another's data.

#include <catch2/catch.hpp>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

TEST_CASE("A tenant can never read, list or change another tenant's entities",
          "[e2e]") {
  World w;
  Tenant a = w.Install("client-iso-a");
  Tenant b = w.Install("client-iso-b");

  // A's world.
  Response site = w.Call(a, "POST", "/api/v1/sites", R"({"name":"A's site"})");
  REQUIRE(site.status == 201);
  const std::string s(site.json().GetString("id"));
  Response theme =
      w.Call(a, "POST", "/api/v1/themes", R"({"name":"A's theme"})");
  REQUIRE(theme.status == 201);
  const std::string th(theme.json().GetString("id"));
  Response layout = w.Call(a, "POST", "/api/v1/layouts",
                           R"({"name":"A's layout","sections":[]})");
  REQUIRE(layout.status == 201);
  const std::string l(layout.json().GetString("id"));
  Response ann = w.Call(a, "POST", "/api/v1/announcements", R"({"text":"A only",
      "severity":"info","startsAt":"2020-01-01T00:00:00Z","audience":{"all":true}})");
  REQUIRE(ann.status == 201);
  const std::string an(ann.json().GetString("id"));
  Response fb =
      w.Call(a, "POST", "/api/v1/feedback", R"({"text":"A's feedback"})");
  REQUIRE(fb.status == 201);
  const std::string f(fb.json().GetString("id"));
  REQUIRE(
      w.Call(a, "PUT", "/api/v1/sites/" + s + "/navigation",
             R"({"items":[{"id":"x","label":"X","link":{"contentId":"1"}}]})")
          .status == 200);
  REQUIRE(w.Call(a, "PUT", "/api/v1/search/promoted/payroll",
                 R"({"results":[{"contentId":"5"}]})")
              .status == 200);
  REQUIRE(w.Call(a, "PUT", "/api/v1/pages/5/featured", R"({"text":"A's page"})")
              .status == 200);
  REQUIRE(Eventually([&] {
    return w.Call(a, "GET", "/api/v1/users")
               .json()
               .Find("items")
               ->as_array()
               .size() == 1;
  }));
  const std::string user(IdsOf(w.Call(a, "GET", "/api/v1/users").json())[0]);
  const uint64_t a_head = LastSeq(w, a);

  // B reads by id: nothing there.
  for (const std::string& url :
       {"/api/v1/sites/" + s, "/api/v1/sites/" + s + "/navigation",
        "/api/v1/themes/" + th, "/api/v1/layouts/" + l,
        "/api/v1/announcements/" + an, "/api/v1/feedback/" + f,
        std::string("/api/v1/search/promoted/payroll"),
        std::string("/api/v1/pages/5/featured"), "/api/v1/users/" + user,
        "/api/v1/sites/" + s + "?as_of=seq:" + std::to_string(a_head)}) {
    Response r = w.Call(b, "GET", url);
    INFO("GET " << url << " -> " << r.body);
    // B's own log is shorter than A's: as of A's head is past B's end (400);
    // everything else is simply not there (404). Never A's data.
    if (url.find("as_of") != std::string::npos) {
      CHECK(IsProblem(r, 400));
    } else {
      CHECK(IsProblem(r, 404));
    }
    CHECK(r.body.find("A's") == std::string::npos);
  }
  // B changes by id: nothing there either.
  struct Write {
    std::string method, url, body;
  };
  const std::vector<Write> writes = {
      {"PATCH", "/api/v1/sites/" + s, R"({"name":"B was here"})"},
      {"DELETE", "/api/v1/sites/" + s, ""},
      {"PUT", "/api/v1/sites/" + s + "/domains/b.example.com", ""},
      {"PUT", "/api/v1/sites/" + s + "/spaces/BEE", ""},
      {"PUT", "/api/v1/sites/" + s + "/navigation", R"({"items":[]})"},
      {"POST", "/api/v1/sites/" + s + "/navigation/items",
       R"({"item":{"id":"b","label":"B","link":{"contentId":"2"}}})"},
      {"POST", "/api/v1/sites/" + s + "/navigation/items/x/move",
       R"({"parentId":null,"index":0})"},
      {"DELETE", "/api/v1/sites/" + s + "/navigation/items/x", ""},
      {"PUT", "/api/v1/themes/" + th, R"({"name":"B's now"})"},
      {"DELETE", "/api/v1/themes/" + th, ""},
      {"PUT", "/api/v1/layouts/" + l, R"({"name":"B's now","sections":[]})"},
      {"POST", "/api/v1/layouts/" + l + "/publish", ""},
      {"DELETE", "/api/v1/layouts/" + l, ""},
      {"PUT", "/api/v1/announcements/" + an, R"({"text":"B","severity":"info",
          "startsAt":"2020-01-01T00:00:00Z","audience":{"all":true}})"},
      {"DELETE", "/api/v1/announcements/" + an, ""},
      {"POST", "/api/v1/feedback/" + f + "/resolve", ""},
      {"DELETE", "/api/v1/feedback/" + f, ""},
      {"DELETE", "/api/v1/search/promoted/payroll", ""},
      {"DELETE", "/api/v1/pages/5/featured", ""},
  };
  for (const Write& wr : writes) {
    Response r = w.Call(b, wr.method, wr.url, wr.body);
    INFO(wr.method << " " << wr.url << " -> " << r.body);
    CHECK(IsProblem(r, 404));
  }
  // B's lists are empty of A's data.
  for (const std::string& list : std::vector<std::string>{
           "/api/v1/sites", "/api/v1/themes", "/api/v1/layouts",
           "/api/v1/announcements", "/api/v1/search/promoted",
           "/api/v1/feedback"}) {
    Response r = w.Call(b, "GET", list);
    INFO(list << " -> " << r.body);
    REQUIRE(r.status == 200);
    CHECK(r.json().Find("items")->as_array().empty());
  }
  Response b_users = w.Call(b, "GET", "/api/v1/users");
  CHECK(b_users.body.find(user) == std::string::npos);
  for (const Json& e : EventsAfter(w, b, 0)) {
    CHECK(e.GetString("type") == "user.seen");
  }

  // A token naming A but signed with B's secret is not A.
  Tenant forged{a.client_key, b.secret};
  CHECK(IsProblem(w.Call(forged, "GET", "/api/v1/sites/" + s), 401));
  Response forged_write =
      w.Call(forged, "PATCH", "/api/v1/sites/" + s, R"({"name":"Forged"})");
  CHECK(IsProblem(forged_write, 401));
  CHECK(forged_write.header("www-authenticate") == "JWT");

  // A's data is untouched: no event since, and the site as it was.
  CHECK(ChangesAfter(w, a, a_head).empty());
  Response mine = w.Call(a, "GET", "/api/v1/sites/" + s);
  CHECK(mine.json().GetString("name") == "A's site");
  CHECK(mine.json().Find("domains")->as_array().empty());
  CHECK(w.Call(a, "GET", "/api/v1/feedback/" + f).json().GetString("status") ==
        "open");
  CHECK(w.Call(a, "GET", "/api/v1/sites/" + s + "/navigation")
            .json()
            .Find("items")
            ->as_array()
            .size() == 1);

  // B's own keyword and page are B's: the same names hold separate data.
  REQUIRE(w.Call(b, "PUT", "/api/v1/search/promoted/payroll",
                 R"({"results":[{"contentId":"6"}]})")
              .status == 200);
  CHECK(w.Call(a, "GET", "/api/v1/search/promoted/payroll")
            .json()
            .Find("results")
            ->as_array()[0]
            .GetString("contentId") == "5");
}

}  // namespace
}  // namespace siteledger::e2e
