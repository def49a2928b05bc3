// The key file of a backup (storage/backup.h): it round-trips every row,
// opens only under the master key it was sealed with, and refuses any byte
// changed, header included.

#include "storage/backup.h"

#include <catch2/catch.hpp>

#include "tests/common/temp_dir.h"

namespace siteledger::storage {
namespace {

TEST_CASE(
    "A backup's key file round-trips its rows and refuses another master key "
    "and any altered byte",
    "[backup]") {
  testing::TempDir dir;
  auto master = MasterKey::LoadOrCreate(dir.path() / "master-us.key");
  REQUIRE(master);
  auto other = MasterKey::LoadOrCreate(dir.path() / "master-eu.key");
  REQUIRE(other);
  std::vector<KeyStore::Row> rows = {
      {std::string("\0\0\0\0\0\0\0\1", 8), std::string("\x01wrapped-key-1")},
      {std::string("\0\0\0\0\0\0\0\2", 8), std::string("\x02")},
      {"siteledger database identity", std::string(32, 'i')},
  };
  const Timestamp made = TimestampFromMillis(1795848187796);
  auto sealed = SealKeyBackup(rows, 7, made, *master);
  REQUIRE(sealed);
  // No key material in the clear.
  CHECK(sealed->find("wrapped-key-1") == std::string::npos);

  auto opened = OpenKeyBackup(*sealed, *master);
  REQUIRE(opened);
  CHECK(opened->backup_id == 7);
  CHECK(MillisOf(opened->created_at) == 1795848187796);
  REQUIRE(opened->rows.size() == rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    CHECK(opened->rows[i].key == rows[i].key);
    CHECK(opened->rows[i].value == rows[i].value);
  }

  auto wrong = OpenKeyBackup(*sealed, *other);
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().message().find("master key") != std::string::npos);

  // Every byte matters: the magic, the header (authenticated as associated
  // data), the ciphertext and the tag.
  for (size_t i = 0; i < sealed->size(); i += 5) {
    std::string altered = *sealed;
    altered[i] = static_cast<char>(altered[i] ^ 0x20);
    INFO("byte " << i);
    CHECK_FALSE(OpenKeyBackup(altered, *master));
  }
  CHECK_FALSE(OpenKeyBackup(sealed->substr(0, sealed->size() - 1), *master));
  CHECK_FALSE(OpenKeyBackup("", *master));
}

}  // namespace
}  // namespace siteledger::storage
