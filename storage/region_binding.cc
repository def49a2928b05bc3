#include "storage/internal/region_binding.h"

#include <rocksdb/db.h>

#include <optional>
#include <string>

#include "storage/base/coding.h"
#include "storage/crypto.h"
#include "storage/internal/database.h"
#include "storage/internal/keys.h"

namespace siteledger::storage::internal {
namespace {

constexpr uint8_t kIdentityFormat = 1;
constexpr size_t kIdentityValueBytes = 1 + KeyStore::kIdentityBytes + 32;

std::string IdentityRowKey() {
  return TenantRowKey(kRegistryTenant, TenantRow::kIdentity);
}

// A value that only the right master key computes for this identity, and
// that reveals nothing of the key.
std::string CheckValue(const MasterKey& master, std::string_view identity) {
  std::string message = "siteledger master key check";
  message += identity;
  const Hash h = HmacSha256(master.Derive("database-check"), message);
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

Status WrongMasterKey(const RegionPaths& paths, std::string_view why) {
  return Status::InvalidArgument(
      "the master key in " + paths.master_key_file.string() +
      " is not the key of the database at " + paths.data.string() + " (" +
      std::string(why) +
      "); start with the master key file this database was created with");
}

Status ForeignKeyStore(const RegionPaths& paths, std::string_view why) {
  return Status::InvalidArgument(
      "the key store at " + paths.key_store.string() +
      " does not belong to the database at " + paths.data.string() + " (" +
      std::string(why) +
      "); start with the key store that was created with this database");
}

// Before binding an existing database: the master key must open a tenant's
// record, and the key store must hold the key of a tenant not purged.
Status CheckUnboundTenants(KeyStore& keys, const TenantRegistry& registry,
                           const RegionPaths& paths) {
  TenantId after(0);
  for (;;) {
    auto page = registry.List(after, 100);
    if (!page) {
      if (page.error().code() == StatusCode::kCorruption) {
        return WrongMasterKey(paths, page.error().message());
      }
      return page.error();
    }
    if (page->empty()) return Status::Ok();  // every tenant purged
    for (const TenantRecord& record : *page) {
      if (record.state == LifecycleState::kPurged ||
          record.residency.state == ResidencyState::kGone) {
        continue;  // its key was destroyed with its data
      }
      auto key = keys.Get(record.id);
      if (key) return Status::Ok();
      if (key.error().code() == StatusCode::kNotFound ||
          key.error().code() == StatusCode::kCorruption) {
        return ForeignKeyStore(paths, "tenant " +
                                          std::to_string(record.id.value()) +
                                          ": " + key.error().message());
      }
      return key.error();
    }
    after = page->back().id;
  }
}

}  // namespace

Result<bool> HasTenants(Database& database) {
  std::unique_ptr<rocksdb::Iterator> it(database.db()->NewIterator(
      rocksdb::ReadOptions(), database.cf(Family::kTenants)));
  it->Seek(TenantPrefix(TenantId(1)));
  const bool any = it->Valid();
  SL_RETURN_ERR_IF_ERROR(FromRocks(it->status(), "reading tenants"));
  return any;
}

Status BindRegion(Database& database, KeyStore& keys, const MasterKey& master,
                  const TenantRegistry& registry, const RegionPaths& paths,
                  bool check_only) {
  auto has_tenants = HasTenants(database);
  if (!has_tenants) return has_tenants.error();
  auto stored_keys_identity = keys.Identity();
  if (!stored_keys_identity) return stored_keys_identity.error();
  const std::optional<std::string>& keys_identity = *stored_keys_identity;

  auto row = database.Get(Family::kTenants, IdentityRowKey());
  if (row) {
    if (row->size() != kIdentityValueBytes ||
        static_cast<uint8_t>((*row)[0]) != kIdentityFormat) {
      return Status::Corruption("the database at " + paths.data.string() +
                                " has a malformed identity row");
    }
    const std::string identity = row->substr(1, KeyStore::kIdentityBytes);
    const std::string_view check =
        std::string_view(*row).substr(1 + KeyStore::kIdentityBytes);
    if (!ConstantTimeEquals(check, CheckValue(master, identity))) {
      return WrongMasterKey(paths, "its check value does not match");
    }
    if (keys_identity) {
      if (*keys_identity != identity) {
        return ForeignKeyStore(
            paths, "its database identity is " + ToHex(*keys_identity) +
                       ", the database's is " + ToHex(identity));
      }
      return Status::Ok();
    }
    if (*has_tenants) {
      return ForeignKeyStore(
          paths,
          "it holds no database identity, but the database has tenants whose "
          "data keys only their own key store holds");
    }
    if (check_only) return Status::Ok();
    return keys.SetIdentity(identity);  // no tenant: nothing can be lost
  }
  if (row.error().code() != StatusCode::kNotFound) return row.error();

  // A new database, or one written before identities: bind it now.
  if (*has_tenants) {
    SL_RETURN_IF_ERROR(CheckUnboundTenants(keys, registry, paths));
  }
  if (check_only) return Status::Ok();
  std::string identity;
  if (keys_identity) {
    identity = *keys_identity;  // a first open that stopped half-way
  } else {
    auto fresh = RandomBytes(KeyStore::kIdentityBytes);
    if (!fresh) return fresh.error();
    identity = std::move(*fresh);
    SL_RETURN_IF_ERROR(keys.SetIdentity(identity));
  }
  std::string value;
  coding::PutU8(value, kIdentityFormat);
  value += identity;
  value += CheckValue(master, identity);
  rocksdb::WriteBatch batch;
  batch.Put(database.cf(Family::kTenants), IdentityRowKey(), value)
      .PermitUncheckedError();
  return database.WriteSynced(batch);
}

}  // namespace siteledger::storage::internal
