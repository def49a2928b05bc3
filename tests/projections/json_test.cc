#include "projections/json.h"

#include <catch2/catch.hpp>

namespace siteledger::projections {
namespace {

TEST_CASE("JSON parses into a canonical value with sorted keys", "[json]") {
  auto j = ParseJson(R"({"b":1,"a":[true,null,"x\n\u00e9"],"c":{"z":-5}})");
  REQUIRE(j.has_value());
  CHECK(j->Dump() ==
        "{\"a\":[true,null,\"x\\n\xc3\xa9\"],\"b\":1,\"c\":{\"z\":-5}}");
  CHECK(j->GetInt("b") == 1);
  CHECK(j->Find("c")->GetInt("z") == -5);
  CHECK(j->Find("missing") == nullptr);
  // Equal values write equal bytes whatever the input order.
  CHECK(ParseJson(R"({"c":{"z":-5},"b":1,"a":[true,null,"x\né"]})")->Dump() ==
        j->Dump());
}

TEST_CASE("Objects built in code stay sorted and unique", "[json]") {
  Json o = Json::MakeObject();
  o.Set("zeta", 1);
  o.Set("alpha", "a");
  o.Set("mid", Json::MakeArray());
  o.Set("alpha", "b");
  CHECK(o.Dump() == R"({"alpha":"b","mid":[],"zeta":1})");
  CHECK(o.Erase("mid"));
  CHECK_FALSE(o.Erase("mid"));
  CHECK(o.Dump() == R"({"alpha":"b","zeta":1})");
}

TEST_CASE("Control characters are escaped on output", "[json]") {
  Json s(std::string("a\"b\\c\x01", 6));
  CHECK(s.Dump() == "\"a\\\"b\\\\c\\u0001\"");
}

TEST_CASE("Malformed and hostile JSON is refused with the path at fault",
          "[json]") {
  auto refused = [](std::string_view text, JsonLimits limits = {}) {
    auto j = ParseJson(text, limits);
    REQUIRE_FALSE(j.has_value());
    return j.error();
  };
  CHECK(refused("{").message().find("malformed JSON") != std::string::npos);
  CHECK(refused("").message().find("empty") != std::string::npos);
  CHECK(refused("{\"a\":\"\xff\xfe\"}").message().find("UTF-8") !=
        std::string::npos);
  CHECK(refused(R"({"a":1,"a":2})").message() == "$.a: duplicate key");
  CHECK(refused(R"({"n":1.5})").message() == "$.n: expected a whole number");
  CHECK(refused(R"({"n":1e3})").message() == "$.n: expected a whole number");
  CHECK(refused(R"({"n":18446744073709551615})").message() ==
        "$.n: number too large");

  JsonLimits small;
  small.max_depth = 3;
  small.max_string_bytes = 5;
  small.max_array_items = 2;
  small.max_object_members = 2;
  small.max_bytes = 100;
  CHECK(refused(R"({"a":{"b":{"c":{}}}})", small).message() ==
        "$.a.b.c: nested deeper than 3 levels");
  CHECK(refused(R"({"a":"toolong"})", small).message() ==
        "$.a: string longer than 5 bytes");
  CHECK(refused(R"({"a":[1,2,3]})", small).message() ==
        "$.a: array longer than 2 items");
  CHECK(refused(R"({"a":1,"b":2,"c":3})", small).message() ==
        "$: object with more than 2 members");
  const Status too_big = refused(std::string(101, ' '), small);
  CHECK(too_big.code() == siteledger::StatusCode::kTooLarge);
}

}  // namespace
}  // namespace siteledger::projections
