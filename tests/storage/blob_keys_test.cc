#include "storage/blob_keys.h"

#include <catch2/catch.hpp>
#include <cctype>

#include "storage/crypto.h"

namespace siteledger::storage {
namespace {

TEST_CASE("A blob's row key is the raw SHA-256 its media id spells",
          "[blob_keys]") {
  const Hash h = Sha256("image bytes");
  const std::string id = ToHex(h);
  const std::string key = BlobRowKey(id);
  REQUIRE(key.size() == 32);
  CHECK(key == std::string(reinterpret_cast<const char*>(h.data()), h.size()));
  CHECK(ToHex(key) == id);
}

TEST_CASE("BlobRowKey refuses what is not a media id with an empty key",
          "[blob_keys]") {
  const std::string id = ToHex(Sha256("image bytes"));
  SECTION("too short or too long") {
    CHECK(BlobRowKey("").empty());
    CHECK(BlobRowKey(id.substr(0, 62)).empty());
    CHECK(BlobRowKey(id + "00").empty());
  }
  SECTION("not lowercase hex") {
    std::string upper = id;
    for (char& c : upper) c = static_cast<char>(std::toupper(c));
    REQUIRE(upper != id);
    CHECK(BlobRowKey(upper).empty());
    std::string bad = id;
    bad[10] = 'g';
    CHECK(BlobRowKey(bad).empty());
    bad[10] = '/';
    CHECK(BlobRowKey(bad).empty());
  }
}

}  // namespace
}  // namespace siteledger::storage
