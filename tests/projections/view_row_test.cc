#include "projections/view_row.h"

#include <catch2/catch.hpp>

namespace siteledger::projections {
namespace {

TEST_CASE("A view row is its version big-endian, then its canonical JSON",
          "[view_row]") {
  auto doc = ParseJson(R"({"name":"A","id":"s"})");
  REQUIRE(doc.has_value());
  const std::string value =
      EncodeViewRow(ViewDoc{std::move(*doc), Sequence(0x0102)});
  // The stored format: changing it breaks every database written before.
  CHECK(value ==
        std::string("\0\0\0\0\0\0\x01\x02", 8) + R"({"id":"s","name":"A"})");

  auto split = SplitViewRow(value);
  REQUIRE(split.has_value());
  CHECK(split->version == Sequence(0x0102));
  CHECK(split->json == R"({"id":"s","name":"A"})");

  auto decoded = DecodeViewRow(value);
  REQUIRE(decoded.has_value());
  CHECK(decoded->version == Sequence(0x0102));
  CHECK(decoded->doc.GetString("name") == "A");
}

TEST_CASE("A truncated or unparsable view row is Corruption", "[view_row]") {
  CHECK(SplitViewRow(std::string(7, '\0')).error().code() ==
        StatusCode::kCorruption);
  CHECK(DecodeViewRow(std::string(7, '\0')).error().code() ==
        StatusCode::kCorruption);
  CHECK(DecodeViewRow(std::string(8, '\0') + "{").error().code() ==
        StatusCode::kCorruption);
  CHECK(ParseViewRow(Sequence(1), "not json").error().code() ==
        StatusCode::kCorruption);
}

}  // namespace
}  // namespace siteledger::projections
