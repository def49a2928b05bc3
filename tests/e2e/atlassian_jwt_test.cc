// Tokens made by Atlassian's own JWT library (npm atlassian-jwt) are
// accepted: the server's query string hash agrees with theirs.

#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

// Atlassian's own JWT library, in the prefix E2E_NODE_PREFIX itself.
std::string NodePrefix() {
  return NpmPrefix("", "atlassian-jwt@2", "atlassian-jwt");
}

TEST_CASE(
    "Requests signed by Atlassian's atlassian-jwt library are accepted, tricky "
    "query strings included",
    "[e2e]") {
  const std::string prefix = NodePrefix();
  const std::string script =
      std::string(E2E_SOURCE_DIR) + "/atlassian_jwt_client.js";
  World w;
  Tenant t = w.Install("client-atlassian-jwt");
  REQUIRE(w.Call(t, "PUT", "/api/v1/search/promoted/HR%20Portal",
                 R"({"results":[{"contentId":"1"}]})")
              .status == 200);

  struct Case {
    std::string method, target, body;
    long status;
  };
  const std::vector<Case> cases = {
      // Repeated names (sorted values), '+' and %20 for spaces, '*' and
      // '~' raw and encoded, UTF-8 (two-, three- and four-byte), an empty
      // value, a name without '=', encoded '&', '=' and ',', upper case
      // names, a name that needs encoding, and an RFC 3339 time.
      {"GET",
       "/api/v1/sites?limit=50&tag=b&tag=a&tag=a%20b&q=hello+world&star=*"
       "&tilde=~home&tilde2=%7Euser&uni=%C3%A9t%C3%A9%20%E6%97%A5%E6%9C%AC"
       "&emoji=%F0%9F%98%80&empty=&flag&amp=%26&eq=a%3Db&comma=a%2Cb"
       "&Upper=X&na%20me=v&as_of=2999-01-01T00:00:00Z",
       "", 200},
      {"GET", "/api/v1/search/promoted/HR%20Portal?x=%2a&x=%2A&y=%7e", "", 200},
      {"GET", "/api/v1/events?limit=10&after=0", "", 200},
      {"POST", "/api/v1/sites?list=2&list=10&note=x%2By",
       R"({"name":"Signed by atlassian-jwt"})", 201},
  };
  for (const Case& c : cases) {
    INFO(c.method << " " << c.target);
    auto [code, out] = RunProgram({"node", script, prefix, w.server->base_url(),
                                   c.method, c.target, t.client_key, t.secret,
                                   "5b10ac8d82e05b22cc7d4ef5", c.body});
    INFO(out);
    REQUIRE(code == 0);
    const Json result = ParseOrFail(out);
    // The same canonical request on both sides.
    const size_t q = c.target.find('?');
    CHECK(result.GetString("canonical") ==
          server::CanonicalRequest(c.method, c.target.substr(0, q),
                                   c.target.substr(q + 1)));
    CHECK(result.GetInt("status") == c.status);
  }
  // The POST made a site.
  Response sites = w.Call(t, "GET", "/api/v1/sites");
  REQUIRE(sites.status == 200);
  REQUIRE(sites.json().Find("items")->as_array().size() == 1);
  CHECK(sites.json().Find("items")->as_array()[0].GetString("name") ==
        "Signed by atlassian-jwt");

  // And the library's token with a wrong secret is refused.
  auto [code, out] = RunProgram({"node", script, prefix, w.server->base_url(),
                                 "GET", "/api/v1/sites?a=1", t.client_key,
                                 "not-the-secret-0123456789"});
  INFO(out);
  REQUIRE(code == 0);
  CHECK(ParseOrFail(out).GetInt("status") == 401);
}

}  // namespace
}  // namespace siteledger::e2e
