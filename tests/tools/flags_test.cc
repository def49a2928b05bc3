#include "tools/flags.h"

#include <catch2/catch.hpp>

namespace siteledger::tools {
namespace {

Flags Parse(std::vector<std::string> args,
            const std::vector<std::string>& booleans = {}) {
  return ParseFlags(args, 0, booleans);
}

TEST_CASE("ParseFlags reads --name value, --name=value and booleans",
          "[tools]") {
  const Flags f =
      Parse({"--tenant", "k", "--as-of=seq:3", "--json", "x"}, {"json"});
  CHECK_FALSE(f.error);
  CHECK(f.Get("tenant") == "k");
  CHECK(f.Get("as-of") == "seq:3");
  CHECK(f.Get("json") == "true");
  CHECK(f.positional == std::vector<std::string>{"x"});
  CHECK(f.Get("missing", "fallback") == "fallback");
}

TEST_CASE("Help, as --help or -h, is a boolean for every command", "[tools]") {
  for (const std::string help : {"--help", "-h"}) {
    const Flags f = Parse({help});
    CHECK_FALSE(f.error);
    CHECK(f.Has("help"));
    CHECK_FALSE(f.Unknown({}));
  }
  // Last on the line, where it used to need a value.
  const Flags f = Parse({"--tenant", "k", "--help"});
  CHECK_FALSE(f.error);
  CHECK(f.Has("help"));
}

TEST_CASE("A flag without its value names the flag", "[tools]") {
  SECTION("at the end") {
    const Flags f = Parse({"--tenant"});
    REQUIRE(f.error);
    CHECK(*f.error == "--tenant needs a value: --tenant VALUE");
  }
  SECTION("followed by another flag") {
    const Flags f = Parse({"--tenant", "--as-of", "seq:1"});
    REQUIRE(f.error);
    CHECK(f.error->find("--tenant needs a value") != std::string::npos);
    CHECK(f.Get("as-of") == "seq:1");
  }
  SECTION("a value starting with -- is written with =") {
    const Flags f = Parse({"--reason=--odd"});
    CHECK_FALSE(f.error);
    CHECK(f.Get("reason") == "--odd");
  }
}

TEST_CASE("ParseFlags refuses repeats, valued booleans and single dashes",
          "[tools]") {
  const Flags twice = Parse({"--tenant", "a", "--tenant", "b"});
  REQUIRE(twice.error);
  CHECK(*twice.error == "--tenant is given twice");
  const Flags valued = Parse({"--json=yes"}, {"json"});
  REQUIRE(valued.error);
  CHECK(valued.error->find("--json takes no value") != std::string::npos);
  const Flags off = Parse({"--json=false"}, {"json"});
  CHECK_FALSE(off.error);
  CHECK_FALSE(off.Has("json"));
  const Flags dash = Parse({"-x"});
  REQUIRE(dash.error);
  CHECK(dash.error->find("unknown option -x") != std::string::npos);
  // A negative number is a value, not an option.
  const Flags negative = Parse({"--batch", "-5"});
  CHECK_FALSE(negative.error);
  CHECK(negative.Get("batch") == "-5");
}

TEST_CASE("Flags::Unknown names the first flag not taken", "[tools]") {
  const Flags f = Parse({"--tenant", "k", "--csv"}, {"csv"});
  CHECK_FALSE(f.Unknown({"tenant", "csv"}));
  REQUIRE(f.Unknown({"tenant"}));
  CHECK(*f.Unknown({"tenant"}) == "--csv");
}

}  // namespace
}  // namespace siteledger::tools
