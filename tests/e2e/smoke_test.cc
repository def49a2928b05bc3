#include <catch2/catch.hpp>

#include "tests/e2e/harness.h"

namespace siteledger::e2e {
namespace {

TEST_CASE("A signed install, then a site created and read back", "[e2e]") {
  World w;
  Tenant t = w.Install("client-smoke");
  Response created =
      w.Call(t, "POST", "/api/v1/sites", R"({"name":"Intranet"})");
  INFO(created.body);
  REQUIRE(created.status == 201);
  const Json site = created.json();
  const std::string id(site.GetString("id"));
  CHECK(created.header("location") == "/api/v1/sites/" + id);
  // The version is the seq of the last event that changed the site (the
  // request also recorded its user, once a day, as an event of its own).
  const std::string etag = "\"" + std::to_string(site.GetInt("version")) + "\"";
  CHECK(created.header("etag") == etag);
  Response got = w.Call(t, "GET", "/api/v1/sites/" + id);
  REQUIRE(got.status == 200);
  CHECK(got.json().GetString("name") == "Intranet");
  CHECK(got.header("etag") == etag);
  CHECK(w.keys.requests() == 1);
}

}  // namespace
}  // namespace siteledger::e2e
