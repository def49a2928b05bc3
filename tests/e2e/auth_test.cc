// Authentication: every way a token can be wrong is 401 with
// WWW-Authenticate: JWT and changes nothing; lifecycle callbacks.

#include <catch2/catch.hpp>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

const std::string kSites = "/api/v1/sites";

bool IsUnauthorized(const Response& r) {
  return IsProblem(r, 401) && r.header("www-authenticate") == "JWT";
}

// A POST that would create a site, with the given Authorization header
// (none if empty).
Response CreateWith(World& w, const std::string& authorization,
                    const std::string& target = kSites) {
  std::vector<std::string> headers = {"Content-Type: application/json"};
  if (!authorization.empty()) headers.push_back(authorization);
  return Http("POST", w.server->url(target), headers,
              R"({"name":"Should not exist"})");
}

std::string Jwt(const std::string& token) {
  return "Authorization: JWT " + token;
}

TEST_CASE(
    "Every bad tenant token is 401 with WWW-Authenticate JWT and changes "
    "nothing",
    "[e2e]") {
  World w;
  Tenant t = w.Install("client-auth");
  Tenant other = w.Install("client-auth-other");
  REQUIRE(w.Call(t, "GET", kSites).status == 200);
  REQUIRE(Eventually([&] { return LastSeq(w, t) == 1; }));
  const uint64_t before = LastSeq(w, t);
  const Json good = TokenClaims(t, "POST", kSites);

  struct Case {
    std::string name;
    std::string authorization;
  };
  std::vector<Case> cases;
  cases.push_back({"no token", ""});
  cases.push_back(
      {"another scheme", "Authorization: Bearer " + SignHs(good, t.secret)});
  cases.push_back({"garbage", Jwt("not.a.jwt")});
  cases.push_back({"two parts", Jwt("eyJhbGciOiJIUzI1NiJ9.e30")});
  cases.push_back({"a bad signature", Jwt(SignHs(good, "wrong secret"))});
  {
    // Change the first signature character (the last one also carries
    // unused padding bits).
    std::string token = SignHs(good, t.secret);
    char& c = token[token.rfind('.') + 1];
    c = c == 'A' ? 'B' : 'A';
    cases.push_back({"an altered signature", Jwt(token)});
  }
  {
    // Claims changed after signing.
    std::string token = SignHs(good, t.secret);
    Json more = good;
    more.Set("sub", "someone-else");
    const size_t a = token.find('.');
    const size_t b = token.find('.', a + 1);
    token = token.substr(0, a + 1) + B64(more.Dump()) + token.substr(b);
    cases.push_back({"altered claims", Jwt(token)});
  }
  cases.push_back({"the other tenant's secret with this tenant's iss",
                   Jwt(SignHs(good, other.secret))});
  {
    Json c = good;
    c.Set("iss", "client-never-installed");
    cases.push_back({"an unknown iss", Jwt(SignHs(c, t.secret))});
  }
  {
    Json c = good;
    c.Erase("iss");
    cases.push_back({"no iss", Jwt(SignHs(c, t.secret))});
  }
  cases.push_back({"expired a minute ago",
                   Jwt(SignHs(TokenClaims(t, "POST", kSites,
                                          "5b10ac8d82e05b22cc7d4ef5", -60),
                              t.secret))});
  {
    Json c = good;
    c.Erase("exp");
    cases.push_back({"no exp", Jwt(SignHs(c, t.secret))});
  }
  cases.push_back({"alg none with an empty signature",
                   Jwt(B64(R"({"alg":"none","typ":"JWT"})") + "." +
                       B64(good.Dump()) + ".")});
  cases.push_back(
      {"alg none signed anyway",
       Jwt(SignHs(good, t.secret, R"({"alg":"none","typ":"JWT"})"))});
  cases.push_back(
      {"alg HS512 header", Jwt(SignHs(good, t.secret, R"({"alg":"HS512"})"))});
  cases.push_back({"alg RS256 signed with the install key",
                   Jwt(SignRs(good, w.install_key, "kid-1"))});
  cases.push_back(
      {"a qsh of another path",
       Jwt(SignHs(TokenClaims(t, "POST", "/api/v1/themes"), t.secret))});
  cases.push_back({"a qsh of another method",
                   Jwt(SignHs(TokenClaims(t, "GET", kSites), t.secret))});
  cases.push_back(
      {"a qsh of another query",
       Jwt(SignHs(TokenClaims(t, "POST", kSites + "?limit=1"), t.secret))});
  {
    Json c = good;
    c.Erase("qsh");
    cases.push_back({"no qsh", Jwt(SignHs(c, t.secret))});
  }
  {
    Json c = good;
    c.Set("qsh", "context-qsh");
    c.Erase("sub");
    cases.push_back(
        {"a context-qsh token without sub", Jwt(SignHs(c, t.secret))});
  }
  {
    Json c = good;
    c.Set("sub", "jane.doe@example.com");
    cases.push_back({"an e-mail address as sub", Jwt(SignHs(c, t.secret))});
  }

  for (const Case& c : cases) {
    INFO(c.name);
    Response r = CreateWith(w, c.authorization);
    INFO(r.status << " " << r.body);
    CHECK(IsUnauthorized(r));
    // A read is refused the same way.
    if (c.name == "no token") {
      CHECK(IsUnauthorized(Http("GET", w.server->url(kSites))));
    }
  }
  // Nothing was written: no site, no event (not even a user seen).
  CHECK(w.Call(t, "GET", kSites).json().Find("items")->as_array().empty());
  CHECK(EventsAfter(w, t, before).empty());
  CHECK(w.Call(other, "GET", kSites).json().Find("items")->as_array().empty());

  // For contrast: within the 30 s leeway, ?jwt= and context-qsh with a sub
  // are accepted.
  Response leeway = CreateWith(
      w, Jwt(SignHs(
             TokenClaims(t, "POST", kSites, "5b10ac8d82e05b22cc7d4ef5", -10),
             t.secret)));
  INFO(leeway.body);
  CHECK(leeway.status == 201);
  Response in_query =
      Http("POST", w.server->url(kSites + "?jwt=" + SignHs(good, t.secret)),
           {"Content-Type: application/json"}, R"({"name":"Via query"})");
  INFO(in_query.body);
  CHECK(in_query.status == 201);
  Json context = good;
  context.Set("qsh", "context-qsh");
  Response ctx = CreateWith(w, Jwt(SignHs(context, t.secret)));
  INFO(ctx.body);
  CHECK(ctx.status == 201);
  Response ctx_read = Http("GET", w.server->url(kSites + "?limit=5"),
                           {Jwt(SignHs(context, t.secret))});
  CHECK(ctx_read.status == 200);
  CHECK(w.Call(t, "GET", kSites).json().Find("items")->as_array().size() == 3);
}

