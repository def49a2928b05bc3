#include "storage/crypto.h"

#include <catch2/catch.hpp>

namespace siteledger::storage {
namespace {

TEST_CASE("Sha256 and HMAC match the published test vectors", "[crypto]") {
  CHECK(ToHex(Sha256("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231, test case 2.
  CHECK(ToHex(HmacSha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  Sha256Hasher h;
  h.Update("a");
  h.Update("bc");
  CHECK(h.Finish() == Sha256("abc"));
}

TEST_CASE("Hex round-trips and refuses bad digits", "[crypto]") {
  CHECK(ToHex(std::string("\x00\xff\x10", 3)) == "00ff10");
  CHECK(*FromHex("00FF10") == std::string("\x00\xff\x10", 3));
  CHECK_FALSE(FromHex("abc").has_value());
  CHECK_FALSE(FromHex("zz").has_value());
}

TEST_CASE("ConstantTimeEquals compares contents and lengths", "[crypto]") {
  CHECK(ConstantTimeEquals("secret", "secret"));
  CHECK_FALSE(ConstantTimeEquals("secret", "secreT"));
  CHECK_FALSE(ConstantTimeEquals("secret", "secret!"));
  CHECK(ConstantTimeEquals("", ""));
}

TEST_CASE("A sealed value opens only with its key and associated data",
          "[crypto]") {
  auto key = AeadKey::Generate();
  REQUIRE(key.has_value());
  auto other = AeadKey::Generate();
  REQUIRE(other.has_value());
  auto sealed = key->Seal("layout body", "row-1");
  REQUIRE(sealed.has_value());
  CHECK(sealed->size() ==
        std::string("layout body").size() + AeadKey::kOverhead);
  CHECK(sealed->find("layout body") == std::string::npos);

  CHECK(*key->Open(*sealed, "row-1") == "layout body");
  SECTION("another key") {
    auto opened = other->Open(*sealed, "row-1");
    REQUIRE_FALSE(opened.has_value());
    CHECK(opened.error().code() == StatusCode::kCorruption);
  }
  SECTION("other associated data") {
    CHECK_FALSE(key->Open(*sealed, "row-2").has_value());
  }
  SECTION("a flipped byte anywhere") {
    for (size_t i = 0; i < sealed->size(); ++i) {
      std::string bad = *sealed;
      bad[i] ^= 0x01;
      CHECK_FALSE(key->Open(bad, "row-1").has_value());
    }
  }
  SECTION("truncated") {
    CHECK_FALSE(key->Open(sealed->substr(0, 10), "row-1").has_value());
  }
  SECTION("two seals of the same value differ (fresh nonces)") {
    CHECK(*key->Seal("layout body", "row-1") != *sealed);
  }
}

TEST_CASE("An empty plaintext seals and opens", "[crypto]") {
  auto key = AeadKey::Generate();
  REQUIRE(key.has_value());
  auto sealed = key->Seal("", "");
  REQUIRE(sealed.has_value());
  CHECK(key->Open(*sealed, "")->empty());
}

}  // namespace
}  // namespace siteledger::storage
