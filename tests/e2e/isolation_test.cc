// Tenant isolation: one installation never sees or changes another's data.

#include <catch2/catch.hpp>

#include "tests/e2e/harness.h"
#include "tests/e2e/regions.h"

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

// ---------------------------------------------------------------------------
// The sweep: every route of the route table (read from /openapi.json), with
// every kind of credential that must not work there.

constexpr const char* kMarker = "A-PRIVATE";
// A's user, kept apart from the account the other tokens name.
constexpr const char* kAccountOfA = "aaaaaaaaaaaaaaaaaaaaaaaa";
constexpr const char* kPeerSecret =
    "peer-secret-0123456789abcdef0123456789abcdef";

// A token of the region `region` under the peer secret, for `method target`.
std::string PeerToken(const std::string& region, const std::string& secret,
                      const std::string& method, const std::string& target) {
  const size_t q = target.find('?');
  Json claims = Json::MakeObject();
  claims.Set("iss", "siteledger:" + region);
  claims.Set("iat", NowSeconds());
  claims.Set("exp", NowSeconds() + 120);
  claims.Set("qsh", server::QueryStringHash(
                        method, target.substr(0, q),
                        q == std::string::npos ? "" : target.substr(q + 1)));
  return SignHs(claims, secret);
}

// A's entities, made through the API.
struct WorldOfA {
  std::map<std::string, std::string> ids;  // collection -> id
  std::string domain = "a-private.example.com";
  std::string space = "APRIV";
};

