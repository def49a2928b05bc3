#include "server/jwt.h"

#include <catch2/catch.hpp>

namespace siteledger::server {
namespace {

TEST_CASE("qsh matches the examples of the Connect specification", "[jwt]") {
  CHECK(CanonicalRequest("GET", "/path", "") == "GET&/path&");
  CHECK(QueryStringHash("GET", "/path", "") ==
        "799be84a7fa35570087163c0cd9af3abff7ac05c2c12ba0bb1d7eebc984b3ac2");
  const std::string query =
      "zee_last=param&repeated=parameter%201&first=param&repeated=parameter%"
      "202";
  CHECK(CanonicalRequest("GET", "/path/to/service", query) ==
        "GET&/path/to/service&first=param&repeated=parameter%201,parameter%"
        "202&zee_last=param");
  CHECK(QueryStringHash("GET", "/path/to/service", query) ==
        "e52bb281606c3bd9ca16cfe96fe2df78f5d9ffa126f06befd750dfa10fa1a897");
}

TEST_CASE("The canonical request follows every rule", "[jwt]") {
  SECTION("method upper-cased, trailing slash dropped, empty path is /") {
    CHECK(CanonicalRequest("post", "/a/b/", "") == "POST&/a/b&");
    CHECK(CanonicalRequest("GET", "", "") == "GET&/&");
    CHECK(CanonicalRequest("GET", "/", "") == "GET&/&");
  }
  SECTION("the base URL's path is dropped") {
    CHECK(CanonicalRequest("GET", "/app/api/v1/sites", "", "/app") ==
          "GET&/api/v1/sites&");
  }
  SECTION("& in the path is escaped") {
    CHECK(CanonicalRequest("GET", "/a&b", "") == "GET&/a%26b&");
  }
  SECTION("jwt is dropped, + is a space, * and ~ and empty values") {
    CHECK(CanonicalRequest("GET", "/p", "jwt=abc&b=x+y&a=*~&c") ==
          "GET&/p&a=%2A~&b=x%20y&c=");
  }
  SECTION("names are encoded and sorted") {
    CHECK(CanonicalRequest("GET", "/p", "z%20z=1&%C3%A9=2&A=3") ==
          "GET&/p&A=3&z%20z=1&%C3%A9=2");
  }
}

TEST_CASE("Base64url round-trips without padding", "[jwt]") {
  for (std::string s : std::initializer_list<std::string>{
           "", "f", "fo", "foo", "foob", "fooba", "foobar",
           std::string("\xff\xfe\x00\x01", 4)}) {
    const std::string encoded = Base64UrlEncode(s);
    CHECK(encoded.find('=') == std::string::npos);
    CHECK(*Base64UrlDecode(encoded) == s);
  }
  CHECK(Base64UrlEncode("\xfb\xff") == "-_8");
  CHECK_FALSE(Base64UrlDecode("a").has_value());
  CHECK_FALSE(Base64UrlDecode("ab$d").has_value());
}

TEST_CASE("HS256 tokens verify only with their secret", "[jwt]") {
  Json claims = Json::MakeObject();
  claims.Set("iss", "client");
  claims.Set("exp", 1);
  const std::string token = SignHs256(claims, "secret");
  auto jwt = ParseJwt(token);
  REQUIRE(jwt.has_value());
  CHECK(jwt->alg() == "HS256");
  CHECK(jwt->claims.GetString("iss") == "client");
  CHECK(VerifyHs256(*jwt, "secret").ok());
  CHECK(VerifyHs256(*jwt, "other").code() ==
        siteledger::StatusCode::kUnauthenticated);
  std::string tampered = token;
  tampered[tampered.find('.') + 2] ^= 1;
  auto bad = ParseJwt(tampered);
  if (bad) CHECK_FALSE(VerifyHs256(*bad, "secret").ok());
}

TEST_CASE("Malformed tokens are refused with a reason", "[jwt]") {
  CHECK(ParseJwt("").error().message().find("three") != std::string::npos);
  CHECK(ParseJwt("a.b").error().code() ==
        siteledger::StatusCode::kUnauthenticated);
  CHECK_FALSE(ParseJwt("a.b.c.d").has_value());
  CHECK_FALSE(
      ParseJwt(Base64UrlEncode("[]") + "." + Base64UrlEncode("{}") + ".sig")
          .has_value());
  CHECK_FALSE(ParseJwt(std::string(9000, 'a')).has_value());
}

}  // namespace
}  // namespace siteledger::server

namespace siteledger::server {
namespace {

Jwt WithClaims(std::string_view claims) {
  Jwt jwt;
  jwt.claims = *projections::ParseJson(claims);
  return jwt;
}

TEST_CASE(
    "CheckTokenTimes refuses tokens not yet valid, too long-lived or "
    "with times out of range",
    "[jwt]") {
  const Timestamp now = TimestampFromMillis(int64_t{1'790'000'000} * 1000);
  const int64_t s = 1'790'000'000;
  auto check = [&](const std::string& claims) {
    return CheckTokenTimes(WithClaims(claims), now);
  };
  auto at = [&](int64_t exp, int64_t iat) {
    return R"({"exp":)" + std::to_string(exp) + R"(,"iat":)" +
           std::to_string(iat) + "}";
  };
  auto ok = check(at(s + 180, s));
  REQUIRE(ok.has_value());
  CHECK(*ok == now + std::chrono::seconds(180));
  CHECK(check(at(s + 3600, s)).has_value());        // an hour is allowed
  CHECK(check(at(s + 20, s + 10)).has_value());     // iat within the leeway
  CHECK_FALSE(check(at(s + 3700, s)).has_value());  // over an hour
  CHECK_FALSE(check(at(s + 900, s + 600)).has_value());     // iat ahead
  CHECK_FALSE(check(at(s - 60, s - 240)).has_value());      // expired
  CHECK_FALSE(check(R"({"iat":1790000000})").has_value());  // no exp
  CHECK_FALSE(check(R"({"exp":"soon"})").has_value());
  // Without iat the lifetime counts from now.
  CHECK(check(R"({"exp":)" + std::to_string(s + 600) + "}").has_value());
  CHECK_FALSE(
      check(R"({"exp":)" + std::to_string(s + 86400) + "}").has_value());
  // nbf in the future.
  CHECK_FALSE(check(R"({"exp":)" + std::to_string(s + 60) + R"(,"nbf":)" +
                    std::to_string(s + 600) + "}")
                  .has_value());
  // Times whose milliseconds would overflow are refused, not wrapped.
  CHECK_FALSE(check(R"({"exp":9223372036854775807})").has_value());
  CHECK_FALSE(check(R"({"exp":-9223372036854775807})").has_value());
  CHECK_FALSE(check(at(s + 60, -1)).has_value());
}

}  // namespace
}  // namespace siteledger::server
