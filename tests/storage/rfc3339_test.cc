#include "storage/base/rfc3339.h"

#include <catch2/catch.hpp>

namespace siteledger::storage {
namespace {

TEST_CASE("RFC 3339 times format in UTC with milliseconds and Z", "[rfc3339]") {
  CHECK(FormatRfc3339(TimestampFromMillis(0)) == "1970-01-01T00:00:00.000Z");
  CHECK(FormatRfc3339(TimestampFromMillis(1'795'640'400'123)) ==
        "2026-11-25T21:00:00.123Z");
  CHECK(FormatRfc3339(TimestampFromMillis(951'782'400'000)) ==
        "2000-02-29T00:00:00.000Z");
}

TEST_CASE("RFC 3339 times parse, offsets converted to UTC", "[rfc3339]") {
  CHECK(MillisOf(*ParseRfc3339("2026-11-25T21:00:00Z")) == 1'795'640'400'000);
  CHECK(MillisOf(*ParseRfc3339("2026-11-25T21:00:00.123Z")) ==
        1'795'640'400'123);
  CHECK(MillisOf(*ParseRfc3339("2026-11-25T22:00:00.5+01:00")) ==
        1'795'640'400'500);
  CHECK(MillisOf(*ParseRfc3339("2026-11-25t20:30:00-00:30")) ==
        1'795'640'400'000);
  CHECK(MillisOf(*ParseRfc3339("2026-11-25T21:00:00.123999Z")) ==
        1'795'640'400'123);
  for (int64_t ms : {0LL, 1LL, 1'795'640'400'123LL, 4'102'444'800'000LL}) {
    CHECK(MillisOf(*ParseRfc3339(FormatRfc3339(TimestampFromMillis(ms)))) ==
          ms);
  }
}

TEST_CASE("Malformed RFC 3339 times are refused with a reason", "[rfc3339]") {
  for (const char* bad :
       {"", "2026-11-25", "2026-11-25T21:00:00", "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z", "2026-11-25T24:00:00Z", "2026-11-25T21:00Z",
        "2026-11-25T21:00:00.Z", "2026-11-25T21:00:00Zjunk",
        "2026-11-25T21:00:00+0100", "yesterday"}) {
    auto parsed = ParseRfc3339(bad);
    INFO(bad);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().code() == StatusCode::kInvalidArgument);
    CHECK(parsed.error().message().find("RFC 3339") != std::string::npos);
  }
}

}  // namespace
}  // namespace siteledger::storage