// The body a request of `method path` carries: one a handler accepts, so
// that what decides the answer is whose data it is, not its shape.
std::string BodyFor(const std::string& method, const std::string& path) {
  if (method == "GET" || method == "DELETE") return "";
  static const std::map<std::string, std::string> bodies = {
      {"POST /api/v1/sites", R"({"name":"B's site"})"},
      {"PATCH /api/v1/sites/{id}", R"({"name":"B was here"})"},
      {"PUT /api/v1/sites/{id}/navigation", R"({"items":[]})"},
      {"POST /api/v1/sites/{id}/navigation/items",
       R"({"item":{"id":"b","label":"B","link":{"contentId":"2"}}})"},
      {"POST /api/v1/sites/{id}/navigation/items/{itemId}/move",
       R"({"parentId":null,"index":0})"},
      {"POST /api/v1/themes", R"({"name":"B's theme"})"},
      {"PUT /api/v1/themes/{id}", R"({"name":"B's now"})"},
      {"POST /api/v1/layouts", R"({"name":"B's layout","sections":[]})"},
      {"PUT /api/v1/layouts/{id}", R"({"name":"B's now","sections":[]})"},
      {"POST /api/v1/announcements",
       R"({"text":"B","severity":"info","startsAt":"2020-01-01T00:00:00Z","audience":{"all":true}})"},
      {"PUT /api/v1/announcements/{id}",
       R"({"text":"B","severity":"info","startsAt":"2020-01-01T00:00:00Z","audience":{"all":true}})"},
      {"PUT /api/v1/search/promoted/{keyword}",
       R"({"results":[{"contentId":"6"}]})"},
      {"PUT /api/v1/pages/{contentId}/featured", R"({"text":"B's page"})"},
      {"POST /api/v1/feedback", R"({"text":"B's feedback"})"},
      {"POST /api/v1/media", Svg(2)},
  };
  auto it = bodies.find(method + " " + path);
  return it == bodies.end() ? std::string("{}") : it->second;
}

// `path` with each {parameter} replaced by A's value for it.
std::string FillWithA(std::string path, const WorldOfA& a,
                      const std::string& client_key) {
  std::string collection;  // the segment before {id}
  for (size_t at = path.find('{'); at != std::string::npos;
       at = path.find('{', at)) {
    const size_t end = path.find('}', at);
    const std::string name = path.substr(at + 1, end - at - 1);
    const size_t slash = path.rfind('/', at - 2);
    collection = path.substr(slash + 1, at - 1 - slash - 1);
    std::string value;
    if (name == "id") {
      value = a.ids.at(collection);
    } else if (name == "itemId") {
      value = "x";
    } else if (name == "keyword") {
      value = "payroll";
    } else if (name == "contentId") {
      value = "5";
    } else if (name == "domain") {
      value = a.domain;
    } else if (name == "spaceKey") {
      value = a.space;
    } else if (name == "clientKey") {
      value = client_key;
    } else {
      FAIL("no value of A's for {" << name << "} in " << path);
    }
    path.replace(at, end - at + 1, value);
    at += value.size();
  }
  return path;
}

TEST_CASE(
    "Every route swept: another tenant's token, a forged iss, an expired "
    "token, alg confusion, peer tokens on tenant routes and tenant tokens on "
    "peer and operator routes get no data and change nothing",
    "[isolation]") {
  Regions r;
  Server& us = *r.us;
  Tenant a = r.Install("sweep-a");
  Tenant b = r.Install("sweep-b");
  // A's calls name A's own user.
  auto as_a = [&](const std::string& method, const std::string& target,
                  const std::string& body = "",
                  const std::string& type = "application/json") {
    std::vector<std::string> headers = {a.Auth(method, target, kAccountOfA)};
    if (!body.empty()) headers.push_back("Content-Type: " + type);
    return Http(method, us.url(target), headers, body);
  };
  const std::string m(kMarker);

  // A's world: one of every kind, each carrying the marker.
  WorldOfA world;
  auto create = [&](const std::string& collection, const std::string& body) {
    Response c = as_a("POST", "/api/v1/" + collection, body);
    INFO(collection << ": " << c.body);
    REQUIRE(c.status == 201);
    world.ids[collection] = std::string(c.json().GetString("id"));
  };
  create("sites", R"({"name":")" + m + R"( site"})");
  create("themes", R"({"name":")" + m + R"( theme"})");
  create("layouts", R"({"name":")" + m + R"( layout","sections":[]})");
  create("announcements", R"({"text":")" + m + R"(","severity":"info",
      "startsAt":"2020-01-01T00:00:00Z","audience":{"all":true}})");
  create("feedback", R"({"text":")" + m + R"( feedback"})");
  {
    Response up =
        as_a("POST", "/api/v1/media?kind=logo", Svg(1), "image/svg+xml");
    INFO(up.body);
    REQUIRE(up.status == 201);
    world.ids["media"] = std::string(up.json().GetString("id"));
  }
  const std::string site = "/api/v1/sites/" + world.ids["sites"];
  REQUIRE(as_a("PUT", site + "/domains/" + world.domain).status == 200);
  REQUIRE(as_a("PUT", site + "/spaces/" + world.space).status == 200);
  REQUIRE(as_a("PUT", site + "/navigation",
               R"({"items":[{"id":"x","label":")" + m +
                   R"(","link":{"contentId":"1"}}]})")
              .status == 200);
  REQUIRE(as_a("PUT", "/api/v1/search/promoted/payroll",
               R"({"results":[{"url":"https://a.example.com/x","title":")" + m +
                   R"("}]})")
              .status == 200);
  REQUIRE(
      as_a("PUT", "/api/v1/pages/5/featured", R"({"text":")" + m + R"( page"})")
          .status == 200);
  REQUIRE(Eventually([&] {
    return as_a("GET", "/api/v1/users")
               .json()
               .Find("items")
               ->as_array()
               .size() == 1;
  }));
  world.ids["users"] = IdsOf(as_a("GET", "/api/v1/users").json())[0];

  // What A has, as an operator sees it: the head and the views' digest.
  const std::string digest_url = "/admin/tenants/" + a.client_key + "/digest";
  auto state_of_a = [&] {
    Response d = r.AdminCall(us, "GET", digest_url);
    REQUIRE(d.status == 200);
    return d.body;
  };
  const std::string before = state_of_a();
  // A sees its marker: the checks below can tell when it leaks.
  REQUIRE(as_a("GET", site).body.find(m) != std::string::npos);

  Response doc = Http("GET", us.url("/openapi.json"));
  REQUIRE(doc.status == 200);
  const Json spec = doc.json();

  // Every answer below: never A's marker or A's account.
  auto no_data_of_a = [&](const Response& answer) {
    CHECK(answer.body.find(m) == std::string::npos);
    CHECK(answer.body.find(kAccountOfA) == std::string::npos);
  };

  size_t tenant_routes = 0, peer_routes = 0, operator_routes = 0;
  for (const auto& [path, methods] : spec.Find("paths")->as_object()) {
    for (const auto& [lower_method, op] : methods.as_object()) {
      std::string method = lower_method;
      for (char& c : method) c = static_cast<char>(std::toupper(c));
      const Json* security = op.Find("security");
      const std::string scheme =
          security != nullptr && !security->as_array().empty()
              ? security->as_array()[0].as_object().begin()->first
              : std::string();
      // Public routes, the signed media URL and the lifecycle callbacks
      // (their own tests in auth_test.cc) name no tenant credential here.
      if (scheme != "connectJwt" && scheme != "peerJwt" &&
          scheme != "operatorBearer") {
        continue;
      }
      std::string target = FillWithA(path, world, a.client_key);
      if (path == "/api/v1/media" && method == "POST") target += "?kind=logo";
      const std::string body = BodyFor(method, path);
      const std::string type = path == "/api/v1/media" && method == "POST"
                                   ? "image/svg+xml"
                                   : "application/json";
      auto send = [&](const std::string& authorization,
                      long timeout_ms = 10000) {
        std::vector<std::string> headers = {authorization};
        if (!body.empty()) headers.push_back("Content-Type: " + type);
        return Http(method, us.url(target), headers, body, timeout_ms);
      };
      const bool streams = path == "/api/v1/events/stream";

      if (scheme == "connectJwt") {
        ++tenant_routes;
        // B's own, valid token against A's ids: B's data or nothing.
        {
          Response answer =
              send(b.Auth(method, target), streams ? 1500 : 10000);
          INFO("B's token: " << method << " " << target << " -> "
                             << answer.status << " " << answer.body);
          no_data_of_a(answer);
          // A path naming one of A's entities is never found for B.
          if (path.find("{id}") != std::string::npos) {
            CHECK(answer.status >= 400);
            CHECK(answer.status < 500);
          }
        }
        // Tokens that are not A's, each with the right qsh.
        Json claims = TokenClaims(a, method, target);
        Json expired =
            TokenClaims(a, method, target, "5b10ac8d82e05b22cc7d4ef5", -120);
        expired.Set("iat", NowSeconds() - 420);
        const std::vector<std::pair<std::string, std::string>> refused = {
            {"A's iss signed with B's secret", SignHs(claims, b.secret)},
            {"A's own token, expired two minutes ago",
             SignHs(expired, a.secret)},
            {"alg none", B64(R"({"alg":"none","typ":"JWT"})") + "." +
                             B64(claims.Dump()) + "."},
            {"alg HS512 signed as HS256",
             SignHs(claims, a.secret, R"({"alg":"HS512","typ":"JWT"})")},
            {"alg RS256 signed with the install key",
             SignRs(claims, r.install_key, "kid-1")},
            {"HS256 keyed with the install key's public PEM",
             SignHs(claims, r.install_key.PublicPem(),
                    R"({"alg":"HS256","typ":"JWT","kid":"kid-1"})")},
            {"a peer token", PeerToken("eu", kPeerSecret, method, target)},
            {"A's iss signed with the peer secret",
             SignHs(claims, kPeerSecret)},
        };
        for (const auto& [name, token] : refused) {
          Response answer = send("Authorization: JWT " + token);
          INFO(name << ": " << method << " " << target << " -> "
                    << answer.status << " " << answer.body);
          CHECK(answer.status == 401);
          no_data_of_a(answer);
        }
      } else if (scheme == "peerJwt") {
        ++peer_routes;
        for (const auto& [name, authorization] :
             std::vector<std::pair<std::string, std::string>>{
                 {"A's tenant token", a.Auth(method, target)},
                 {"a peer token of an unknown region",
                  "Authorization: JWT " +
                      PeerToken("ap", kPeerSecret, method, target)},
                 {"a peer token under another secret",
                  "Authorization: JWT " +
                      PeerToken("eu", b.secret, method, target)}}) {
          Response answer = send(authorization);
          INFO(name << ": " << method << " " << target << " -> "
                    << answer.status << " " << answer.body);
          CHECK(answer.status == 401);
          no_data_of_a(answer);
        }
      } else if (scheme == "operatorBearer") {
        ++operator_routes;
        const std::string token = a.Token(method, target);
        for (const std::string& authorization :
             {"Authorization: JWT " + token, "Authorization: Bearer " + token,
              "Authorization: Bearer " +
                  PeerToken("eu", kPeerSecret, method, target)}) {
          Response answer = send(authorization);
          INFO(authorization.substr(0, 24)
               << ": " << method << " " << target << " -> " << answer.status
               << " " << answer.body);
          CHECK(answer.status == 401);
          no_data_of_a(answer);
        }
      }
    }
  }
  // The table as the document lists it: some sixty tenant routes, nine
  // peer routes and some thirty operator routes (the tenant reads mirrored
  // under /admin among them).
  CHECK(tenant_routes >= 60);
  CHECK(peer_routes == 9);
  CHECK(operator_routes >= 30);

  // Nothing of A's changed: the same head seq and the same views.
  CHECK(state_of_a() == before);
  CHECK(as_a("GET", site).body.find(m) != std::string::npos);
}

}  // namespace
}  // namespace siteledger::e2e
