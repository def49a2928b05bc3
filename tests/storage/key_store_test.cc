#include "storage/key_store.h"

#include <rocksdb/db.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/common/temp_dir.h"
#include "tests/storage/rig.h"

namespace siteledger::storage {
namespace {

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
  std::string wrapped;
  {
    auto store = KeyStore::Open(dir / "keys", master);
    REQUIRE(store.has_value());
    REQUIRE((*store)->Create(TenantId(5)).ok());
    // Push the key into an SST file, as it would be after weeks of uptime.
  }
  {
    rocksdb::DB* raw = nullptr;
    rocksdb::Options o;
    REQUIRE(rocksdb::DB::Open(o, (dir / "keys").string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    REQUIRE(db->Get(rocksdb::ReadOptions(),
                    std::string("\0\0\0\0\0\0\0\x05", 8), &wrapped)
                .ok());
    REQUIRE(db->Flush(rocksdb::FlushOptions()).ok());
  }
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
  for (const auto& entry : std::filesystem::directory_iterator(dir / "keys")) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)),
                        std::istreambuf_iterator<char>());
    INFO(entry.path().string());
    CHECK(content.find(needle) == std::string::npos);
  }
}

}  // namespace
}  // namespace siteledger::storage
