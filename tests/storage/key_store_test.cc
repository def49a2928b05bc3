#include "storage/key_store.h"

#include <rocksdb/db.h>

#include <catch2/catch.hpp>

#include "tests/common/temp_dir.h"
#include "tests/storage/rig.h"

namespace siteledger::storage {
namespace {

// The value of `key` in the (closed) key store at `path`, read with RocksDB
// itself, which then flushes it into a table file, as it would be after
// weeks of uptime. REQUIREs that the row exists.
std::string RawRowFlushed(const std::filesystem::path& path,
                          const std::string& key) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Options o;
  REQUIRE(rocksdb::DB::Open(o, path.string(), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string value;
  REQUIRE(db->Get(rocksdb::ReadOptions(), key, &value).ok());
  REQUIRE(db->Flush(rocksdb::FlushOptions()).ok());
  return value;
}

TEST_CASE("A data key survives reopening and unwraps only with its master key",
          "[key_store]") {
  testing::TempDir dir;
  const MasterKey master = testing::TestMasterKey();
  std::string bytes;
  {
    auto store = KeyStore::Open(dir / "keys", master);
    REQUIRE(store.has_value());
    REQUIRE((*store)->Create(TenantId(1)).ok());
    auto key = (*store)->Get(TenantId(1));
    REQUIRE(key.has_value());
    bytes = (*key)->bytes();
    CHECK((*store)->Create(TenantId(1)).code() == StatusCode::kConflict);
  }
  {
    auto store = KeyStore::Open(dir / "keys", master);
    REQUIRE(store.has_value());
    auto key = (*store)->Get(TenantId(1));
    REQUIRE(key.has_value());
    CHECK((*key)->bytes() == bytes);
    CHECK((*store)->Get(TenantId(2)).error().code() == StatusCode::kNotFound);
  }
  {
    auto other = *MasterKey::FromBytes(std::string(32, '\x07'));
    auto store = KeyStore::Open(dir / "keys", other);
    REQUIRE(store.has_value());
    auto key = (*store)->Get(TenantId(1));
    REQUIRE_FALSE(key.has_value());
    CHECK(key.error().code() == StatusCode::kCorruption);
  }
}

TEST_CASE("A destroyed key is gone from the key store's files", "[key_store]") {
  testing::TempDir dir;
  const MasterKey master = testing::TestMasterKey();
  {
    auto store = KeyStore::Open(dir / "keys", master);
    REQUIRE(store.has_value());
    REQUIRE((*store)->Create(TenantId(5)).ok());
  }
  const std::string wrapped =
      RawRowFlushed(dir / "keys", std::string("\0\0\0\0\0\0\0\x05", 8));
  REQUIRE(wrapped.size() > 32);
  const std::string needle = wrapped.substr(1, 24);  // nonce and ciphertext
  {
    auto store = KeyStore::Open(dir / "keys", master);
    REQUIRE(store.has_value());
    REQUIRE((*store)->Destroy(TenantId(5), TimestampFromMillis(1)).ok());
    auto key = (*store)->Get(TenantId(5));
    REQUIRE_FALSE(key.has_value());
    CHECK(key.error().message().find("destroyed") != std::string::npos);
    CHECK(*(*store)->Destroyed(TenantId(5)));
    CHECK_FALSE(*(*store)->Destroyed(TenantId(6)));
    CHECK((*store)->Create(TenantId(5)).code() == StatusCode::kConflict);
  }
  // No file of the key store still holds the wrapped key's bytes.
  CHECK(testing::FilesHolding(dir / "keys", needle).empty());
}

TEST_CASE("Access-log day keys are made once, survive reopening and go by day",
          "[key_store]") {
  testing::TempDir dir;
  const MasterKey master = testing::TestMasterKey();
  std::string day10;
  {
    auto store = KeyStore::Open(dir / "keys", master);
    REQUIRE(store.has_value());
    auto none = (*store)->AccessLogKey(Day(10), /*create=*/false);
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error().code() == StatusCode::kNotFound);
    // Tenant keys and day keys live side by side without meeting.
    REQUIRE((*store)->Create(TenantId(10)).ok());
    for (uint64_t day : {10, 11, 12}) {
      REQUIRE((*store)->AccessLogKey(Day(day), /*create=*/true).has_value());
    }
    auto key = (*store)->AccessLogKey(Day(10), /*create=*/true);
    REQUIRE(key.has_value());
    day10 = (*key)->bytes();
    CHECK((*(*store)->AccessLogKey(Day(11), false))->bytes() != day10);
    CHECK((*(*store)->Get(TenantId(10)))->bytes() != day10);
    auto days = (*store)->AccessLogKeyDays(Day(12));
    REQUIRE(days.has_value());
    CHECK(*days == std::vector<Day>{Day(10), Day(11)});
  }
  const std::string wrapped =
      RawRowFlushed(dir / "keys", std::string("access-log day \0\0\0\x0a", 19));
  REQUIRE(wrapped.size() == 1 + AeadKey::kOverhead + AeadKey::kKeyBytes);
  const std::string needle = wrapped.substr(1, 24);  // nonce and ciphertext
  {
    auto other = *MasterKey::FromBytes(std::string(32, '\x07'));
    auto store = KeyStore::Open(dir / "keys", other);
    REQUIRE(store.has_value());
    auto key = (*store)->AccessLogKey(Day(10), false);
    REQUIRE_FALSE(key.has_value());
    CHECK(key.error().code() == StatusCode::kCorruption);
  }
  {
    auto store = KeyStore::Open(dir / "keys", master);
    REQUIRE(store.has_value());
    auto key = (*store)->AccessLogKey(Day(10), false);
    REQUIRE(key.has_value());
    CHECK((*key)->bytes() == day10);
    auto destroyed = (*store)->DestroyAccessLogKeysBefore(Day(12));
    REQUIRE(destroyed.has_value());
    CHECK(*destroyed == std::vector<Day>{Day(10), Day(11)});
    CHECK((*store)->AccessLogKey(Day(10), false).error().code() ==
          StatusCode::kNotFound);
    CHECK((*store)->AccessLogKey(Day(12), false).has_value());
    CHECK((*store)->Get(TenantId(10)).has_value());
    auto again = (*store)->DestroyAccessLogKeysBefore(Day(12));
    REQUIRE(again.has_value());
    CHECK(again->empty());
  }
  CHECK(testing::FilesHolding(dir / "keys", needle).empty());
}

}  // namespace
}  // namespace siteledger::storage