TEST_CASE("Lifecycle callbacks refuse forged, confused and context tokens",
          "[e2e]") {
  World w;
  Tenant t = w.Install("client-lifecycle");
  REQUIRE(w.Call(t, "POST", kSites, R"({"name":"Kept"})").status == 201);

  auto install_body = [&](const std::string& client_key,
                          const std::string& secret) {
    return LifecycleBody("installed", client_key, secret).Dump();
  };
  auto install_claims = [&](const std::string& client_key,
                            const std::string& path = "/lifecycle/installed") {
    return LifecycleClaims(w.server->base_url(), client_key, path);
  };
  auto post_installed = [&](const std::string& token, const std::string& body) {
    return Http("POST", w.server->url("/lifecycle/installed"),
                {Jwt(token), "Content-Type: application/json"}, body);
  };

  const std::string pem = w.install_key.PublicPem();
  struct Case {
    std::string name;
    std::string token;
  };
  std::vector<Case> cases = {
      {"HS256 signed with the install key's PEM",
       SignHs(install_claims("client-evil"), pem,
              R"({"alg":"HS256","typ":"JWT","kid":"kid-1"})")},
      {"HS256 signed with the PEM, no kid",
       SignHs(install_claims("client-evil"), pem)},
      {"RS256 by another key",
       [&] {
         RsaKey other;
         return SignRs(install_claims("client-evil"), other, "kid-1");
       }()},
      {"RS256 with an unknown kid",
       SignRs(install_claims("client-evil"), w.install_key, "kid-unknown")},
      {"RS256 for another aud",
       [&] {
         Json c = install_claims("client-evil");
         c.Set("aud", "https://elsewhere.example.com");
         return SignRs(c, w.install_key, "kid-1");
       }()},
      {"RS256 with a qsh of another path",
       SignRs(install_claims("client-evil", "/lifecycle/uninstalled"),
              w.install_key, "kid-1")},
      {"RS256 with context-qsh",
       [&] {
         Json c = install_claims("client-evil");
         c.Set("qsh", "context-qsh");
         return SignRs(c, w.install_key, "kid-1");
       }()},
      {"RS256 expired",
       [&] {
         Json c = install_claims("client-evil");
         c.Set("exp", NowSeconds() - 120);
         return SignRs(c, w.install_key, "kid-1");
       }()},
      {"RS256 whose iss is another clientKey",
       SignRs(install_claims("client-someone"), w.install_key, "kid-1")},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Response r = post_installed(
        c.token, install_body("client-evil", "s3cret-of-evil-0123456789"));
    INFO(r.status << " " << r.body);
    CHECK(IsUnauthorized(r));
    // Nor may it take over an installed tenant by replacing its secret.
    std::string takeover = c.token;
    if (c.name.rfind("HS256", 0) == 0) {
      takeover = SignHs(install_claims(t.client_key), pem);
    }
    Response r2 = post_installed(
        takeover, install_body(t.client_key, "stolen-secret-0123456789abcdef"));
    CHECK(r2.status == 401);
  }
  // client-evil was never installed...
  Tenant evil{"client-evil", "s3cret-of-evil-0123456789"};
  CHECK(IsUnauthorized(w.Call(evil, "GET", kSites)));
  // ...and the tenant's secret is still its own.
  Response mine = w.Call(t, "GET", kSites);
  CHECK(mine.status == 200);
  CHECK(mine.json().Find("items")->as_array().size() == 1);
  Tenant thief{t.client_key, "stolen-secret-0123456789abcdef"};
  CHECK(IsUnauthorized(w.Call(thief, "GET", kSites)));
  // No token at all.
  CHECK(IsUnauthorized(Http("POST", w.server->url("/lifecycle/installed"),
                            {"Content-Type: application/json"},
                            install_body("client-evil", "x-0123456789"))));

  // Nor can a forged uninstall take the tenant offline.
  Response forged_uninstall =
      Http("POST", w.server->url("/lifecycle/uninstalled"),
           {t.Auth("POST", "/lifecycle/uninstalled"),
            "Content-Type: application/json"},
           install_body(t.client_key, t.secret));
  CHECK(IsUnauthorized(forged_uninstall));
  CHECK(w.Call(t, "GET", kSites).status == 200);

  // enabled/disabled take the installation's HS256 token with a real qsh;
  // a context-qsh token (which a browser could hold) is refused.
  Json ctx = TokenClaims(t, "POST", "/lifecycle/enabled");
  ctx.Set("qsh", "context-qsh");
  for (const std::string& path :
       std::vector<std::string>{"/lifecycle/enabled", "/lifecycle/disabled"}) {
    INFO(path);
    Response r = Http(
        "POST", w.server->url(path),
        {Jwt(SignHs(ctx, t.secret)), "Content-Type: application/json"}, "{}");
    CHECK(IsUnauthorized(r));
    Response rs =
        Http("POST", w.server->url(path),
             {Jwt(SignRs(TokenClaims(t, "POST", path), w.install_key, "kid-1")),
              "Content-Type: application/json"},
             "{}");
    CHECK(IsUnauthorized(rs));
  }
  Response enabled = Http(
      "POST", w.server->url("/lifecycle/enabled"),
      {t.Auth("POST", "/lifecycle/enabled"), "Content-Type: application/json"},
      "{}");
  INFO(enabled.body);
  CHECK(enabled.status == 204);
}

