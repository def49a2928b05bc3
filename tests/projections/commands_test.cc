#include "projections/commands.h"

// RAND_set_rand_method is deprecated in OpenSSL 3 but still honoured: the
// one way to make the system's random generator fail on demand.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/rand.h>

#include <catch2/catch.hpp>
#include <set>

namespace siteledger::projections {
namespace {

TEST_CASE("NewId gives a prefix and sixteen hex digits, never twice",
          "[commands]") {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = NewId("s_");
    REQUIRE(id.has_value());
    REQUIRE(id->size() == 18);
    CHECK(id->starts_with("s_"));
    CHECK(id->find_first_not_of("0123456789abcdef", 2) == std::string::npos);
    CHECK(seen.insert(*id).second);
  }
}

// Regression: a failed generator used to give "s_0000000000000000", so two
// failures gave two entities one id.
TEST_CASE(
    "Creating an entity fails, rather than reuse an id, when randomness fails",
    "[commands]") {
  static const RAND_METHOD kFailing = {
      nullptr,                                // seed
      [](unsigned char*, int) { return 0; },  // bytes
      nullptr,                                // cleanup
      nullptr,                                // add
      [](unsigned char*, int) { return 0; },  // pseudorand
      [] { return 0; },                       // status
  };
  const RAND_METHOD* original = RAND_get_rand_method();
  REQUIRE(RAND_set_rand_method(&kFailing) == 1);
  auto id = NewId("s_");
  TenantState views;
  Command create;
  create.type = CommandType::kCreateSite;
  auto body = ParseJson(R"({"name":"Intranet"})");
  REQUIRE(body.has_value());
  create.body = std::move(*body);
  auto decision = Decide(create, views, DecideContext{});
  REQUIRE(RAND_set_rand_method(original) == 1);

  REQUIRE_FALSE(id.has_value());
  CHECK(id.error().code() == StatusCode::kInternal);
  REQUIRE_FALSE(decision.has_value());
  CHECK(decision.error().code() == StatusCode::kInternal);
  CHECK(NewId("s_").has_value());  // and recovers with the generator
}

}  // namespace
}  // namespace siteledger::projections
