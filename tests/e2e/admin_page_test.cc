// The administration page's server side, end to end: two real siteledgerd
// processes (us and eu), the page served for a signed ?jwt=, the page's
// token as the only one that moves a site's data, its renewal, and the CORS
// that lets the page talk to the region the site moved to. The page in a
// real browser is tests/browser/.

#include <catch2/catch.hpp>
#include <string>

#include "server/jwt.h"
#include "tests/e2e/regions.h"

namespace siteledger::e2e {
namespace {

// The content of <meta name="NAME" content="..."> in `html`.
std::string MetaOf(const std::string& html, const std::string& name) {
  const std::string open = "<meta name=\"" + name + "\" content=\"";
  const size_t at = html.find(open);
  if (at == std::string::npos) return "";
  const size_t from = at + open.size();
  return html.substr(from, html.find('"', from) - from);
}

// The page at `s` for a token signed for exactly GET /pages/residency.
Response OpenPage(Server& s, const Tenant& t, int64_t ttl = 300,
                  const std::string& sub = "5b10ac8d82e05b22cc7d4ef5") {
  const std::string token = t.Token("GET", "/pages/residency", sub, ttl);
  return Http("GET", s.url("/pages/residency?jwt=" + token), {});
}

TEST_CASE(
    "The administration page opens for a signed ?jwt= with a 15-minute page "
    "token, and a bad, expired or foreign token gets an error page with no "
    "data",
    "[admin_page]") {
  Regions regions;
  Tenant t = regions.Install("page-open");
  Response page = OpenPage(*regions.us, t);
  INFO(page.body.substr(0, 400));
  REQUIRE(page.status == 200);
  CHECK(page.header("content-type") == "text/html; charset=utf-8");
  CHECK(page.header("cache-control") == "no-store");
  CHECK(page.header("referrer-policy") == "no-referrer");
  const std::string csp = page.header("content-security-policy");
  CHECK(csp.find("default-src 'none'") != std::string::npos);
  CHECK(csp.find("script-src 'nonce-") != std::string::npos);
  // The peer region is the only other place the page may call.
  CHECK(csp.find("connect-src 'self' " + regions.eu->base_url()) !=
        std::string::npos);
  // Nothing from outside the server.
  CHECK(page.body.find("src=\"http") == std::string::npos);
  CHECK(page.body.find("href=\"http") == std::string::npos);

  const std::string token = MetaOf(page.body, "sl-token");
  REQUIRE_FALSE(token.empty());
  auto jwt = server::ParseJwt(token);
  REQUIRE(jwt.has_value());
  CHECK(jwt->claims.GetString("iss") == t.client_key);
  CHECK(jwt->claims.GetString("sub") == "5b10ac8d82e05b22cc7d4ef5");
  CHECK(jwt->claims.GetString("qsh") == "context-qsh");
  CHECK(jwt->claims.GetString("siteledgerPage") == "admin");
  CHECK(jwt->claims.GetInt("exp") - jwt->claims.GetInt("iat") == 900);
  CHECK(server::VerifyHs256(*jwt, t.secret).ok());
  CHECK(MetaOf(page.body, "sl-region") == "us");
  CHECK(MetaOf(page.body, "sl-peers") == "us,eu");
  // A second answer has its own nonce.
  Response again = OpenPage(*regions.us, t);
  REQUIRE(again.status == 200);
  CHECK(again.header("content-security-policy") != csp);

  // The page's token reads the tenant API.
  Response residency = Http("GET", regions.us->url("/api/v1/residency"),
                            {"Authorization: JWT " + token});
  REQUIRE(residency.status == 200);
  CHECK(residency.json().GetString("region") == "us");

  auto refused = [&](const Response& r, int status, const std::string& why) {
    INFO(r.body);
    CHECK(r.status == status);
    CHECK(r.header("content-type") == "text/html; charset=utf-8");
    CHECK(r.body.find("id=\"page-error\"") != std::string::npos);
    CHECK(r.body.find(why) != std::string::npos);
    // No data, no token.
    CHECK(r.body.find("sl-token") == std::string::npos);
    CHECK(r.body.find(t.client_key) == std::string::npos);
  };
  SECTION("an expired token") {
    refused(OpenPage(*regions.us, t, -120), 401, "expired");
  }
  SECTION("a token signed with another secret") {
    Tenant forged = t;
    forged.secret = "not-the-shared-secret-of-this-site-0123456789";
    refused(OpenPage(*regions.us, forged), 401, "does not verify");
  }
  SECTION("a token for another request (its qsh)") {
    const std::string other = t.Token("GET", "/api/v1/sites");
    refused(Http("GET", regions.us->url("/pages/residency?jwt=" + other), {}),
            401, "qsh");
  }
  SECTION("no token at all") {
    refused(Http("GET", regions.us->url("/pages/residency"), {}), 401,
            "no token");
  }
  SECTION("a context-qsh token (even the page's own)") {
    refused(Http("GET", regions.us->url("/pages/residency?jwt=" + token), {}),
            401, "context-qsh");
  }
  SECTION("a token without a user") {
    refused(OpenPage(*regions.us, t, 300, ""), 403, "no user");
  }
  SECTION("garbage") {
    refused(Http("GET",
                 regions.us->url("/pages/residency?jwt=%3Cscript%3Ex.y.z"), {}),
            401, "");
  }
}

TEST_CASE(
    "Only the administration page's token starts a migration or a rollback, "
    "the page renews its token, and the descriptor declares the page",
    "[admin_page]") {
  Regions regions;
  Tenant t = regions.Install("page-only");
  REQUIRE(Regions::Call(*regions.us, t, "POST", "/api/v1/sites", SiteBody(1))
              .status == 201);
  const std::string body = "{\"target\":\"eu\"}";

  // An ordinary user's token, qsh-bound or context-qsh, cannot move data.
  Response qsh = Regions::Call(*regions.us, t, "POST",
                               "/api/v1/residency/migration", body);
  INFO(qsh.body);
  CHECK(qsh.status == 403);
  CHECK(qsh.body.find("administration page") != std::string::npos);
  const std::string unmarked =
      t.PageToken(0, "5b10ac8d82e05b22cc7d4ef5", false);
  Response context =
      Http("POST", regions.us->url("/api/v1/residency/migration"),
           {"Authorization: JWT " + unmarked, "Content-Type: application/json"},
           body);
  CHECK(context.status == 403);
  // A qsh-bound token carrying the mark is still not the page's: the mark
  // counts only on a context token the server issued.
  {
    Json claims = Json::MakeObject();
    claims.Set("iss", t.client_key);
    claims.Set("sub", "5b10ac8d82e05b22cc7d4ef5");
    claims.Set("iat", NowSeconds());
    claims.Set("exp", NowSeconds() + 300);
    claims.Set("qsh", server::QueryStringHash(
                          "POST", "/api/v1/residency/migration", ""));
    claims.Set("siteledgerPage", "admin");
    Response marked_qsh =
        Http("POST", regions.us->url("/api/v1/residency/migration"),
             {"Authorization: JWT " + SignHs(claims, t.secret),
              "Content-Type: application/json"},
             body);
    CHECK(marked_qsh.status == 403);
  }
  // Nothing moved.
  Response still = Regions::Call(*regions.us, t, "GET", "/api/v1/residency");
  CHECK(still.json().GetString("state") == "home");
  CHECK(still.json().GetString("region") == "us");
  // Nor can an ordinary token renew into a page token.
  CHECK(Http("POST", regions.us->url("/api/v1/residency/page-token"),
             {"Authorization: JWT " + unmarked})
            .status == 403);

  // The page's token, renewed once, moves the site and back.
  Response page = OpenPage(*regions.us, t);
  REQUIRE(page.status == 200);
  Response renewed =
      Http("POST", regions.us->url("/api/v1/residency/page-token"),
           {"Authorization: JWT " + MetaOf(page.body, "sl-token")});
  INFO(renewed.body);
  REQUIRE(renewed.status == 200);
  CHECK(renewed.header("cache-control") == "no-store");
  const std::string token(renewed.json().GetString("token"));
  CHECK_FALSE(renewed.json().GetString("expiresAt").empty());
  const std::string auth = "Authorization: JWT " + token;
  Response start = Http("POST", regions.us->url("/api/v1/residency/migration"),
                        {auth, "Content-Type: application/json"}, body);
  INFO(start.body);
  REQUIRE(start.status == 202);
  regions.WaitResidency(*regions.us, t, [](const Json& j) {
    return j.GetString("region") == "eu" && j.GetString("state") == "home";
  });
  Response moved = Http("GET", regions.eu->url("/api/v1/residency"), {auth});
  REQUIRE(moved.status == 200);
  CHECK(moved.json().GetString("movedFrom") == "us");
  CHECK(moved.json().Find("rollbackDeadline")->is_string());
  // The rollback, with the same token, at the new home; an ordinary one is
  // refused there too.
  CHECK(Regions::Call(*regions.eu, t, "POST", "/api/v1/residency/rollback")
            .status == 403);
  Response back =
      Http("POST", regions.eu->url("/api/v1/residency/rollback"), {auth});
  INFO(back.body);
  REQUIRE(back.status == 202);
  regions.WaitResidency(*regions.us, t, [](const Json& j) {
    return j.GetString("region") == "us" && j.GetString("state") == "home";
  });

  // Another site, moved, then past the 7 days: no rollback, and the page
  // can say why (movedFrom stays, rollbackDeadline is null).
  Tenant t2 = regions.Install("page-only-late");
  REQUIRE(Regions::PageCall(*regions.us, t2, "POST",
                            "/api/v1/residency/migration", body)
              .status == 202);
  regions.WaitResidency(*regions.us, t2, [](const Json& j) {
    return j.GetString("region") == "eu" && j.GetString("state") == "home";
  });
  for (Server* s : {regions.us.get(), regions.eu.get()}) {
    REQUIRE(
        regions.AdminCall(*s, "POST", "/admin/clock", "{\"advance\":\"8d\"}")
            .status == 200);
  }
  Response late = PageCallAhead(*regions.eu, t2, std::chrono::hours(8 * 24),
                                "GET", "/api/v1/residency");
  INFO(late.body);
  REQUIRE(late.status == 200);
  CHECK(late.json().Find("rollbackDeadline")->is_null());
  CHECK(late.json().GetString("movedFrom") == "us");
  CHECK(PageCallAhead(*regions.eu, t2, std::chrono::hours(8 * 24), "POST",
                      "/api/v1/residency/rollback")
            .status == 409);

  // The descriptor's admin page module.
  Response d = Http("GET", regions.us->url("/atlassian-connect.json"), {});
  REQUIRE(d.status == 200);
  const Json descriptor = d.json();
  const Json* pages = descriptor.Find("modules")->Find("adminPages");
  REQUIRE(pages != nullptr);
  REQUIRE(pages->as_array().size() == 1);
  CHECK(pages->as_array()[0].GetString("url") == "/pages/residency");
  CHECK(pages->as_array()[0].GetString("key") == "data-residency");
}

TEST_CASE(
    "Each region lets its peers' pages call its tenant API (CORS) and no "
    "other origin, and the tenant reads its own usage",
    "[admin_page]") {
  Regions regions;
  Tenant t = regions.Install("page-cors");
  const std::string us_origin = regions.us->base_url();
  Response preflight =
      Http("OPTIONS", regions.eu->url("/api/v1/residency/rollback"),
           {"Origin: " + us_origin, "Access-Control-Request-Method: POST",
            "Access-Control-Request-Headers: authorization"});
  CHECK(preflight.status == 204);
  CHECK(preflight.header("access-control-allow-origin") == us_origin);
  CHECK(
      preflight.header("access-control-allow-headers").find("Authorization") !=
      std::string::npos);
  CHECK(preflight.header("access-control-allow-methods").find("POST") !=
        std::string::npos);
  // An answer to a peer's page, error or not, carries the header.
  Response get = Http("GET", regions.eu->url("/api/v1/residency"),
                      {"Origin: " + us_origin, t.PageAuth()});
  CHECK(get.header("access-control-allow-origin") == us_origin);
  CHECK(get.header("vary") == "Origin");
  // Another origin gets nothing to read with.
  Response foreign = Http(
      "OPTIONS", regions.eu->url("/api/v1/residency"),
      {"Origin: https://evil.example", "Access-Control-Request-Method: GET"});
  CHECK(foreign.status != 204);
  CHECK(foreign.header("access-control-allow-origin").empty());
  Response foreign_get = Http(
      "GET", regions.us->url("/api/v1/residency"),
      {"Origin: https://evil.example", t.Auth("GET", "/api/v1/residency")});
  CHECK(foreign_get.status == 200);
  CHECK(foreign_get.header("access-control-allow-origin").empty());

  // Usage: the tenant's own figures.
  Response site =
      Regions::Call(*regions.us, t, "POST", "/api/v1/sites", SiteBody(1));
  REQUIRE(site.status == 201);
  const std::string id(site.json().GetString("id"));
  for (const char* key : {"DOC", "ENG"}) {
    const std::string path = "/api/v1/sites/" + id + "/spaces/" + key;
    Response added = Regions::Call(*regions.us, t, "PUT", path);
    INFO(added.body);
    REQUIRE(added.status == 200);
  }
  REQUIRE(Regions::Call(*regions.us, t, "PUT",
                        "/api/v1/sites/" + id + "/domains/docs.example.com")
              .status == 200);
  REQUIRE(Regions::Call(*regions.us, t, "POST", "/api/v1/sites", SiteBody(2))
              .status == 201);
  Response usage = Regions::Call(*regions.us, t, "GET", "/api/v1/usage");
  INFO(usage.body);
  REQUIRE(usage.status == 200);
  CHECK(usage.json().GetInt("sites") == 2);
  CHECK(usage.json().GetInt("spaces") == 2);
  CHECK(usage.json().GetInt("customDomains") == 1);
  CHECK(usage.json().GetInt("themes") == 0);
  Tenant other = regions.Install("page-cors-other");
  Response theirs = Regions::Call(*regions.us, other, "GET", "/api/v1/usage");
  REQUIRE(theirs.status == 200);
  CHECK(theirs.json().GetInt("sites") == 0);
}

}  // namespace
}  // namespace siteledger::e2e