TEST_CASE(
    "An uninstalled tenant is refused with 403 and re-installing brings its "
    "data back",
    "[e2e]") {
  World w;
  Tenant t = w.Install("client-reinstall");
  Response site = w.Call(t, "POST", kSites, R"({"name":"Survives"})");
  REQUIRE(site.status == 201);
  const std::string id(site.json().GetString("id"));

  Response gone = w.Lifecycle("uninstalled", t.client_key, t.secret);
  INFO(gone.body);
  REQUIRE(gone.status == 204);
  Response read = w.Call(t, "GET", "/api/v1/sites/" + id);
  INFO(read.body);
  CHECK(IsProblem(read, 403));
  CHECK(IsProblem(w.Call(t, "POST", kSites, R"({"name":"No"})"), 403));
  CHECK(IsProblem(w.Call(t, "GET", "/api/v1/events"), 403));
  // Still a bad token is 401, not 403: nothing is told to a stranger.
  Tenant wrong{t.client_key, "not-the-secret-0123456789abcdef"};
  CHECK(IsUnauthorized(w.Call(wrong, "GET", kSites)));
  Response enable = Http(
      "POST", w.server->url("/lifecycle/enabled"),
      {t.Auth("POST", "/lifecycle/enabled"), "Content-Type: application/json"},
      "{}");
  CHECK(IsProblem(enable, 403));

  // Installed again (with a new secret, as Atlassian sends one).
  Tenant again{t.client_key, "a-new-secret-after-reinstall-0123"};
  Response back = w.Lifecycle("installed", again.client_key, again.secret);
  INFO(back.body);
  REQUIRE(back.status == 204);
  Response restored = w.Call(again, "GET", "/api/v1/sites/" + id);
  INFO(restored.body);
  CHECK(restored.status == 200);
  CHECK(restored.json().GetString("name") == "Survives");
  CHECK(w.Call(again, "GET", kSites).json().Find("items")->as_array().size() ==
        1);
  CHECK(IsUnauthorized(w.Call(t, "GET", kSites)));  // the old secret
  CHECK(w.Call(again, "POST", kSites, R"({"name":"After"})").status == 201);
  // Uninstalling an app that was never installed is not a way in.
  Response unknown =
      w.Lifecycle("uninstalled", "client-never", "whatever-0123456789");
  CHECK(unknown.status >= 400);
}

}  // namespace
}  // namespace siteledger::e2e
