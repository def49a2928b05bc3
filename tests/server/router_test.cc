#include "server/router.h"

#include <catch2/catch.hpp>

#include "server/cidr.h"
#include "server/config.h"

namespace siteledger::server {
namespace {

TEST_CASE("Routes match literal segments and decode parameters", "[router]") {
  Router r;
  r.Add("GET", "/api/v1/sites", 1, Access::kTenant);
  r.Add("GET", "/api/v1/sites/{id}", 2, Access::kTenant);
  r.Add("PATCH", "/api/v1/sites/{id}", 3, Access::kTenant);
  r.Add("PUT", "/api/v1/search/promoted/{keyword}", 4, Access::kTenant);

  auto m = r.Match("GET", "/api/v1/sites/s_1");
  REQUIRE(m.route != nullptr);
  CHECK(m.route->handler == 2);
  CHECK(m.params.at("id") == "s_1");
  CHECK(r.Match("HEAD", "/api/v1/sites").route != nullptr);

  auto kw = r.Match("PUT", "/api/v1/search/promoted/pay%20day");
  REQUIRE(kw.route != nullptr);
  CHECK(kw.params.at("keyword") == "pay day");

  SECTION("a known path with another method is 405 with Allow") {
    auto wrong = r.Match("DELETE", "/api/v1/sites/x");
    CHECK(wrong.route == nullptr);
    CHECK(wrong.path_known);
    CHECK(wrong.allow == "GET, HEAD, PATCH");
  }
  SECTION("unknown paths, empty and encoded-slash segments match nothing") {
    CHECK_FALSE(r.Match("GET", "/api/v1/sites/x/y").path_known);
    CHECK_FALSE(r.Match("GET", "/api/v1/sites/").path_known);
    CHECK_FALSE(r.Match("GET", "/api/v1/sites/a%2Fb").path_known);
    CHECK_FALSE(r.Match("GET", "/api/v1/sites/%zz").path_known);
    CHECK_FALSE(r.Match("GET", "/api/v1").path_known);
  }
}

TEST_CASE("CIDRs contain their addresses and no others", "[cidr]") {
  auto v4 = Cidr::Parse("10.1.0.0/16");
  REQUIRE(v4.has_value());
  CHECK(v4->Contains("10.1.2.3"));
  CHECK_FALSE(v4->Contains("10.2.0.1"));
  CHECK(v4->Contains("::ffff:10.1.9.9"));
  CHECK_FALSE(v4->Contains("not an ip"));
  auto host = Cidr::Parse("127.0.0.1");
  REQUIRE(host.has_value());
  CHECK(host->Contains("127.0.0.1"));
  CHECK_FALSE(host->Contains("127.0.0.2"));
  auto v6 = Cidr::Parse("fd00::/8");
  REQUIRE(v6.has_value());
  CHECK(v6->Contains("fd12::1"));
  CHECK_FALSE(v6->Contains("fe80::1"));
  CHECK_FALSE(v6->Contains("10.1.2.3"));
  CHECK_FALSE(Cidr::Parse("10.0.0.0/33").has_value());
  CHECK_FALSE(Cidr::Parse("10.0.0/8").has_value());
}

TEST_CASE("Flags parse with defaults and refuse nonsense", "[config]") {
  auto none = ParseFlags({});
  REQUIRE(none.has_value());
  CHECK(none->region == "us");
  CHECK(none->data == "data/us");
  CHECK(none->http.address == "127.0.0.1");
  CHECK(none->http.port == 8080);

  auto set = ParseFlags({"--region", "eu", "--listen=0.0.0.0:9000", "--threads",
                         "4", "--base-url", "https://app.example.com/",
                         "--trusted-proxy", "10.0.0.0/8"});
  REQUIRE(set.has_value());
  CHECK(set->data == "data/eu");
  CHECK(set->http.port == 9000);
  CHECK(set->http.threads == 4);
  CHECK(set->base_url == "https://app.example.com");
  REQUIRE(set->trusted_proxies.size() == 1);

  CHECK(ParseFlags({"--nope"}).error().message().find("unknown flag") !=
        std::string::npos);
  CHECK_FALSE(ParseFlags({"--region", "EU"}).has_value());
  CHECK_FALSE(ParseFlags({"--listen", "nowhere"}).has_value());
  CHECK_FALSE(ParseFlags({"--threads", "0"}).has_value());
  CHECK_FALSE(ParseFlags({"--trusted-proxy", "10/8"}).has_value());
  CHECK_FALSE(ParseFlags({"--base-url", "ftp://x"}).has_value());
  CHECK_FALSE(ParseFlags({"--data"}).has_value());
  CHECK(ParseFlags({"--help"})->help);
}

}  // namespace
}  // namespace siteledger::server
