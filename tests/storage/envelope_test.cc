#include "storage/envelope.h"

#include <catch2/catch.hpp>

#include "storage/crypto.h"

namespace siteledger::storage {
namespace {

Event Sample() {
  Event e;
  e.seq = Sequence(7);
  e.time = TimestampFromMillis(1'795'640'400'123);
  e.type = "site.created";
  e.actor = "p-abc";
  e.idempotency_key = "retry-1";
  e.prev_hash = Sha256("previous");
  e.payload = R"({"name":"Intranet"})";
  return e;
}

TEST_CASE("The canonical envelope round-trips every field", "[envelope]") {
  const Event e = Sample();
  auto decoded = DecodeCanonical(EncodeCanonical(e));
  REQUIRE(decoded.has_value());
  CHECK(*decoded == e);
}

TEST_CASE("The canonical envelope has a fixed, documented layout",
          "[envelope]") {
  const std::string bytes = EncodeCanonical(Sample());
  CHECK(static_cast<uint8_t>(bytes[0]) == 1);                         // version
  CHECK(bytes.substr(1, 8) == std::string("\0\0\0\0\0\0\0\x07", 8));  // seq
  CHECK(bytes.size() == 1 + 8 + 8 + 2 + 12 + 2 + 5 + 2 + 7 + 32 + 4 + 19);
  CHECK(HashOf(Sample()) == Sha256(bytes));
}

TEST_CASE("Every field of an event changes its hash", "[envelope]") {
  const Hash base = HashOf(Sample());
  Event e = Sample();
  e.seq = Sequence(8);
  CHECK(HashOf(e) != base);
  e = Sample();
  e.time += std::chrono::milliseconds(1);
  CHECK(HashOf(e) != base);
  e = Sample();
  e.type = "site.renamed";
  CHECK(HashOf(e) != base);
  e = Sample();
  e.actor = "p-abd";
  CHECK(HashOf(e) != base);
  e = Sample();
  e.idempotency_key.clear();
  CHECK(HashOf(e) != base);
  e = Sample();
  e.prev_hash[0] ^= 1;
  CHECK(HashOf(e) != base);
  e = Sample();
  e.payload += " ";
  CHECK(HashOf(e) != base);
}

TEST_CASE("Truncated or foreign envelopes are Corruption", "[envelope]") {
  const std::string bytes = EncodeCanonical(Sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto decoded = DecodeCanonical(bytes.substr(0, n));
    REQUIRE_FALSE(decoded.has_value());
    CHECK(decoded.error().code() == StatusCode::kCorruption);
  }
  CHECK_FALSE(DecodeCanonical(bytes + "x").has_value());
  std::string other_version = bytes;
  other_version[0] = 9;
  CHECK_FALSE(DecodeCanonical(other_version).has_value());
}

TEST_CASE("Event parts are validated with messages that name the part",
          "[envelope]") {
  CHECK(ValidateEventParts("site.created", "p-1", "", "{}").ok());
  CHECK(ValidateEventParts("", "", "", "").message().find("event type") !=
        std::string::npos);
  CHECK(ValidateEventParts("Site Created", "", "", "").code() ==
        StatusCode::kInvalidArgument);
  CHECK(ValidateEventParts(std::string(65, 'a'), "", "", "").code() ==
        StatusCode::kInvalidArgument);
  CHECK(ValidateEventParts("a", "has space", "", "").message().find("actor") !=
        std::string::npos);
  CHECK(ValidateEventParts("a", "", std::string(129, 'k'), "")
            .message()
            .find("idempotency key") != std::string::npos);
  CHECK(ValidateEventParts("a", "", "", std::string(kMaxPayloadBytes + 1, 'x'))
            .code() == StatusCode::kTooLarge);
}

}  // namespace
}  // namespace siteledger::storage
